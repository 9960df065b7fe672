/* Routing rules: drag a row to change the evaluation order.
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
    if (!list || !form) return;
    var dragged = null;

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("tr[data-rule-id]"));
    }

    function clearMarks() {
      rows().forEach(function (row) {
        row.classList.remove("drop-before", "drop-after");
      });
    }

    function below(row, event) {
      var box = row.getBoundingClientRect();
      return event.clientY > box.top + box.height / 2;
    }

    rows().forEach(function (row) {
      row.setAttribute("draggable", "true");

      row.addEventListener("dragstart", function (event) {
        dragged = row;
        row.classList.add("is-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", row.getAttribute("data-rule-id"));
      });

      row.addEventListener("dragend", function () {
        row.classList.remove("is-dragging");
        clearMarks();
        dragged = null;
      });

      row.addEventListener("dragover", function (event) {
        if (!dragged || dragged === row) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        clearMarks();
        row.classList.add(below(row, event) ? "drop-after" : "drop-before");
      });

      row.addEventListener("drop", function (event) {
        if (!dragged || dragged === row) return;
        event.preventDefault();
        var before = row.classList.contains("drop-before");
        clearMarks();
        list.insertBefore(dragged, before ? row : row.nextSibling);
        save();
      });
    });

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
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
