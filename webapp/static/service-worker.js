// Lessonbook's service worker: shows Web Push messages and opens their page when clicked.
// It has no fetch handler on purpose: pages always come from the network, never from a cache.
"use strict";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// Only pages of this site are opened; anything else falls back to the notification centre.
function pageUrl(url) {
  try {
    var resolved = new URL(url || "/notifications", self.location.origin);
    return resolved.origin === self.location.origin ? resolved.href : self.location.origin + "/notifications";
  } catch (e) {
    return self.location.origin + "/notifications";
  }
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  var shown = self.registration.showNotification(data.title || "Lessonbook", {
    body: data.body || "",
    data: { url: pageUrl(data.url) },
  });
  // Open pages refresh their bell at once instead of at the next poll.
  var told = self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    windows.forEach(function (client) { client.postMessage({ type: "lessonbook:notification" }); });
  });
  event.waitUntil(Promise.all([shown, told]));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || pageUrl("/notifications");
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === url && "focus" in windows[i]) { return windows[i].focus(); }
    }
    return self.clients.openWindow(url);
  }));
});
