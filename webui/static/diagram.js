// One diagram on a page: bpmn-js (served from node_modules, loaded before this file) draws the XML
// that the holder's data-source answers as JSON ({xml, ...}); `draw(viewer, data)` adds what the
// page shows over it (markers, overlays) before the diagram is fitted to its box. The holder gets
// the class "ready" when it is drawn, "failed" and the text `failedText` when it cannot be.
window.XiezuoDiagram = (function () {
  'use strict';

  function show(holder, failedText, draw) {
    function failed() {
      holder.classList.add('failed');
      holder.textContent = failedText || '';
    }

    if (typeof window.BpmnJS !== 'function' || typeof window.fetch !== 'function') {
      failed();
      return;
    }
    fetch(holder.getAttribute('data-source'), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      return response.json();
    }).then(function (data) {
      var viewer = new window.BpmnJS({ container: holder });
      return viewer.importXML(data.xml).then(function () {
        draw(viewer, data);
        viewer.get('canvas').zoom('fit-viewport');
        holder.classList.add('ready');
      });
    }).catch(failed);
  }

  return { show: show };
}());
