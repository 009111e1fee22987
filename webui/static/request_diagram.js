// The request's diagram: bpmn-js (served from node_modules) draws the XML of the request's process
// version; markers show where the request is (active), the path it took (completed) and errors.
(function () {
  'use strict';

  var holder = document.getElementById('diagram');
  if (!holder) {
    return;
  }

  function failed() {
    holder.classList.add('failed');
    holder.textContent = holder.getAttribute('data-failed') || '';
  }

  if (typeof window.BpmnJS !== 'function' || typeof window.fetch !== 'function') {
    failed();
    return;
  }

  function mark(viewer, ids, marker) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    (ids || []).forEach(function (id) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    });
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
      mark(viewer, data.completed, 'xz-done');
      mark(viewer, data.active, 'xz-active');
      mark(viewer, data.errored, 'xz-error');
      viewer.get('canvas').zoom('fit-viewport');
      holder.classList.add('ready');
      holder.setAttribute('data-active', (data.active || []).join(' '));
    });
  }).catch(failed);
}());
