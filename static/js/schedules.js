/* Schedule timeline: names that fit their bars, and who/when of a tapped bar.
 *
 * Reads:  svg.timeline g.tl-bar > rect, title, text.tl-label[data-full][data-short]
 *         [data-tl-detail]                     where the tapped bar's title is written
 * The server writes each name as it fits the narrowest chart (a phone); here each label is
 * measured against its bar as drawn: the full name if it fits, else the initials, else
 * nothing (the legend's colours and the bar's title still say who). Again on resize.
 * A bar's <title> is a tooltip for a mouse only, so a tap (click) on a bar also writes that
 * title below the chart.
 */
(function () {
  "use strict";

  var PADDING = 8; // 4px either side, as dx="4" in the template

  function fit(svg) {
    svg.querySelectorAll("g.tl-bar").forEach(function (bar) {
      var rect = bar.querySelector("rect");
      var text = bar.querySelector("text.tl-label");
      if (!rect || !text) return;
      var room = rect.getBoundingClientRect().width - PADDING;
      var choices = [text.getAttribute("data-full"), text.getAttribute("data-short"), ""];
      for (var i = 0; i < choices.length; i++) {
        text.textContent = choices[i];
        if (!choices[i] || text.getComputedTextLength() <= room) break;
      }
    });
  }

  function init() {
    var svg = document.querySelector("svg.timeline");
    if (!svg) return;
    var detail = document.querySelector("[data-tl-detail]");
    fit(svg);
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) window.cancelAnimationFrame(pending);
      pending = window.requestAnimationFrame(function () { fit(svg); });
    });
    if (!detail) return;
    svg.addEventListener("click", function (event) {
      var bar = event.target.closest ? event.target.closest("g.tl-bar") : null;
      if (!bar) return;
      svg.querySelectorAll("g.tl-bar.is-picked").forEach(function (b) { b.classList.remove("is-picked"); });
      bar.classList.add("is-picked");
      var title = bar.querySelector("title");
      detail.textContent = title ? title.textContent : "";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
