/* The inbox and the alert group page: live updates, selection, bulk bar, keyboard actions.
 *
 * Loaded by web/inbox/inbox.html and web/alerts/group.html (after app.js and htmx). No
 * inline script anywhere (CSP script-src 'self'); behaviour hangs on data attributes:
 *
 *   [sse-connect] > [hx-trigger="sse:groups"]   the live stream (htmx SSE extension); each
 *                                                `groups` message ("12,15" or "reload") is
 *                                                turned into a `live-refresh` event on:
 *   [data-live-refresh]                          elements that re-fetch themselves (hx-get);
 *   [data-live-group="12"]                       ...only when that group changed
 *   [data-live-notice]                           shown instead when nothing refreshes (older page)
 *   [data-live-pending]                          set while a refresh waits for the user (see inUse)
 *   [data-live-status] [data-live-label]         the "Live" indicator (data-state)
 *   [data-inbox][data-base][data-page-url]       the inbox; [data-can-respond] enables a / r / x
 *   [data-row][data-group-id] [data-row-check]   rows and their checkboxes (form="bulk-form")
 *   [data-bulk-bar] [data-bulk-count] [data-select-all]   the bulk bar
 *   form[data-reset-on-success]                  cleared after a successful htmx post
 *   [data-toast]                                 where refusals (4xx) are shown
 */
(function () {
  "use strict";

  var freshIds = [];
  var kept = null; // {selected: id, checked: [ids]} across a refresh of the results
  var opened = false;

  function $(selector, scope) { return (scope || document).querySelector(selector); }
  function $all(selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); }

  /* ------------------------------------------------------------------ toast */
  var toastTimer = 0;
  function toast(text) {
    var box = $("[data-toast]");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { box.hidden = true; }, 6000);
  }

  function messageOf(xhr) {
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var el = doc.querySelector(".field-error, .form-error, .status-page p, [role=alert]");
      if (el && el.textContent.trim()) return el.textContent.trim();
    } catch (err) { /* not HTML */ }
    return "That did not work (" + xhr.status + "). Reload the page and try again.";
  }

  function signedOut(xhr) {
    try {
      return new URL(xhr.responseURL).pathname === "/login";
    } catch (err) {
      return false;
    }
  }

  /* ------------------------------------------------------------------ live status */
  var liveState = null; // [state, label]: re-applied to indicators that a swap brought back

  function setLive(state, label) {
    liveState = [state, label];
    $all("[data-live-status]").forEach(function (el) {
      el.setAttribute("data-state", state);
      var text = $("[data-live-label]", el);
      if (text) text.textContent = label;
    });
  }

  document.addEventListener("htmx:sseOpen", function () {
    setLive("live", "Live");
    if (opened) refreshAll(null); // reconnected: catch up on what we missed
    opened = true;
  });
  document.addEventListener("htmx:sseError", function () { setLive("reconnecting", "Reconnecting…"); });
  document.addEventListener("htmx:sseClose", function (event) {
    if (event.detail && event.detail.type === "message") setLive("closed", "Signed out: reload");
  });

  /* ------------------------------------------------------------------ live messages */
  function parseIds(data) {
    if (!data || data === "reload") return null;
    return data.split(",").filter(Boolean);
  }

  /* A region someone is working in (a menu open, a select changed, a date typed) is not
     replaced under their hands: its refresh waits until they are done (or submit, which
     brings a fresh copy anyway). Ticked rows and the note being written survive refreshes. */
  function selectChanged(select) {
    var initial = 0;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].defaultSelected) { initial = i; break; }
    }
    return select.selectedIndex !== initial;
  }

  function inUse(region) {
    if ($("details[open]", region)) return true;
    return $all("select, input, textarea", region).some(function (field) {
      if (field.closest("[hx-preserve]") || field.type === "hidden" || field.type === "checkbox") return false;
      return field.tagName === "SELECT" ? selectChanged(field) : field.value !== field.defaultValue;
    });
  }

  function refresh(region) {
    if (inUse(region)) {
      region.setAttribute("data-live-pending", "");
      return;
    }
    region.removeAttribute("data-live-pending");
    window.htmx.trigger(region, "live-refresh");
  }

  window.setInterval(function () { $all("[data-live-pending]").forEach(refresh); }, 2000);

  function refreshAll(ids) {
    var targets = $all("[data-live-refresh]").filter(function (el) {
      var group = el.getAttribute("data-live-group");
      return !group || ids === null || ids.indexOf(group) >= 0;
    });
    targets.forEach(refresh);
    if (!$("[data-live-refresh]")) {
      $all("[data-live-notice]").forEach(function (el) { el.hidden = false; });
    }
  }

  document.addEventListener("htmx:sseMessage", function (event) {
    var data = event.detail && typeof event.detail.data === "string" ? event.detail.data : "";
    var ids = parseIds(data);
    freshIds = ids || [];
    refreshAll(ids);
  });

  /* ------------------------------------------------------------------ keep selection across refreshes */
  function rememberSelection() {
    var selected = $("#inbox-results [data-row].is-selected");
    kept = {
      selected: selected ? selected.getAttribute("data-group-id") : null,
      checked: $all("#inbox-results [data-row-check]:checked").map(function (box) { return box.value; })
    };
  }

  function restoreSelection() {
    if (!kept) return;
    $all("#inbox-results [data-row]").forEach(function (row) {
      var id = row.getAttribute("data-group-id");
      if (id === kept.selected) row.classList.add("is-selected");
      var box = $("[data-row-check]", row);
      if (box && kept.checked.indexOf(id) >= 0) box.checked = true;
    });
    kept = null;
  }

  function markFresh() {
    freshIds.forEach(function (id) {
      var row = $('#inbox-results [data-group-id="' + id.replace(/[^0-9]/g, "") + '"]');
      if (row) {
        row.classList.remove("is-fresh");
        void row.offsetWidth; // restart the animation
        row.classList.add("is-fresh");
      }
    });
    freshIds = [];
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var target = detail.target;
    if (detail.xhr && signedOut(detail.xhr)) {
      // The session ended: a redirect led to the sign-in page. Reload, which asks to sign in
      // and comes back here, instead of swapping the sign-in form into a table.
      detail.shouldSwap = false;
      window.location.reload();
      return;
    }
    if (detail.xhr && detail.xhr.status >= 400 && detail.xhr.status < 500) {
      kept = null;
      // A refused action: the group page shows the message next to its field; elsewhere, a toast.
      if (target && target.id === "group-live" && detail.xhr.status !== 404) {
        detail.shouldSwap = true;
        detail.isError = false;
      }
      toast(messageOf(detail.xhr));
      return;
    }
    var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    if (trigger && trigger.type === "live-refresh" && target && inUse(target)) {
      // The user started working in the region while the refresh was on its way.
      detail.shouldSwap = false;
      target.setAttribute("data-live-pending", "");
      return;
    }
    if (target && target.id === "inbox-results" && !kept) {
      rememberSelection();
      var source = detail.requestConfig && detail.requestConfig.elt;
      if (source && source.matches && source.matches("[data-bulk-bar]")) kept.checked = []; // done with them
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (liveState) setLive(liveState[0], liveState[1]);
    if ($("#inbox-results")) {
      restoreSelection();
      markFresh();
      updateBulkBar();
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form[data-reset-on-success]") && event.detail.successful) {
      form.reset();
    }
  });

  /* ------------------------------------------------------------------ bulk bar */
  function checkedBoxes() { return $all("[data-row-check]:checked"); }

  function updateBulkBar() {
    var bar = $("[data-bulk-bar]");
    if (!bar) return;
    var n = checkedBoxes().length;
    var all = $all("[data-row-check]");
    var count = $("[data-bulk-count]", bar);
    if (count) count.textContent = n ? n + " selected" : "Select";
    bar.classList.toggle("has-selection", n > 0);
    bar.classList.toggle("is-idle", n === 0);
    $all("[data-bulk-actions] button, [data-bulk-actions] select", bar).forEach(function (el) {
      el.disabled = n === 0;
    });
    var head = $("[data-select-all]", bar);
    if (head) {
      head.checked = n > 0 && n === all.length;
      head.indeterminate = n > 0 && n < all.length;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      $all("[data-row-check]").forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all], [data-row-check]")) updateBulkBar();
  });

  /* ------------------------------------------------------------------ keyboard actions in the inbox */
  function inbox() { return $("[data-inbox]"); }
  function selectedRow() { return $("#inbox-results [data-row].is-selected"); }

  function actOnRow(verb) {
    var root = inbox();
    var row = selectedRow();
    if (!root || !row) return false;
    var id = row.getAttribute("data-group-id");
    if (verb === "resolve") {
      var title = $("[data-row-link]", row);
      if (!window.confirm("Resolve “" + (title ? title.textContent.trim() : "#" + id) + "”? Its open alerts are closed.")) {
        return true;
      }
    }
    rememberSelection();
    window.htmx.ajax("POST", root.getAttribute("data-base") + "/alerts/" + id + "/" + verb, {
      source: row,
      target: "#inbox-results",
      select: "#inbox-results",
      swap: "outerHTML",
      values: { next: root.getAttribute("data-page-url") }
    });
    return true;
  }

  function actOnChecked(verb) {
    var bar = $("[data-bulk-bar]");
    if (!bar || !checkedBoxes().length) return false;
    var button = $('button[name="action"][value="' + verb + '"]', bar);
    if (!button) return false;
    button.click(); // through data-confirm, like a click would
    return true;
  }

  function toggleRow() {
    var row = selectedRow();
    var box = row && $("[data-row-check]", row);
    if (!box) return false;
    box.checked = !box.checked;
    updateBulkBar();
    return true;
  }

  function start() {
    updateBulkBar();
    var root = inbox();
    if (!root || !root.hasAttribute("data-can-respond") || !window.SignalCraft) return;
    var keys = window.SignalCraft.shortcuts;
    keys.register("x", "Select or unselect the row", toggleRow, "Inbox");
    keys.register("a", "Acknowledge the ticked rows, or the selected one", function () {
      return actOnChecked("acknowledge") || actOnRow("acknowledge");
    }, "Inbox");
    keys.register("r", "Resolve the ticked rows, or the selected one", function () {
      return actOnChecked("resolve") || actOnRow("resolve");
    }, "Inbox");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
