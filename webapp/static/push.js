// Web Push on this device: the settings page's on/off buttons, a fresh bell when a push arrives, and push
// turned off for this browser when its user logs out (so the next person here does not see their notices).
(function () {
  "use strict";
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  var ON = "Notifications are on for this device.";
  var OFF = "Notifications are off for this device.";
  var BLOCKED = "Notifications are blocked for this site in your browser's settings.";

  function keyBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function sameKey(buffer, bytes) {
    if (!buffer) { return false; }
    var a = new Uint8Array(buffer);
    if (a.length !== bytes.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== bytes[i]) { return false; } }
    return true;
  }

  function postJSON(url, token, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error((data.error && data.error.message) || "Lessonbook could not be reached."); }
        return data;
      });
    });
  }

  function currentSubscription() {
    return navigator.serviceWorker.getRegistration("/").then(function (registration) {
      return registration ? registration.pushManager.getSubscription() : null;
    });
  }

  // Forget the subscription on the server (when it is ours), then in the browser either way.
  function turnOff(url, token, subscription) {
    return postJSON(url, token, { endpoint: subscription.endpoint }).catch(function () {})
      .then(function () { return subscription.unsubscribe(); });
  }

  function setUpSettings(section) {
    var status = section.querySelector("[data-push-status]");
    var on = section.querySelector("[data-push-subscribe]");
    var off = section.querySelector("[data-push-unsubscribe]");
    var token = section.dataset.csrfToken;
    function show(text, subscribed) {
      status.textContent = text;
      on.hidden = subscribed;
      off.hidden = !subscribed;
    }
    if (!supported) { status.textContent = "This browser cannot show notifications from Lessonbook."; return; }
    currentSubscription().then(function (subscription) {
      if (!subscription && Notification.permission === "denied") {
        status.textContent = BLOCKED;
        return;
      }
      show(subscription ? ON : OFF, !!subscription);
    }).catch(function () { show(OFF, false); });

    on.addEventListener("click", function () {
      on.disabled = true;
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") { throw new Error(BLOCKED); }
        return Promise.all([
          navigator.serviceWorker.register(section.dataset.workerUrl, { scope: "/" }).then(function () {
            return navigator.serviceWorker.ready;
          }),
          fetch(section.dataset.keyUrl, { headers: { "Accept": "application/json" } }).then(function (r) { return r.json(); }),
        ]);
      }).then(function (results) {
        var registration = results[0], key = keyBytes(results[1].publicKey);
        return registration.pushManager.getSubscription().then(function (existing) {
          // A subscription made with an older server key cannot receive our messages: replace it.
          if (existing && !sameKey(existing.options.applicationServerKey, key)) {
            return existing.unsubscribe().then(function () { return null; });
          }
          return existing;
        }).then(function (existing) {
          return existing || registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        });
      }).then(function (subscription) {
        return postJSON(section.dataset.subscribeUrl, token, subscription.toJSON());
      }).then(function () {
        show(ON, true);
      }).catch(function (error) {
        // The browser's own refusals (a DOMException) are technical; ours carry a message for people.
        var text = error instanceof DOMException
          ? (error.name === "NotAllowedError" ? BLOCKED : "This browser could not turn notifications on. Please try again later.")
          : error.message;
        show(text || "Notifications could not be turned on.", false);
      }).then(function () { on.disabled = false; });
    });

    off.addEventListener("click", function () {
      off.disabled = true;
      currentSubscription().then(function (subscription) {
        return subscription && turnOff(section.dataset.unsubscribeUrl, token, subscription);
      }).then(function () { show(OFF, false); }, function () { show("Notifications could not be turned off.", true); })
        .then(function () { off.disabled = false; });
    });
  }

  if (!supported) { return; }

  navigator.serviceWorker.addEventListener("message", function (event) {
    if (event.data && event.data.type === "lessonbook:notification" && window.htmx) {
      window.htmx.trigger(document.body, "notifications-changed");
    }
  });
  navigator.serviceWorker.startMessages();

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-push-logout]") || form.dataset.pushChecked) { return; }
    event.preventDefault();
    form.dataset.pushChecked = "1";
    var done = false;
    function logOut() { if (!done) { done = true; form.submit(); } }
    setTimeout(logOut, 2000);  // never keep anyone from logging out
    var token = (form.querySelector("input[name=csrf_token]") || {}).value || "";
    currentSubscription().then(function (subscription) {
      return subscription && turnOff(form.dataset.pushLogout, token, subscription);
    }).catch(function () {}).then(logOut);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.querySelector("[data-push-settings]");
    if (section) { setUpSettings(section); }
  });
})();
