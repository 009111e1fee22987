// Diagrams on a page, drawn by bpmn-js (served from node_modules, loaded before this file).
// load(holder, source, failedText, use): fetch the JSON `source` answers, make a viewer in
// the holder and hand both to `use` (which may return a promise); when bpmn-js or fetch is missing,
// the answer is not OK or drawing throws, the holder gets the class "failed" and `failedText`.
// fail(holder, failedText) marks it so when a later drawing goes wrong.
// show(holder, failedText, draw): one diagram, the `xml` of what the holder's data-source answers;
// `draw(viewer, data)` adds what the page shows over it (markers, overlays) before it is fitted to
// its box and the holder is "ready"; when `draw` returns true it has placed the view itself.
// focus(viewer, ids): show the elements `ids` at a readable scale in the middle of the box (false
// when none of them is drawn). Zoom buttons (+, −, fit) go into a holder's `[data-zoom]` bar.
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
        if (draw(viewer, data) !== true) {
          viewer.get('canvas').zoom('fit-viewport');
        }
        holder.classList.add('ready');
      });
    });
  }

  function focus(viewer, ids) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var shapes = (ids || []).map(function (id) { return registry.get(id); }).filter(Boolean);
    if (!shapes.length) {
      return false;
    }
    var left = Math.min.apply(null, shapes.map(function (s) { return s.x; }));
    var top = Math.min.apply(null, shapes.map(function (s) { return s.y; }));
    var right = Math.max.apply(null, shapes.map(function (s) { return s.x + (s.width || 0); }));
    var bottom = Math.max.apply(null, shapes.map(function (s) { return s.y + (s.height || 0); }));
    canvas.zoom(1);
    var box = canvas.viewbox();
    var scale = Math.min(1, box.width / (right - left + 160), box.height / (bottom - top + 160));
    canvas.zoom(Math.max(scale, 0.4));
    box = canvas.viewbox();
    canvas.viewbox({ x: (left + right) / 2 - box.width / 2, y: (top + bottom) / 2 - box.height / 2,
                     width: box.width, height: box.height });
    return true;
  }

  function zoomBar(bar, viewer, ids) {
    if (!bar) {
      return;
    }
    var canvas = viewer.get('canvas');
    bar.hidden = false;
    bar.addEventListener('click', function (event) {
      var how = event.target.getAttribute('data-zoom-by');
      if (how === 'in' || how === 'out') {
        canvas.zoom(canvas.zoom() * (how === 'in' ? 1.25 : 0.8));
      } else if (how === 'fit') {
        canvas.zoom('fit-viewport');
      } else if (how === 'active' && !focus(viewer, ids)) {
        canvas.zoom('fit-viewport');
      }
    });
  }

  return { fail: fail, load: load, show: show, focus: focus, zoomBar: zoomBar };
}());
