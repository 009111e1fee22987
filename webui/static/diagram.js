// Diagrams on a page, drawn by bpmn-js (served from node_modules, loaded before this file).
// load(holder, source, failedText, use): fetch the JSON `source` answers, make a viewer in
// the holder and hand both to `use` (which may return a promise); when bpmn-js or fetch is missing,
// the answer is not OK or drawing throws, the holder gets the class "failed" and `failedText`.
// fail(holder, failedText) marks it so when a later drawing goes wrong.
// show(holder, failedText, draw): one diagram, the `xml` of what the holder's data-source answers;
// `draw(viewer, data)` adds what the page shows over it (markers, overlays) before it is fitted to
// its box and the holder is "ready".
window.XiezuoDiagram = (function () {
  'use strict';

  function fail(holder, failedText) {
    holder.classList.add('failed');
    holder.textContent = failedText || '';
  }

  function load(holder, source, failedText, use) {
    function failed() {
      fail(holder, failedText);
    }

    if (typeof window.BpmnJS !== 'function' || typeof window.fetch !== 'function') {
      failed();
      return;
    }
    fetch(source, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      return response.json();
    }).then(function (data) {
      return use(new window.BpmnJS({ container: holder }), data);
    }).catch(failed);
  }

  function show(holder, failedText, draw) {
    load(holder, holder.getAttribute('data-source'), failedText, function (viewer, data) {
      return viewer.importXML(data.xml).then(function () {
        draw(viewer, data);
        viewer.get('canvas').zoom('fit-viewport');
        holder.classList.add('ready');
      });
    });
  }

  return { fail: fail, load: load, show: show };
}());
