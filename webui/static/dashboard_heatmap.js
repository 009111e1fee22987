// The bottleneck heat map over the process version's diagram (diagram.js):
// each user task gets an overlay with its average and 90th-percentile time and how often it was
// completed, coloured on a five-step scale of its average against the slowest; each sequence flow
// gets how often it was taken. Everything shown is text, set through textContent.
(function () {
  'use strict';

  var holder = document.getElementById('diagram');
  if (!holder) {
    return;
  }
  var labels = JSON.parse(holder.getAttribute('data-labels') || '{}');

  function make(text, className) {
    var el = document.createElement('span');
    el.textContent = text;
    el.className = className;
    return el;
  }

  function hours(value) {
    return value === null || value === undefined ? '—' : Number(value).toFixed(1);
  }

  window.XiezuoDiagram.show(holder, labels.failed, function (viewer, data) {
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    var slowest = 0;
    Object.keys(data.tasks).forEach(function (id) {
      slowest = Math.max(slowest, data.tasks[id].avg_seconds || 0);
    });
    Object.keys(data.tasks).forEach(function (id) {
      var t = data.tasks[id];
      if (!registry.get(id)) {
        return;
      }
      var level = slowest > 0 ? Math.min(4, Math.floor(5 * (t.avg_seconds || 0) / slowest)) : 0;
      var text = labels.avg + ' ' + hours(t.avg_hours) + ' / ' + labels.p90 + ' ' + hours(t.p90_hours) + ' ' +
        labels.hours + ' · ' + t.count + labels.n;
      var el = make(text, 'heat-label heat-' + level);
      el.setAttribute('data-element', id);
      el.setAttribute('data-avg', hours(t.avg_hours));
      el.setAttribute('data-p90', hours(t.p90_hours));
      el.setAttribute('data-count', String(t.count));
      overlays.add(id, 'xz-heat', { position: { top: -22, left: 0 }, html: el });
    });
    Object.keys(data.flows).forEach(function (id) {
      var flow = registry.get(id);
      if (!flow || !flow.waypoints || flow.waypoints.length < 2) {
        return;
      }
      var mid = flow.waypoints[Math.floor((flow.waypoints.length - 1) / 2)];
      var next = flow.waypoints[Math.floor((flow.waypoints.length - 1) / 2) + 1];
      var el = make('×' + data.flows[id], 'flow-label');
      el.setAttribute('data-flow', id);
      el.setAttribute('data-count', String(data.flows[id]));
      var left = Math.min.apply(null, flow.waypoints.map(function (w) { return w.x; }));
      var top = Math.min.apply(null, flow.waypoints.map(function (w) { return w.y; }));
      var x = (mid.x + next.x) / 2 - left;
      var y = (mid.y + next.y) / 2 - top;
      overlays.add(id, 'xz-flow', { position: { top: y - 8, left: x - 10 }, html: el });
    });
  });
}());
