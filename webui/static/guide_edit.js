// The guide editor: Enter in the citation search runs the search (without this script Enter would
// submit the form's first button, 保存), and each lesson found gets an 插入引用 button that puts its
// [[kb:N]] where the cursor is in the text. Without the script the search works by its button and
// the citations shown can be copied.
(function () {
  "use strict";
  var body = document.getElementById("guide-body");
  var search = document.getElementById("cite-q");
  var run = document.querySelector("button[data-action=cite]");
  if (search && run) {
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        run.click();
      }
    });
  }
  if (!body) { return; }
  var at = null; // where the cursor was when the text last lost the focus
  body.addEventListener("blur", function () { at = [body.selectionStart, body.selectionEnd]; });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-cite]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var citation = button.getAttribute("data-cite");
      var range = at || [body.value.length, body.value.length];
      body.setRangeText(citation, range[0], range[1], "end");
      at = [body.selectionStart, body.selectionEnd];
      body.focus();
      body.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
})();
