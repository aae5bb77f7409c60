// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  function fillZones(root) {
    var zone = browserZone();
    root.querySelectorAll("[data-detect-zone]").forEach(function (input) {
      if (!input.value && zone) { input.value = zone; }
    });
    root.querySelectorAll("[data-browser-zone]").forEach(function (el) { el.textContent = zone || "unknown"; });
  }
  function syncAddress(form) {
    var type = form.querySelector("select[name=lesson_type]");
    var box = form.querySelector("[data-show-for=in_person]");
    if (type && box) { box.hidden = type.value !== "in_person"; }
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
  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    fillZones(document);
    var picker = document.getElementById("picker-form");
    if (picker) {
      syncAddress(picker);
      picker.addEventListener("change", function (e) {
        syncAddress(picker);
        // A new subject, duration or place starts again from the first week.
        if (e.target.name !== "week") { var w = picker.querySelector("input[name=week]"); if (w) { w.value = ""; } }
      });
      // An anonymous visitor's zone is detected in the browser: reload the picker in that zone once.
      var tz = picker.querySelector("input[name=tz][data-detect-zone]");
      if (tz && tz.value && window.htmx) { htmx.trigger(picker, "change"); }
    }
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
})();
