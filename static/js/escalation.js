/* Escalation policy form: drag a step by its handle to change the order.
 *
 * Reads:  ol[data-step-list] > li[data-step]       the form's step rows, in order (data-step =
 *                                                  the row number of its fields: step<n>_...)
 *         li.is-movable [data-drag-handle]         the handle of a saved step
 *         button[data-step-order]                  a hidden submit button of the form, posting
 *                                                  to .../order
 * On drop the new order (row numbers, comma-separated) becomes that button's value and the form
 * is submitted with it: the server saves the policy as shown, steps in that order, and answers
 * with the form again. The "move up/down" buttons of each step do the same one step at a time,
 * without JavaScript.
 */
(function () {
  "use strict";

  function init() {
    var list = document.querySelector("ol[data-step-list]");
    var submit = document.querySelector("button[data-step-order]");
    if (!list || !submit) return;
    var dragged = null;

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("li[data-step]"));
    }

    function movable() {
      return rows().filter(function (row) { return row.classList.contains("is-movable"); });
    }

    function clearMarks() {
      rows().forEach(function (row) { row.classList.remove("drop-before", "drop-after"); });
    }

    function below(row, event) {
      var box = row.getBoundingClientRect();
      return event.clientY > box.top + box.height / 2;
    }

    movable().forEach(function (row) {
      var handle = row.querySelector("[data-drag-handle]");
      if (!handle) return;
      handle.setAttribute("draggable", "true");

      handle.addEventListener("dragstart", function (event) {
        dragged = row;
        row.classList.add("is-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", row.getAttribute("data-step"));
        if (event.dataTransfer.setDragImage) event.dataTransfer.setDragImage(row, 16, 16);
      });

      handle.addEventListener("dragend", function () {
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
        var before_order = order();
        clearMarks();
        list.insertBefore(dragged, before ? row : row.nextSibling);
        if (order() !== before_order) save(dragged);
      });
    });

    function order() {
      return rows().map(function (row) { return row.getAttribute("data-step"); }).join(",");
    }

    function save(row) {
      var action = submit.getAttribute("formaction").split("?")[0];
      submit.value = order();
      submit.setAttribute("formaction", action + "?moved=" + row.getAttribute("data-step"));
      var live = document.getElementById("live-region");
      if (live) live.textContent = "Saving the new step order";
      var form = submit.form;
      if (form.requestSubmit) {
        form.requestSubmit(submit);
      } else {
        submit.click();
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
