/* SignalCraft page behaviour. No dependencies, no build step.
 *
 * The Content-Security-Policy is `script-src 'self'`: templates carry no inline scripts
 * and no on*= handlers, they declare behaviour with data attributes that this file reads:
 *
 *   [data-theme-toggle]               button: flip light/dark (remembered in localStorage)
 *   <meta name="csrf-token">          sent as X-CSRF-Token on every same-origin htmx request
 *   [data-copy-target="#id"]          button: copy the target's text (or value) to the clipboard
 *   [data-confirm="question"]         form or button: ask before submitting
 *   [data-shortcut="g i"]             link/button: clicked by that key sequence; listed in the
 *   [data-shortcut-label="..."]       help dialog (<dialog id="shortcut-help">, opened with ?)
 *   [data-search]                     input focused by /
 *   [data-list] [data-row]            rows walked with j / k (class .is-selected) and
 *   [data-row-link]                   opened with Enter
 *   <time datetime data-relative>     text becomes "3 min ago", refreshed every 30 s
 *   [data-nav-toggle]                 button: open the navigation on phones
 *   input[data-slug-from="#id"]       filled with a slug of the other field until edited
 *   [data-shortcut-help]              button: open the keyboard help
 *
 * Page scripts (loaded in {% block scripts_extra %}) may add shortcuts with
 *   window.SignalCraft.shortcuts.register("e", "Escalate", function () { ... }, "This page");
 */
(function () {
  "use strict";

  var root = document.documentElement;

  /* ------------------------------------------------------------------ theme */
  var THEME_KEY = "signalcraft.theme";
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function storedTheme() {
    try {
      var value = window.localStorage.getItem(THEME_KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch (err) {
      return null; // storage disabled (private mode, policy): follow the system
    }
  }

  function systemTheme() {
    return systemDark && systemDark.matches ? "dark" : "light";
  }

  function effectiveTheme() {
    return root.getAttribute("data-theme") || systemTheme();
  }

  function applyTheme(theme) {
    if (theme) {
      root.setAttribute("data-theme", theme);
    } else {
      root.removeAttribute("data-theme");
    }
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-label", "Switch to " + next + " theme");
      button.setAttribute("title", "Switch to " + next + " theme");
    });
  }

  function saveTheme(theme) {
    try {
      if (theme) {
        window.localStorage.setItem(THEME_KEY, theme);
      } else {
        window.localStorage.removeItem(THEME_KEY);
      }
    } catch (err) {
      /* not persisted; the choice still holds for this page */
    }
    // Mirrored in a cookie so the server may render data-theme and avoid a flash.
    document.cookie = "signalcraft_theme=" + (theme || "") + "; path=/; max-age=" +
      (theme ? 31536000 : 0) + "; samesite=lax";
  }

  function toggleTheme() {
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    // Choosing what the system already says means "follow the system" again.
    var explicit = next === systemTheme() ? null : next;
    saveTheme(explicit);
    applyTheme(explicit);
  }

  applyTheme(storedTheme());
  if (systemDark && systemDark.addEventListener) {
    systemDark.addEventListener("change", function () {
      applyTheme(storedTheme());
    });
  }

  /* ------------------------------------------------------------------ CSRF for htmx */
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function sameOrigin(path) {
    try {
      return new URL(path, window.location.href).origin === window.location.origin;
    } catch (err) {
      return false;
    }
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token && sameOrigin(event.detail.path)) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  /* ------------------------------------------------------------------ live region */
  function announce(text) {
    var region = document.getElementById("live-region");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  /* ------------------------------------------------------------------ copy to clipboard */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP appliances on a LAN address are not a secure context: fall back.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "sr-only";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (err) {
        ok = false;
      }
      area.remove();
      if (ok) {
        resolve();
      } else {
        reject(new Error("copy refused"));
      }
    });
  }

  function copyFeedback(button, text) {
    var label = button.querySelector("[data-copy-label]") || button;
    if (!button.hasAttribute("data-copy-original")) {
      button.setAttribute("data-copy-original", label.textContent);
    }
    label.textContent = text;
    button.classList.add("is-copied");
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () {
      label.textContent = button.getAttribute("data-copy-original");
      button.classList.remove("is-copied");
    }, 1600);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    event.preventDefault();
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = "value" in source && typeof source.value === "string" && source.tagName !== "BUTTON"
      ? source.value
      : source.textContent;
    copyText(text.trim()).then(function () {
      copyFeedback(button, "Copied");
      announce("Copied to the clipboard");
    }, function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copyFeedback(button, "Press Ctrl+C");
    });
  });

  /* ------------------------------------------------------------------ confirm destructive actions */
  // Capture phase, so a refusal stops the event before htmx or the browser acts on it.
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (!el || el.tagName === "FORM") return;
    if (!window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var form = el.form;
    if (form && form.hasAttribute("data-confirm")) {
      // One question per submit: the form's own confirmation is already answered.
      form.setAttribute("data-confirmed", "");
      window.setTimeout(function () {
        form.removeAttribute("data-confirmed");
      }, 0);
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (form.hasAttribute("data-confirmed")) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  /* ------------------------------------------------------------------ menus and phone nav */
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (menu.matches && menu.matches("details.menu") && menu.open) closeMenus(menu);
  }, true);

  document.addEventListener("click", function (event) {
    if (!event.target.closest("details.menu")) closeMenus(null);
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      var open = root.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    } else if (root.classList.contains("nav-open") && !event.target.closest(".sidenav")) {
      setNavOpen(false);
    }
  });

  function setNavOpen(open) {
    root.classList.toggle("nav-open", open);
    document.querySelectorAll("[data-nav-toggle]").forEach(function (button) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  /* ------------------------------------------------------------------ keyboard shortcuts */
  var registry = []; // {keys, label, group, run}

  function register(keys, label, run, group) {
    registry.push({ keys: keys, label: label, run: run, group: group || "This page" });
  }

  function isTyping(target) {
    return !!target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function isInteractive(el) {
    return !!el && el !== document.body && /^(A|BUTTON|INPUT|TEXTAREA|SELECT|SUMMARY)$/.test(el.tagName);
  }

  function activeList() {
    var selected = document.querySelector("[data-list] [data-row].is-selected");
    return selected ? selected.closest("[data-list]") : document.querySelector("[data-list]");
  }

  function rowsOf(list) {
    if (!list) return [];
    return Array.prototype.filter.call(list.querySelectorAll("[data-row]"), function (row) {
      return row.getClientRects().length > 0;
    });
  }

  function moveSelection(step) {
    var rows = rowsOf(activeList());
    if (!rows.length) return false;
    var current = -1;
    rows.forEach(function (row, i) {
      if (row.classList.contains("is-selected")) current = i;
    });
    var next = current < 0 ? (step > 0 ? 0 : rows.length - 1)
      : Math.min(rows.length - 1, Math.max(0, current + step));
    if (current >= 0) rows[current].classList.remove("is-selected");
    rows[next].classList.add("is-selected");
    rows[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function openSelection() {
    if (isInteractive(document.activeElement)) return false; // Enter already means "activate"
    var row = document.querySelector("[data-list] [data-row].is-selected");
    var link = row && (row.matches("[data-row-link]") ? row : row.querySelector("[data-row-link]"));
    if (!link) return false;
    link.click();
    return true;
  }

  function focusSearch() {
    var field = Array.prototype.find.call(document.querySelectorAll("[data-search]"), function (el) {
      return el.getClientRects().length > 0;
    });
    if (!field) return false;
    field.focus();
    if (field.select) field.select();
    return true;
  }

  function activate(el) {
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) {
      el.focus();
    } else {
      el.click();
    }
    return true;
  }

  var builtins = [
    { keys: "?", label: "Show keyboard shortcuts", group: "General", run: openHelp },
    { keys: "/", label: "Search or filter", group: "General", run: focusSearch },
    { keys: "j", label: "Select next row", group: "Lists", run: function () { return moveSelection(1); } },
    { keys: "k", label: "Select previous row", group: "Lists", run: function () { return moveSelection(-1); } },
    { keys: "Enter", label: "Open selected row", group: "Lists", run: openSelection },
    { keys: "Escape", label: "Close menus", group: "General", run: escape }
  ];

  function escape() {
    var handled = false;
    if (document.querySelector("details.menu[open]")) {
      closeMenus(null);
      handled = true;
    }
    if (root.classList.contains("nav-open")) {
      setNavOpen(false);
      handled = true;
    }
    return handled;
  }

  function declaredShortcuts() {
    var seen = {};
    var all = [];
    function add(item) {
      if (!item.keys || seen[item.keys]) return;
      seen[item.keys] = true;
      all.push(item);
    }
    builtins.forEach(add);
    document.querySelectorAll("[data-shortcut]").forEach(function (el) {
      if (el.disabled) return;
      var keys = el.getAttribute("data-shortcut").trim().replace(/\s+/g, " ");
      add({
        keys: keys,
        label: el.getAttribute("data-shortcut-label") || el.textContent.trim().replace(/\s+/g, " "),
        group: /^g /.test(keys) ? "Go to" : "This page",
        run: function () { return activate(el); }
      });
    });
    registry.forEach(add);
    return all;
  }

  var pending = "";
  var pendingTimer = 0;

  function resetPending() {
    pending = "";
    window.clearTimeout(pendingTimer);
  }

  function keyName(event) {
    if (event.key === "Enter" || event.key === "Escape") return event.key;
    return event.key.length === 1 ? event.key : "";
  }

  function dispatch(sequence, shortcuts) {
    var prefix = false;
    for (var i = 0; i < shortcuts.length; i++) {
      if (shortcuts[i].keys === sequence) return shortcuts[i].run() !== false ? "done" : "none";
      if (shortcuts[i].keys.indexOf(sequence + " ") === 0) prefix = true;
    }
    return prefix ? "prefix" : "none";
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape" && event.target.matches("[data-search]")) event.target.blur();
      return;
    }
    if (document.querySelector("dialog[open]")) return; // the dialog owns the keyboard
    var key = keyName(event);
    if (!key) return;
    var shortcuts = declaredShortcuts();
    var sequence = pending ? pending + " " + key : key;
    var result = dispatch(sequence, shortcuts);
    if (result === "none" && pending) {
      sequence = key;
      result = dispatch(sequence, shortcuts);
    }
    resetPending();
    if (result === "prefix") {
      pending = sequence;
      pendingTimer = window.setTimeout(resetPending, 1500);
      event.preventDefault();
    } else if (result === "done") {
      event.preventDefault();
    }
  });

  /* ------------------------------------------------------------------ shortcut help dialog */
  function keysMarkup(keys) {
    var wrap = document.createElement("span");
    wrap.className = "shortcut-keys";
    keys.split(" ").forEach(function (key, i) {
      if (i > 0) {
        var then = document.createElement("span");
        then.className = "kbd-then";
        then.textContent = "then";
        wrap.appendChild(then);
      }
      var kbd = document.createElement("kbd");
      kbd.className = "kbd";
      kbd.textContent = key === "Escape" ? "Esc" : key;
      wrap.appendChild(kbd);
    });
    return wrap;
  }

  function openHelp() {
    var dialog = document.getElementById("shortcut-help");
    if (!dialog || typeof dialog.showModal !== "function") return false;
    var list = dialog.querySelector("[data-shortcut-list]");
    if (list) {
      var groups = {};
      var order = [];
      declaredShortcuts().forEach(function (item) {
        if (!groups[item.group]) {
          groups[item.group] = [];
          order.push(item.group);
        }
        groups[item.group].push(item);
      });
      var nodes = order.map(function (name) {
        var section = document.createElement("section");
        section.className = "shortcut-group";
        var title = document.createElement("h3");
        title.textContent = name;
        section.appendChild(title);
        groups[name].forEach(function (item) {
          var row = document.createElement("div");
          row.className = "shortcut-row";
          var label = document.createElement("span");
          label.textContent = item.label;
          row.appendChild(label);
          row.appendChild(keysMarkup(item.keys));
          section.appendChild(row);
        });
        return section;
      });
      list.replaceChildren.apply(list, nodes);
    }
    closeMenus(null);
    dialog.showModal();
    return true;
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcut-help]")) {
      event.preventDefault();
      openHelp();
      return;
    }
    // A click on the backdrop lands on the <dialog> itself: close it.
    if (event.target.matches && event.target.matches("dialog.modal[open]")) {
      event.target.close();
    }
  });

  /* ------------------------------------------------------------------ relative times */
  function relative(then, now) {
    var seconds = Math.round((now - then) / 1000);
    var future = seconds < 0;
    var s = Math.abs(seconds);
    var text;
    if (s < 45) return future ? "in a moment" : "just now";
    if (s < 90) text = "1 min";
    else if (s < 3600) text = Math.round(s / 60) + " min";
    else if (s < 5400) text = "1 h";
    else if (s < 86400) text = Math.round(s / 3600) + " h";
    else if (s < 86400 * 45) text = Math.round(s / 86400) + " d";
    else {
      return new Date(then).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
    }
    return future ? "in " + text : text + " ago";
  }

  function refreshTimes(scope) {
    var now = Date.now();
    (scope || document).querySelectorAll("time[datetime][data-relative]").forEach(function (el) {
      var then = Date.parse(el.getAttribute("datetime"));
      if (isNaN(then)) return;
      if (!el.hasAttribute("data-absolute")) {
        var utc = el.getAttribute("title") || el.textContent.trim();
        var local = new Date(then).toLocaleString(undefined, {
          year: "numeric", month: "short", day: "numeric",
          hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
        });
        el.setAttribute("data-absolute", local);
        el.setAttribute("title", utc && utc !== local ? local + " (" + utc + ")" : local);
      }
      el.textContent = relative(then, now);
    });
  }

  /* ------------------------------------------------------------------ slug from name */
  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+/, "").slice(0, 40).replace(/-+$/, "");
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches("[data-slug-from]")) {
      target.setAttribute("data-slug-edited", "");
      return;
    }
    document.querySelectorAll("input[data-slug-from]").forEach(function (slug) {
      if (slug.hasAttribute("data-slug-edited")) return;
      var source = document.querySelector(slug.getAttribute("data-slug-from"));
      if (source === target) slug.value = slugify(target.value);
    });
  });

  /* ------------------------------------------------------------------ start */
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-theme-toggle]")) toggleTheme();
  });

  function start() {
    refreshTimes(document);
    window.setInterval(function () { refreshTimes(document); }, 30000);
    document.addEventListener("htmx:load", function (event) { refreshTimes(event.target); });
    // After a failed submit, put the cursor where the first problem is.
    var invalid = document.querySelector('[aria-invalid="true"]');
    if (invalid && !document.querySelector("[autofocus]")) invalid.focus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  window.SignalCraft = {
    shortcuts: { register: register, open: openHelp },
    copyText: copyText,
    refreshTimes: refreshTimes
  };
})();
