/* SignalCraft session recorder: records what a visitor sees and does with rrweb and sends it
 * to a SignalCraft instance. Add it to every page with ONE tag (docs/replays.md):
 *
 *   <script src="https://signalcraft.example.com/static/replay/recorder.js" data-key="scr_..." async></script>
 *
 * - The key is public; SignalCraft accepts events only from the workspace's allowed origins.
 * - It asks SignalCraft for the sampling rate, decides once per session (per tab, kept in
 *   sessionStorage across page loads), and only then loads rrweb's recorder
 *   (vendor/rrweb/record.min.js, next to this file).
 * - Privacy by default: every input value is masked; text inside [data-private] is masked and
 *   [data-private-block] elements are not recorded at all.
 * - Events are batched and sent every few seconds and when the page is hidden, with
 *   fetch(..., {keepalive: true}) (browsers allow 64 KB of keepalive bodies in flight, so a
 *   bigger batch goes without it). Bodies are text/plain JSON: a "simple" CORS request, no
 *   preflight. Each batch has a sequence number; a batch that failed on the network is
 *   resent with the same number (the server keeps the first copy).
 * - Page errors (window "error", "unhandledrejection") become rrweb custom events tagged
 *   "error": they are the red marks on the player's timeline.
 *
 * API, for tagging errors and logs with the session:
 *   window.SignalCraftReplay.sessionId            null until recording starts
 *   window.SignalCraftReplay.onSession(fn)        fn(sessionId) once recording starts
 *   window.SignalCraftReplay.identify(userId)     attach your user id to the session
 *   window.SignalCraftReplay.addEvent(tag, data)  a custom event on the timeline
 *   window.SignalCraftReplay.flush()              send now; a Promise
 *   window.SignalCraftReplay.stop()
 *   document event "signalcraft:replay"           detail.sessionId, when recording starts
 * e.g. SignalCraftReplay.onSession(function (id) { Sentry.setTag("replay_id", id); });
 */
(function () {
  "use strict";

  if (window.SignalCraftReplay) return;
  var script = document.currentScript;
  if (!script || !script.src) return;
  var key = script.getAttribute("data-key") || "";
  var src = script.src;
  var base = src.slice(0, src.indexOf("/static/replay/recorder.js"));
  if (!key || !base) return;

  var KEEPALIVE_MAX = 60000;
  var MAX_PENDING = 50;
  var MAX_BUFFER = 20000;
  var STORE_KEY = "signalcraft.replay." + key;
  var encoder = new TextEncoder();

  var config = null;
  var session = null; // {id, seq, last}
  var buffer = [];
  var pending = []; // [{seq, body}] built but not yet accepted
  var inFlight = 0;
  var userId = "";
  var stopRecording = null;
  var listeners = [];
  var timer = null;
  var waiters = [];

  var api = {
    sessionId: null,
    recording: false,
    onSession: function (fn) {
      if (api.sessionId) fn(api.sessionId);
      else listeners.push(fn);
    },
    identify: function (id) { userId = String(id || "").slice(0, 200); },
    addEvent: function (tag, data) {
      if (api.recording) window.rrwebRecord.record.addCustomEvent(String(tag), data);
    },
    flush: function () { return flush(false); },
    stop: function () { stop(); }
  };
  window.SignalCraftReplay = api;

  function now() { return Date.now(); }

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function loadSession() {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (stored && now() - stored.last < config.inactivity_minutes * 60000) return stored;
    } catch (err) { /* storage disabled or damaged: a new session */ }
    return null;
  }

  function saveSession() {
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(session)); } catch (err) { /* ignore */ }
  }

  function newSession() {
    session = { id: randomId(), seq: 0, last: now(), sampled: Math.random() * 100 < config.sample_rate };
    saveSession();
  }

  function url(path) { return base + "/replay/" + encodeURIComponent(key) + path; }

  /* ----------------------------------------------------------------- sending */

  function chunkBodies(events) {
    var limit = config.max_chunk_bytes - 2048; // room for seq and user_id
    var bodies = [];
    var parts = [];
    var size = 0;
    events.forEach(function (event) {
      var text = JSON.stringify(event);
      var bytes = encoder.encode(text).length;
      if (bytes > limit) {
        text = JSON.stringify({ type: 5, timestamp: event.timestamp,
          data: { tag: "signalcraft", payload: { dropped: "event larger than max_chunk_bytes", type: event.type } } });
        bytes = text.length;
      }
      if (parts.length && size + bytes + 1 > limit) {
        bodies.push(parts);
        parts = [];
        size = 0;
      }
      parts.push(text);
      size += bytes + 1;
    });
    if (parts.length) bodies.push(parts);
    return bodies.map(function (p) {
      var seq = session.seq++;
      var head = '{"seq":' + seq + (userId ? ',"user_id":' + JSON.stringify(userId) : "") + ',"events":[';
      return { sid: session.id, seq: seq, body: head + p.join(",") + "]}", sending: false };
    });
  }

  function send(chunk, leaving) {
    var bytes = encoder.encode(chunk.body);
    chunk.sending = true;
    inFlight++;
    return window.fetch(url("/sessions/" + chunk.sid + "/chunks"), {
      method: "POST",
      body: bytes,
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      credentials: "omit",
      mode: "cors",
      keepalive: leaving && bytes.length <= KEEPALIVE_MAX
    }).then(function (response) {
      var status = response.status;
      chunk.sending = false;
      if (status >= 500 && status !== 507) return; // an outage: sent again on the next flush
      pending = pending.filter(function (c) { return c !== chunk; });
      if (status === 409 && chunk.sid === session.id) restartSession();
      else if (status === 403 || status === 404 || status === 507) stop();
    }, function () {
      chunk.sending = false; // network error: sent again, same seq, on the next flush
    }).then(function () {
      inFlight--;
      if (!inFlight) waiters.splice(0).forEach(function (resolve) { resolve(); });
    });
  }

  function flush(leaving) {
    if (!session || !session.sampled) return Promise.resolve();
    if (buffer.length) {
      pending = pending.concat(chunkBodies(buffer.splice(0)));
      if (pending.length > MAX_PENDING) pending = pending.slice(-MAX_PENDING);
      saveSession();
    }
    pending.forEach(function (chunk) { if (!chunk.sending) send(chunk, leaving); });
    if (!inFlight) return Promise.resolve();
    return new Promise(function (resolve) { waiters.push(resolve); });
  }

  function restartSession() {
    newSession();
    session.sampled = true;
    saveSession();
    announce();
    if (api.recording) window.rrwebRecord.record.takeFullSnapshot(true);
  }

  /* ----------------------------------------------------------------- recording */

  function onEvent(event) {
    if (buffer.length >= MAX_BUFFER) buffer.shift();
    buffer.push(event);
    session.last = now();
  }

  function announce() {
    api.sessionId = session.id;
    listeners.splice(0).forEach(function (fn) { fn(session.id); });
    document.dispatchEvent(new CustomEvent("signalcraft:replay", { detail: { sessionId: session.id } }));
  }

  function onError(event) {
    api.addEvent("error", { message: String(event.message || "error"), source: event.filename || "",
      line: event.lineno || 0 });
  }

  function onRejection(event) {
    var reason = event.reason;
    api.addEvent("error", { message: "Unhandled rejection: " + String(reason && reason.message || reason) });
  }

  function onHidden() {
    if (document.visibilityState === "hidden") flush(true);
  }

  function onPageHide() { flush(true); }

  function start() {
    stopRecording = window.rrwebRecord.record({
      emit: onEvent,
      maskAllInputs: true,
      maskTextSelector: "[data-private]",
      blockSelector: "[data-private-block]",
      inlineStylesheet: true,
      recordCanvas: false,
      collectFonts: false,
      sampling: { mousemove: 50, scroll: 150, media: 800, input: "last" },
      slimDOMOptions: { script: true, comment: true, headFavicon: true, headWhitespace: true,
        headMetaSocial: true, headMetaRobots: true, headMetaHttpEquiv: true, headMetaAuthorship: true,
        headMetaVerification: true }
    });
    api.recording = true;
    window.addEventListener("error", onError);
    window.addEventListener("unhandledrejection", onRejection);
    document.addEventListener("visibilitychange", onHidden);
    window.addEventListener("pagehide", onPageHide);
    timer = window.setInterval(function () { flush(false); }, config.flush_ms);
    announce();
  }

  function stop() {
    if (stopRecording) stopRecording();
    stopRecording = null;
    api.recording = false;
    window.clearInterval(timer);
    window.removeEventListener("error", onError);
    window.removeEventListener("unhandledrejection", onRejection);
    document.removeEventListener("visibilitychange", onHidden);
    window.removeEventListener("pagehide", onPageHide);
    buffer = [];
    pending = [];
  }

  function loadRecorder() {
    if (window.rrwebRecord) { start(); return; }
    var tag = document.createElement("script");
    tag.src = base + "/static/vendor/rrweb/record.min.js";
    tag.async = true;
    tag.onload = start;
    (document.head || document.documentElement).appendChild(tag);
  }

  window.fetch(url("/config"), { credentials: "omit", mode: "cors" }).then(function (response) {
    if (!response.ok) throw new Error("SignalCraft replay: HTTP " + response.status);
    return response.json();
  }).then(function (body) {
    config = body;
    session = loadSession();
    if (!session) newSession();
    if (session.sampled) loadRecorder();
  }).catch(function (err) {
    if (window.console) window.console.info(String(err));
  });
})();
