// The lesson room's chat over a WebSocket. Without this file (or when no socket can be kept open) the page still
// chats: the form posts with htmx and #chat-poller asks for new messages every few seconds.
// Everything shown is set with textContent: a message is text, never markup.
(function () {
  "use strict";
  var RECONNECT_MAX_MS = 10000, FALLBACK_AFTER_FAILURES = 3, HERE_EVERY_MS = 30000, TYPING_EVERY_MS = 2000;

  function Chat(section) {
    this.section = section;
    this.log = section.querySelector("#chat-log");
    this.people = section.querySelector("#chat-people");
    this.last = parseInt(section.getAttribute("data-last-seq") || "0", 10) || 0;
    this.socket = null;
    this.failures = 0;
    this.ref = 0;
    this.lastTyping = 0;
    this.stopped = false;
    this.poller = section.querySelector("#chat-poller");
    this.pollerParent = this.poller ? this.poller.parentNode : null;
    this.typingTimer = null;
    this.me = section.getAttribute("data-me") || "";
  }

  Chat.prototype.start = function () {
    var self = this;
    this.watchWindow();
    // Enter sends, as in any chat (the socket, or htmx's post without one); Shift+Enter is a new line, and an IME
    // composing a word keeps its Enter.
    document.addEventListener("keydown", function (e) {
      if (!e.target || e.target.id !== "chat-input" || e.key !== "Enter") { return; }
      if (e.shiftKey || e.altKey || e.ctrlKey || e.metaKey || e.isComposing || e.keyCode === 229) { return; }
      e.preventDefault();
      var form = e.target.form, send = form && form.querySelector("#chat-send");
      if (form && !e.repeat && !(send && send.disabled)) { form.requestSubmit(); }  // not while one is on its way
    });
    if (this.section.getAttribute("data-state") !== "open" || !window.WebSocket) { return; }
    document.addEventListener("submit", function (e) { self.onSubmit(e); }, true);
    document.addEventListener("input", function (e) {
      if (e.target && e.target.id === "chat-input") { self.onTyping(); }
    });
    // The htmx poller appends server-rendered messages while the socket is down; a poll that was already on its way
    // when the socket came back may repeat some: keep each number once, in order, and count on from the last.
    ["htmx:afterSettle", "htmx:oobAfterSwap"].forEach(function (name) {
      document.addEventListener(name, function () { self.normalize(); });
    });
    this.hereTimer = window.setInterval(function () { self.sendFrame({ type: "here" }); }, HERE_EVERY_MS);
    this.connect();
  };

  Chat.prototype.normalize = function () {
    var seen = {}, items = Array.prototype.slice.call(this.log.querySelectorAll("li[data-seq]")), sorted = true, prev = 0;
    var log = this.log;
    items = items.filter(function (li) {
      var seq = parseInt(li.getAttribute("data-seq"), 10) || 0;
      if (seen[seq]) { log.removeChild(li); return false; }
      seen[seq] = true;
      if (seq < prev) { sorted = false; }
      prev = seq;
      return true;
    });
    if (!sorted) {
      items.sort(function (a, b) { return parseInt(a.getAttribute("data-seq"), 10) - parseInt(b.getAttribute("data-seq"), 10); });
      items.forEach(function (li) { log.appendChild(li); });
    }
    if (items.length) {
      this.last = Math.max(this.last, parseInt(items[items.length - 1].getAttribute("data-seq"), 10) || 0);
    }
  };

  Chat.prototype.connect = function () {
    var self = this, scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + this.section.getAttribute("data-socket-path") + "?after=" + this.last;
    var socket, opened = false;
    try { socket = new WebSocket(url); } catch (e) { this.retry(false); return; }
    this.socket = socket;
    socket.addEventListener("open", function () {
      opened = true;
      self.failures = 0;
      self.section.classList.add("chat-live");
      self.pausePolling();
    });
    socket.addEventListener("message", function (e) { self.onFrame(e.data); });
    socket.addEventListener("close", function () {
      if (self.socket === socket) { self.socket = null; }
      self.section.classList.remove("chat-live");
      if (self.pending) {
        self.showError("Not sent: the connection dropped. Send it again.");
        self.settle(self.pending.ref, false);
      }
      if (!self.stopped) { self.retry(opened); }
    });
  };

  // Back off and reconnect (the server backfills from this.last); after repeated failures, poll meanwhile.
  Chat.prototype.retry = function (hadOpened) {
    var self = this;
    this.failures = hadOpened ? 1 : this.failures + 1;
    if (this.failures >= FALLBACK_AFTER_FAILURES) { this.resumePolling(); }
    var wait = Math.min(RECONNECT_MAX_MS, 500 * Math.pow(2, this.failures - 1));
    window.setTimeout(function () { if (!self.stopped) { self.connect(); } }, wait);
  };

  Chat.prototype.pausePolling = function () {
    if (this.poller && this.poller.parentNode) { this.poller.parentNode.removeChild(this.poller); }
  };

  Chat.prototype.resumePolling = function () {
    var current = this.section.querySelector("#chat-poller");
    if (current || !this.poller || !this.pollerParent || !window.htmx) { return; }
    var url = new URL(this.poller.getAttribute("hx-get"), window.location.href);
    url.searchParams.set("after", String(this.last));
    var fresh = this.poller.cloneNode(false);
    fresh.setAttribute("hx-get", url.pathname + url.search);
    this.pollerParent.appendChild(fresh);
    this.poller = fresh;
    htmx.process(fresh);
  };

  Chat.prototype.sendFrame = function (frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) { return false; }
    this.socket.send(JSON.stringify(frame));
    return true;
  };

  Chat.prototype.onSubmit = function (e) {
    var form = e.target;
    if (!form || form.id !== "chat-form") { return; }
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) { return; }  // htmx (or a plain post) sends it
    e.preventDefault();
    e.stopPropagation();
    var input = form.querySelector("#chat-input"), body = input.value;
    this.ref += 1;
    this.pending = { ref: this.ref, input: input, button: form.querySelector("#chat-send") };
    this.pending.button.disabled = true;
    this.showError("");
    this.sendFrame({ type: "message", body: body, ref: this.ref });
  };

  Chat.prototype.onTyping = function () {
    var now = Date.now();
    if (now - this.lastTyping > TYPING_EVERY_MS) {
      this.lastTyping = now;
      this.sendFrame({ type: "typing" });
    }
  };

  Chat.prototype.showError = function (text) {
    var error = this.section.querySelector("#chat-error");
    if (error) { error.textContent = text; }
    var input = this.section.querySelector("#chat-input");
    if (input) {
      if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    }
  };

  Chat.prototype.settle = function (ref, clear) {
    if (!this.pending || this.pending.ref !== ref) { return; }
    if (clear) { this.pending.input.value = ""; }
    this.pending.button.disabled = false;
    this.pending.input.focus();
    this.pending = null;
  };

  Chat.prototype.onFrame = function (raw) {
    var data;
    try { data = JSON.parse(raw); } catch (e) { return; }
    if (data.type === "message") { this.append(data); }
    else if (data.type === "ack") { this.settle(data.ref, true); }
    else if (data.type === "error") { this.showError(data.message || "That message was not sent."); this.settle(data.ref, false); }
    else if (data.type === "people") { this.showPeople(data.here || [], data.typing || []); }
  };

  // The server sends each message once and in order; a number already shown (rendered, polled) is skipped.
  Chat.prototype.append = function (m) {
    if (m.seq <= this.last || document.getElementById("chat-" + m.seq)) { this.last = Math.max(this.last, m.seq); return; }
    var li = document.createElement("li"), meta = document.createElement("span"), author = document.createElement("span");
    var time = document.createElement("time"), body = document.createElement("span");
    li.className = "chat-message" + (m.mine ? " chat-mine" : "");
    li.id = "chat-" + m.seq;
    li.setAttribute("data-seq", String(m.seq));
    meta.className = "chat-meta";
    author.className = "chat-author";
    author.textContent = m.author;
    time.setAttribute("datetime", m.at);
    time.textContent = m.time;
    body.className = "chat-body";
    body.textContent = m.body;
    meta.appendChild(author);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(time);
    li.appendChild(meta);
    li.appendChild(body);
    this.log.appendChild(li);
    this.last = m.seq;
    li.scrollIntoView({ block: "nearest" });
  };

  Chat.prototype.showPeople = function (here, typing) {
    if (!this.people) { return; }
    var me = this.me, parts = [];
    typing = typing.filter(function (name) { return name !== me; });  // everyone else's typing, not your own
    if (here.length) { parts.push("In the room: " + here.join(", ") + "."); }
    if (typing.length) { parts.push(typing.join(", ") + (typing.length > 1 ? " are" : " is") + " typing…"); }
    this.people.textContent = parts.join(" ");
    var self = this;
    window.clearTimeout(this.typingTimer);
    if (typing.length) {  // typing notices are droppable: forget them if nothing refreshes them
      this.typingTimer = window.setTimeout(function () { self.showPeople(here, []); }, 6000);
    }
  };

  // At the window's edges the page is loaded again, so the server says what is allowed now. If the server does
  // not agree yet (clocks differ), ask again a little later.
  Chat.prototype.watchWindow = function () {
    var state = this.section.getAttribute("data-state"), edge = null;
    if (state === "not_yet_open") { edge = this.section.getAttribute("data-opens-at"); }
    else if (state === "open") { edge = this.section.getAttribute("data-closes-at"); }
    if (!edge) { return; }
    var wait = Date.parse(edge) - Date.now();
    if (isNaN(wait)) { return; }
    var self = this;
    window.setTimeout(function () {
      self.stopped = true;
      if (self.socket) { self.socket.close(); }
      window.location.reload();
    }, Math.max(wait, 0) + 1000 + (wait < 0 ? 2000 : 0));
  };

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("chat");
    if (section) { new Chat(section).start(); }
  });
})();
