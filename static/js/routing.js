/* Routing rules: drag a row to change the evaluation order (static/js/reorder.js does the drag).
 *
 * Reads:  tbody[data-rule-list] > tr[data-rule-id]   the rules, in order (only for people
 *                                                     who may configure routing)
 *         form[data-rule-order] input[name=order]     the reorder form (POST .../routing/order)
 * On drop the new order (rule ids, comma-separated) is written into the form and submitted;
 * the server checks it names each rule exactly once and answers with the list page.
 * Without JavaScript the "move up/down" buttons of each row do the same, one step at a time.
 */
(function () {
  "use strict";

  function init() {
    var list = document.querySelector("tbody[data-rule-list]");
    var form = document.querySelector("form[data-rule-order]");
    if (!list || !form || !window.SignalCraftReorder) return;

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("tr[data-rule-id]"));
    }

    function save() {
      var ids = rows().map(function (row) { return row.getAttribute("data-rule-id"); });
      var input = form.querySelector('input[name="order"]');
      if (input.value === ids.join(",")) return;
      input.value = ids.join(",");
      rows().forEach(function (row, i) {
        var pos = row.querySelector(".rule-pos");
        if (pos) pos.textContent = String(i + 1);
      });
      var live = document.getElementById("live-region");
      if (live) live.textContent = "Saving the new rule order";
      form.submit();
    }

    window.SignalCraftReorder.attach(list, {
      rows: rows,
      handle: function (row) { return row; },
      key: function (row) { return row.getAttribute("data-rule-id"); },
      dropped: save
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
