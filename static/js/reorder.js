/* Drag-to-reorder for a list of rows, shared by the routing rules and escalation steps pages.
 *
 * SignalCraftReorder.attach(list, options) makes the rows of `list` draggable:
 *   options.rows()         the rows, in their current order
 *   options.handle(row)    the element to drag the row by (the row itself, or null: not movable)
 *   options.key(row)       what identifies the row in the order (set as the drag data)
 *   options.dropped(row)   called after `row` was dropped in a new place (the DOM is reordered)
 * While dragging, the row under the pointer gets "drop-before" or "drop-after" and the
 * dragged one "is-dragging" (styled in app.css). Each page keeps its own way of saving and its
 * move up/down buttons, which work without JavaScript.
 */
(function () {
  "use strict";

  function attach(list, options) {
    var dragged = null;

    function clearMarks() {
      options.rows().forEach(function (row) { row.classList.remove("drop-before", "drop-after"); });
    }

    function below(row, event) {
      var box = row.getBoundingClientRect();
      return event.clientY > box.top + box.height / 2;
    }

    function order() {
      return options.rows().map(options.key).join(",");
    }

    options.rows().forEach(function (row) {
      var handle = options.handle(row);
      if (!handle) return;
      handle.setAttribute("draggable", "true");

      handle.addEventListener("dragstart", function (event) {
        dragged = row;
        row.classList.add("is-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", options.key(row));
        if (handle !== row && event.dataTransfer.setDragImage) event.dataTransfer.setDragImage(row, 16, 16);
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
        var was = order();
        clearMarks();
        list.insertBefore(dragged, before ? row : row.nextSibling);
        if (order() !== was) options.dropped(dragged);
      });
    });
  }

  window.SignalCraftReorder = { attach: attach };
})();
