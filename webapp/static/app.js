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
  document.addEventListener("DOMContentLoaded", function () {
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
})();
