// Keyboard shortcuts for the queue and the ticket page; small and dependency-free.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function rows() {
    var table = document.querySelector("table[data-keyboard-list]");
    return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]")) : [];
  }

  var selected = -1;

  function select(index) {
    var list = rows();
    if (!list.length) { return; }
    selected = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    list[selected].scrollIntoView({ block: "nearest" });
  }

  function current() {
    var list = rows();
    return selected >= 0 && selected < list.length ? list[selected] : null;
  }

  function focusComposer(kind) {
    var radio = document.getElementById(kind === "note" ? "visibility-note" : "visibility-reply");
    var body = document.getElementById("reply-body");
    if (radio) { radio.checked = true; syncComposer(); }
    if (body) { body.focus(); }
  }

  function syncComposer() {
    var form = document.getElementById("reply-form");
    var note = document.getElementById("visibility-note");
    if (form && note) { form.classList.toggle("is-note", note.checked); }
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "visibility") { syncComposer(); }
    // <select data-submit-on-change>: choosing shows the choice (the Content-Security-Policy allows no onchange="").
    if (event.target && event.target.hasAttribute("data-submit-on-change") && event.target.form) {
      event.target.form.submit();
    }
  });

  // <button data-print>: print the page.
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var row;
    switch (event.key) {
      case "j": select(selected + 1); break;
      case "k": select(selected - 1); break;
      case "Enter":
        row = current();
        if (row) { window.location.href = row.getAttribute("data-href"); } else { return; }
        break;
      case "x":
        row = current();
        var box = row && row.querySelector("input[type=checkbox]");
        if (box) { box.checked = !box.checked; } else { return; }
        break;
      case "/":
        var search = document.getElementById("filter-q") || document.getElementById("global-search");
        if (search) { search.focus(); search.select(); } else { return; }
        break;
      case "r":
        if (!document.getElementById("reply-body")) { return; }
        focusComposer("reply");
        break;
      case "n":
        if (!document.getElementById("reply-body")) { return; }
        focusComposer("note");
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // Clicking a row (not a link or checkbox) selects it.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-href]");
    if (!row || event.target.closest("a, input, button, label")) { return; }
    select(rows().indexOf(row));
  });

  // Filter links stay short and shareable: empty fields are left out of GET requests.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") { return; }
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      if (params[name] === "") { delete params[name]; }
    });
  });

  // After HTMX swaps the table, the bulk and save-view forms follow the filter shown.
  document.addEventListener("htmx:afterSwap", function () {
    var shown = document.getElementById("table-query");
    if (!shown) { return; }
    ["bulk-query", "save-view-query"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input) { input.value = shown.value; }
    });
    selected = -1;
  });
})();
