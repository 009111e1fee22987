// Work pages: a search box over long pickers (users, departments), what a multi-picker holds,
// and rows added to or removed from table fields. Without this script every input still works.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function labelOf(el, name, fallback) {
    var form = el.closest("[data-" + name + "]");
    return form ? form.getAttribute("data-" + name) : fallback;
  }

  function chosenText(select, sep) {
    return Array.prototype.filter.call(select.options, function (o) { return o.selected && o.value; })
      .map(function (o) { return o.textContent.trim(); }).join(sep);
  }

  function searchBox(el, items, textOf) {
    var search = document.createElement("input");
    search.type = "search";
    search.className = "picker-search";
    search.placeholder = labelOf(el, "search-label", "Search");
    search.setAttribute("aria-label", search.placeholder);
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      items().forEach(function (item) {
        item.el.hidden = q !== "" && !item.keep && textOf(item).indexOf(q) < 0;
      });
    });
    // Enter in the search box must not submit the form.
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); } });
    el.parentNode.insertBefore(search, el);
  }

  function enhanceChecklist(list) {
    if (list.dataset.enhanced) { return; }
    list.dataset.enhanced = "1";
    var boxes = Array.prototype.slice.call(list.querySelectorAll("input[type=checkbox]"));
    if (boxes.length > 8) {
      searchBox(list, function () {
        return boxes.map(function (b) { return { el: b.closest("label"), keep: b.checked, text: b.closest("label").textContent + " " + b.value }; });
      }, function (item) { return item.text.toLowerCase(); });
    }
    var chosen = document.createElement("p");
    chosen.className = "picker-chosen";
    chosen.setAttribute("aria-live", "polite");
    var title = labelOf(list, "chosen-label", "Chosen: ");
    var sep = labelOf(list, "sep", ", ");
    var show = function () {
      var names = boxes.filter(function (b) { return b.checked; })
        .map(function (b) { return b.closest("label").textContent.trim(); });
      chosen.textContent = names.length ? title + names.join(sep) : "";
    };
    list.addEventListener("change", show);
    list.parentNode.insertBefore(chosen, list.nextSibling);
    show();
  }

  function enhancePicker(select) {
    if (select.dataset.enhanced) { return; }
    select.dataset.enhanced = "1";
    if (select.options.length > 8 && !select.closest("table")) {  // not in every table cell
      searchBox(select, function () {
        return Array.prototype.map.call(select.options, function (o) {
          return { el: o, keep: o.selected || o.value === "", text: o.textContent + " " + o.value };
        });
      }, function (item) { return item.text.toLowerCase(); });
    }
    if (select.multiple) {
      var chosen = document.createElement("p");
      chosen.className = "picker-chosen";
      chosen.setAttribute("aria-live", "polite");
      var title = labelOf(select, "chosen-label", "Chosen: ");
      var sep = labelOf(select, "sep", ", ");
      var show = function () { var t = chosenText(select, sep); chosen.textContent = t ? title + t : ""; };
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

  // In a table row with a department and a person (a plan task's department and owner), the people
  // of the chosen department come first.
  function ownersFirst(deptSelect) {
    var row = deptSelect.closest("tr");
    var chosen = deptSelect.options[deptSelect.selectedIndex];
    if (!row || !chosen || !chosen.value) { return; }
    var suffix = "（" + chosen.textContent.trim() + "）";
    row.querySelectorAll("select[data-people]").forEach(function (people) {
      var options = Array.prototype.slice.call(people.options).filter(function (o) { return o.value; });
      var first = options.filter(function (o) { return o.textContent.trim().slice(-suffix.length) === suffix; });
      var rest = options.filter(function (o) { return first.indexOf(o) < 0; });
      first.concat(rest).forEach(function (o) { people.appendChild(o); });
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("tr select[data-departments]")) { ownersFirst(e.target); }
  });

  // A file over the size limit is refused before the form is sent, so what was typed stays.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) { return; }
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
    var big = Array.prototype.filter.call(input.files || [], function (f) { return f.size > limit; });
    input.setCustomValidity(big.length ? input.getAttribute("data-too-large").replace("{name}", big[0].name) : "");
    if (big.length) { input.reportValidity(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Pickers inside a <template> are enhanced when their row is added, not before.
    document.querySelectorAll("select[data-picker]").forEach(enhancePicker);
    document.querySelectorAll("[data-checklist]").forEach(enhanceChecklist);
    document.querySelectorAll("tr select[data-departments]").forEach(ownersFirst);
  });
}());
