/* The replay page (web/replays/player.html): fetch the events, mount rrweb-player.
 *
 *   [data-replay-player][data-events-url]   the card; gets data-state="ready" | "error"
 *   [data-player-mount]                     where the player goes (its width sets the size)
 *   [data-replay-status]                    loading / error text
 *   [data-marker][data-kind=alert]          linked alerts: added to the timeline as custom
 *     [data-offset-ms][data-label]          events tagged "alert" (page errors are already
 *                                           in the recording, tagged "error")
 *   [data-seek-ms]                          button: jump there (paused)
 *
 * Keys: "k" play/pause, "." skip inactivity on/off. rrweb-player's own controller has play,
 * pause, speed, skip inactivity and the timeline with the marks.
 */
(function () {
  "use strict";

  var card = document.querySelector("[data-replay-player]");
  if (!card || !window.rrwebPlayer) return;
  var mount = card.querySelector("[data-player-mount]");
  var status = card.querySelector("[data-replay-status]");
  var TAGS = { error: "#dc2626", alert: "#d97706" };

  function fail(message) {
    card.setAttribute("data-state", "error");
    if (status) status.textContent = message;
  }

  function withAlertMarks(events) {
    if (!events.length) return events;
    var start = events.reduce(function (min, e) { return Math.min(min, e.timestamp); }, Infinity);
    document.querySelectorAll("[data-marker][data-kind=alert]").forEach(function (el) {
      events.push({ type: 5, timestamp: start + Number(el.getAttribute("data-offset-ms")),
        data: { tag: "alert", payload: { title: el.getAttribute("data-label") } } });
    });
    return events.map(function (e, i) { return [e, i]; })
      .sort(function (a, b) { return a[0].timestamp - b[0].timestamp || a[1] - b[1]; })
      .map(function (pair) { return pair[0]; });
  }

  function start(events) {
    if (events.length < 2) { fail("This replay holds too few events to play."); return; }
    var width = Math.max(320, mount.clientWidth);
    var height = Math.min(Math.round(width * 9 / 16), Math.round(window.innerHeight * 0.7));
    if (status) status.remove();
    var player = new window.rrwebPlayer.Player({
      target: mount,
      props: {
        events: withAlertMarks(events),
        width: width,
        height: height,
        autoPlay: false,
        skipInactive: true,
        showController: true,
        speedOption: [1, 2, 4, 8],
        tags: TAGS,
        mouseTail: false
      }
    });
    document.querySelectorAll("[data-seek-ms]").forEach(function (button) {
      button.addEventListener("click", function () {
        player.goto(Number(button.getAttribute("data-seek-ms")), false);
        mount.scrollIntoView({ block: "nearest" });
      });
    });
    var shortcuts = window.SignalCraft && window.SignalCraft.shortcuts;
    if (shortcuts) {
      shortcuts.register("k", "Play or pause", function () { player.toggle(); }, "Replay");
      shortcuts.register(".", "Skip inactivity on or off", function () { player.toggleSkipInactive(); }, "Replay");
    }
    card.setAttribute("data-state", "ready");
  }

  window.fetch(card.getAttribute("data-events-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("the server answered " + response.status);
      return response.json();
    })
    .then(start)
    .catch(function (err) { fail("Cannot load this replay: " + err.message); });
})();
