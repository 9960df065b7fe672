/* Escalation policy form: drag a step by its handle to change the order (static/js/reorder.js
 * does the drag).
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
    if (!list || !submit || !window.SignalCraftReorder) return;

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("li[data-step]"));
    }

    function key(row) {
      return row.getAttribute("data-step");
    }

    function save(row) {
      var action = submit.getAttribute("formaction").split("?")[0];
      submit.value = rows().map(key).join(",");
      submit.setAttribute("formaction", action + "?moved=" + key(row));
      var live = document.getElementById("live-region");
      if (live) live.textContent = "Saving the new step order";
      var form = submit.form;
      if (form.requestSubmit) {
        form.requestSubmit(submit);
      } else {
        submit.click();
      }
    }

    window.SignalCraftReorder.attach(list, {
      rows: rows,
      handle: function (row) {
        return row.classList.contains("is-movable") ? row.querySelector("[data-drag-handle]") : null;
      },
      key: key,
      dropped: save
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
