// Work pages: a search box over long pickers (users, departments), what a multi-picker holds,
// and rows added to or removed from table fields. Without this script every input still works.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function labelOf(el, name, fallback) {
    var form = el.closest("[data-" + name + "]");
    return form ? form.getAttribute("data-" + name) : fallback;
  }

  function chosenText(select) {
    return Array.prototype.filter.call(select.options, function (o) { return o.selected && o.value; })
      .map(function (o) { return o.textContent.trim(); }).join("、");
  }

  function enhancePicker(select) {
    if (select.dataset.enhanced) { return; }
    select.dataset.enhanced = "1";
    if (select.options.length > 8 && !select.closest("table")) {  // not in every table cell
      var search = document.createElement("input");
      search.type = "search";
      search.className = "picker-search";
      search.placeholder = labelOf(select, "search-label", "Search");
      search.setAttribute("aria-label", search.placeholder);
      search.addEventListener("input", function () {
        var q = search.value.trim().toLowerCase();
        Array.prototype.forEach.call(select.options, function (o) {
          o.hidden = q !== "" && o.value !== "" && !o.selected &&
            o.textContent.toLowerCase().indexOf(q) < 0 && o.value.toLowerCase().indexOf(q) < 0;
        });
      });
      // Enter in the search box must not submit the form.
      search.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); } });
      select.parentNode.insertBefore(search, select);
    }
    if (select.multiple) {
      var chosen = document.createElement("p");
      chosen.className = "picker-chosen";
      chosen.setAttribute("aria-live", "polite");
      var title = labelOf(select, "chosen-label", "Chosen");
      var show = function () { var t = chosenText(select); chosen.textContent = t ? title + "：" + t : ""; };
      select.addEventListener("change", show);
      select.parentNode.insertBefore(chosen, select.nextSibling);
      show();
    }
  }

  function addRow(button) {
    var name = button.getAttribute("data-add-row");
    var table = document.querySelector('table[data-table="' + name + '"]');
    var template = document.querySelector('template[data-row-template="' + name + '"]');
    if (!table || !template) { return; }
    var n = parseInt(table.getAttribute("data-next-row") || "0", 10);
    table.setAttribute("data-next-row", String(n + 1));
    var html = template.innerHTML.replace(/__row__/g, String(n));
    var body = table.tBodies[0];
    var holder = document.createElement("tbody");
    holder.innerHTML = html;
    var row = holder.querySelector("tr");
    body.appendChild(row);
    row.querySelectorAll("select[data-picker]").forEach(enhancePicker);
    var first = row.querySelector("input, select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-row]");
    if (add) { e.preventDefault(); addRow(add); return; }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      e.preventDefault();
      var row = remove.closest("tr");
      if (row) { row.parentNode.removeChild(row); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Pickers inside a <template> are enhanced when their row is added, not before.
    document.querySelectorAll("select[data-picker]").forEach(enhancePicker);
  });
}());
