// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  function fillZones(root) {
    var zone = browserZone();
    root.querySelectorAll("input[data-detect-zone]").forEach(function (input) {
      if (!input.value && zone) { input.value = zone; }
    });
    root.querySelectorAll("[data-browser-zone]").forEach(function (el) { el.textContent = zone || "unknown"; });
  }
  // On phones the navigation folds behind a Menu button (CSS shows the button only when this ran).
  function setUpMenu() {
    var button = document.querySelector(".menu-toggle"), nav = document.getElementById("site-nav");
    if (!button || !nav) { return; }
    document.documentElement.classList.add("js-menu");
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    });
  }
  // A select shown through a face (the booker's subject on phones): the face says the chosen option at once.
  document.addEventListener("change", function (e) {
    var select = e.target, face = select.dataset && select.dataset.selectFace && document.getElementById(select.dataset.selectFace);
    if (face && select.selectedIndex >= 0) { face.textContent = select.options[select.selectedIndex].text; }
  });
  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    fillZones(document);
    detectBookerPreferences();
  });

  // --- The booker ---------------------------------------------------------------------------------------
  // An anonymous visitor's zone and 12/24-hour clock come from the browser (its zone, and its locale's hour
  // cycle) when the URL and the remembered choice name none: reload the booker once with them, and put them in the
  // URL so the links and the log-in return keep them. (Without JavaScript the server shows UTC and 24 hours.)
  function browserClock() {
    try {
      var cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle || "";
      return cycle === "h11" || cycle === "h12" ? "12" : cycle ? "24" : "";
    } catch (e) { return ""; }
  }
  function detectBookerPreferences() {
    var booker = document.getElementById("slot-picker");
    if (!booker || !window.htmx) { return; }
    var url = new URL(window.location.href), wanted = {};
    if (booker.hasAttribute("data-detect-zone") && !url.searchParams.get("tz")) { wanted.tz = browserZone(); }
    if (booker.hasAttribute("data-detect-clock") && !url.searchParams.get("clock")) { wanted.clock = browserClock(); }
    var changed = false;
    Object.keys(wanted).forEach(function (name) {
      if (wanted[name]) { url.searchParams.set(name, wanted[name]); changed = true; }
    });
    if (!changed) { return; }
    var target = url.pathname.replace(/\/slots$/, "") + url.search;
    htmx.ajax("GET", target, { target: "#slot-picker", swap: "outerHTML" }).then(function () {
      window.history.replaceState(window.history.state, "", target + url.hash);
    });
  }
  // Focus stays where the user was: htmx refocuses an element with the same id; a day link sends focus on to the
  // times; if the focused control is gone (no earlier month), focus goes to the nearest thing that is there.
  var focusAfter = null, focusedId = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    focusAfter = elt && elt.getAttribute ? elt.getAttribute("data-focus-after") : null;
    focusedId = document.activeElement && document.activeElement.id ? document.activeElement.id : null;
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var booker = document.getElementById("slot-picker");
    if (booker && e.detail.target && e.detail.target.id === "slot-picker") {
      var announce = document.getElementById("booker-announce");
      if (announce) { announce.textContent = booker.getAttribute("data-announce") || ""; }
    }
    var wanted = focusAfter && document.getElementById(focusAfter);
    focusAfter = null;
    if (wanted) { wanted.focus(); return; }
    var active = document.activeElement;
    if (active && active !== document.body) { return; }
    var same = focusedId && document.getElementById(focusedId);
    if (same) { same.focus(); return; }
    if (focusedId === "booker-prev-month" || focusedId === "booker-next-month") {
      var other = document.getElementById(focusedId === "booker-prev-month" ? "booker-next-month" : "booker-prev-month");
      (other || document.getElementById("booker-month-label") || document.body).focus();
    }
  });
  // The calendar is one stop for Tab (the chosen day, else the first free one): the arrow keys walk the days, so
  // a keyboard user reaches the times without tabbing through every day of the month. Without this script every
  // day stays a tab stop, as the arrow keys need it too.
  function roveDays(root) {
    var days = Array.prototype.slice.call((root || document).querySelectorAll("#slot-picker a.cal-day[data-date]"));
    var current = days.filter(function (d) { return d.getAttribute("aria-current") === "true"; })[0] || days[0];
    days.forEach(function (d) { d.tabIndex = d === current ? 0 : -1; });
  }
  document.addEventListener("DOMContentLoaded", function () { roveDays(document); });
  document.addEventListener("htmx:afterSwap", function () { roveDays(document); });
  // Arrow keys move between the calendar's free days (Left/Right: previous/next; Up/Down: a week, or the nearest).
  document.addEventListener("keydown", function (e) {
    var link = e.target.closest ? e.target.closest("a.cal-day[data-date]") : null;
    if (!link || ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].indexOf(e.key) < 0) { return; }
    var days = Array.prototype.slice.call(document.querySelectorAll("#slot-picker a.cal-day[data-date]"));
    var i = days.indexOf(link), next = null;
    if (e.key === "ArrowLeft") { next = days[i - 1]; }
    else if (e.key === "ArrowRight") { next = days[i + 1]; }
    else if (e.key === "Home") { next = days[0]; }
    else if (e.key === "End") { next = days[days.length - 1]; }
    else {
      var step = e.key === "ArrowDown" ? 7 : -7, when = new Date(link.getAttribute("data-date") + "T12:00:00Z");
      when.setUTCDate(when.getUTCDate() + step);
      var iso = when.toISOString().slice(0, 10);
      next = days.filter(function (d) { return d.getAttribute("data-date") === iso; })[0]
        || (step > 0 ? days.filter(function (d) { return d.getAttribute("data-date") > iso; })[0]
                     : days.filter(function (d) { return d.getAttribute("data-date") < iso; }).pop());
    }
    if (next) { e.preventDefault(); link.tabIndex = -1; next.tabIndex = 0; next.focus(); }
  });

  // --- Every form: no second submit while the first is on its way -------------------------------------------
  // A plain form: the first submit goes; its buttons are disabled just after (a disabled submitter would drop its
  // name=value from the request) and any further submit is ignored. Back (bfcache) or a download gives them back.
  function setBusy(buttons, busy) {
    buttons.forEach(function (b) {
      if (busy) { b.disabled = true; b.setAttribute("aria-busy", "true"); }
      else { b.disabled = false; b.removeAttribute("aria-busy"); }
    });
  }
  function buttonsOf(elt) {
    if (!elt || !elt.querySelectorAll) { return []; }
    if (elt.matches("button, input[type=submit]")) { return [elt]; }
    return Array.prototype.slice.call(elt.querySelectorAll("button:not([disabled]), input[type=submit]:not([disabled])"));
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.getAttribute("data-submitting")) { e.preventDefault(); return; }
    if (e.defaultPrevented || form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) { return; }
    form.setAttribute("data-submitting", "1");
    var buttons = buttonsOf(form);
    window.setTimeout(function () { setBusy(buttons, true); }, 0);
    // A response that is not a new page (a file download) never unloads this one: give the buttons back.
    window.setTimeout(function () { form.removeAttribute("data-submitting"); setBusy(buttons, false); }, 15000);
  });
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) { return; }
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      form.removeAttribute("data-submitting");
      setBusy(Array.prototype.slice.call(form.querySelectorAll("[aria-busy=true]")), false);
    });
  });
  // htmx requests: the same, from the request's start to its end (what hx-disabled-elt does, for every form).
  var busyButtons = new WeakMap();
  document.addEventListener("htmx:beforeRequest", function (e) {
    var buttons = buttonsOf(e.detail.elt);
    busyButtons.set(e.detail.xhr, buttons);
    setBusy(buttons, true);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    setBusy(busyButtons.get(e.detail.xhr) || [], false);
  });

  document.addEventListener("htmx:afterSwap", function (e) { fillZones(e.target); });
  // The bell catches up when this tab is shown again (an htmx trigger filter would need eval, which the CSP forbids).
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && window.htmx) { htmx.trigger(document.body, "notifications-changed"); }
  });
  // Errors htmx does not swap in (403, 404, 409, 429, 500, an expired form token) still get words on screen.
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr, text = "Something went wrong; nothing was changed. Please reload and try again.";
    if (xhr.status === 400) { text = "Your form expired. Reload the page and try again."; }
    else if (xhr.status === 403) { text = "You are not allowed to do that."; }
    else if (xhr.status === 404) { text = "That is no longer there. Reload the page to see the latest."; }
    else if (xhr.status === 429) { text = "Too many attempts. Please wait a minute and try again."; }
    var main = document.querySelector("main"), flash = document.getElementById("htmx-error");
    if (!flash) {
      flash = document.createElement("p");
      flash.id = "htmx-error"; flash.className = "flash flash-error"; flash.setAttribute("role", "alert");
      main.insertBefore(flash, main.firstChild);
    }
    flash.textContent = text;
  });
  document.addEventListener("htmx:sendError", function () {
    var main = document.querySelector("main");
    var flash = document.getElementById("htmx-error") || main.insertBefore(document.createElement("p"), main.firstChild);
    flash.id = "htmx-error"; flash.className = "flash flash-error"; flash.setAttribute("role", "alert");
    flash.textContent = "We could not reach Lessonbook. Check your connection and try again.";
  });
  // "Copy" beside a read-only address (the calendar feed): the clipboard where allowed, else the text selected.
  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-copy-target]") : null;
    if (!button) { return; }
    var input = document.querySelector(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    var status = button.parentNode.querySelector("[data-copy-status]");
    function done(text) { if (status) { status.textContent = text; } }
    input.focus();
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done("Copied."); },
        function () { done("Selected: press Ctrl+C (or Cmd+C) to copy."); });
    } else {
      done(document.execCommand && document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C (or Cmd+C) to copy.");
    }
  });
})();

// The question form shows only the fields of the chosen kind (all of them show without JavaScript).
(function () {
  "use strict";
  function showKind(form) {
    var select = form.querySelector("[data-question-kind]");
    if (!select) { return; }
    form.querySelectorAll("[data-kind-fields]").forEach(function (group) {
      group.hidden = group.getAttribute("data-kind-fields").split(" ").indexOf(select.value) < 0;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-question-form]").forEach(function (form) {
      showKind(form);
      form.querySelector("[data-question-kind]").addEventListener("change", function () { showKind(form); });
    });
  });
})();
