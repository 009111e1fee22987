// The request's diagram (diagram.js): markers show where the request is (active), the path it took
// (completed) and errors. It opens centred on the active elements and can be dragged and zoomed
// (the navigated viewer, and the zoom bar's buttons on a phone).
(function () {
  'use strict';

  var holder = document.getElementById('diagram');
  if (!holder) {
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

  window.XiezuoDiagram.show(holder, holder.getAttribute('data-failed'), function (viewer, data) {
    mark(viewer, data.completed, 'xz-done');
    mark(viewer, data.active, 'xz-active');
    mark(viewer, data.errored, 'xz-error');
    holder.setAttribute('data-active', (data.active || []).join(' '));
    window.XiezuoDiagram.zoomBar(document.querySelector('[data-zoom]'), viewer, data.active);
    return window.XiezuoDiagram.focus(viewer, data.active);  // opens on where the request stands
  });
}());
