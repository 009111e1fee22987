// The audit area's script: the index's "verify all" steps, and the replay of a request.
// The replay of a request. bpmn-js (diagram.js) draws the diagram of the
// version the request ran on, or of a process it called; the slider, play/pause and step buttons move
// through the recorded steps, and each step's state marks the diagram (path taken, active elements,
// how often an element was passed) and fills the panels beside it. Everything shown is text, set
// through textContent: nothing of the record is ever read as HTML.
(function () {
  'use strict';

  // "Verify all" runs in bounded steps: while one is under way, the index goes on to the next by itself.
  var going = document.querySelector('form[data-continue]');
  if (going) {
    window.setTimeout(function () { going.submit(); }, 300);
  }

  var root = document.getElementById('replay');
  if (!root) {
    return;
  }
  var holder = document.getElementById('diagram');
  var slider = document.getElementById('replay-step');
  var position = document.getElementById('replay-position');
  var path = document.getElementById('replay-path');
  var subs = document.getElementById('replay-subprocesses');
  var playButton = root.querySelector('[data-control=play]');
  var labels = JSON.parse(root.getAttribute('data-labels') || '{}');
  var data = null;
  var viewer = null;
  var scope = 'main';
  var shown = null;
  var n = 0;
  var timer = null;
  var marked = [];
  var current = [];  // the elements the shown step is at: what 当前环节 centres and the view follows
  var queue = Promise.resolve();

  function field(name) {
    return document.querySelector('[data-field="' + name + '"]');
  }

  function put(el, value) {
    el.textContent = value === null || value === undefined || value === '' ? '—' : String(value);
  }

  function format(template, values) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (all, key) {
      return values[key];
    });
  }

  function make(tag, text, className) {
    var el = document.createElement(tag);
    if (text !== undefined) {
      el.textContent = text;
    }
    if (className) {
      el.className = className;
    }
    return el;
  }

  function scopeName(sid) {
    var found = data.scopes[sid];
    return sid === 'main' ? labels.main : found.name + ' · ' + format(labels.run, { n: found.run });
  }

  // ------------------------------------------------------------------ the diagram
  function showDiagram() {
    var pid = data.scopes[scope].process_id;
    if (pid === shown) {
      return Promise.resolve();
    }
    shown = pid;
    marked = [];
    return viewer.importXML(data.diagrams[pid].xml).then(function () {
      viewer.get('canvas').zoom('fit-viewport');
      holder.setAttribute('data-process', pid);
      return true;
    });
  }

  // A new diagram opens on the step's elements; later steps move the view only when the step's
  // elements are out of it, so a reader's own zoom and pan stay while they are in view.
  function follow(opened) {
    var registry = viewer.get('elementRegistry');
    var box = viewer.get('canvas').viewbox();
    var outside = current.some(function (id) {
      var s = registry.get(id);
      return s && (s.x < box.x || s.y < box.y || s.x + (s.width || 0) > box.x + box.width ||
                   s.y + (s.height || 0) > box.y + box.height);
    });
    if (opened || outside) {
      window.XiezuoDiagram.focus(viewer, current);
    }
  }

  function mark(state) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    marked.forEach(function (m) {
      canvas.removeMarker(m[0], m[1]);
    });
    marked = [];
    overlays.remove({ type: 'xz-count' });
    state = state || { completed: {}, flows: [], active: [], errored: [] };

    function add(id, marker) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
        marked.push([id, marker]);
      }
    }

    Object.keys(state.completed).forEach(function (id) {
      var times = state.completed[id];
      if (times > 0) {
        add(id, 'xz-done');
      }
      if (times > 1 && registry.get(id)) {
        overlays.add(id, 'xz-count', { position: { top: -10, right: 14 }, html: make('span', '×' + times, 'xz-count') });
      }
    });
    state.flows.forEach(function (id) {
      add(id, 'xz-done');
    });
    state.active.forEach(function (id) {
      add(id, 'xz-active');
    });
    state.errored.forEach(function (id) {
      add(id, 'xz-error');
    });
    holder.setAttribute('data-active', state.active.join(' '));
    holder.setAttribute('data-completed', Object.keys(state.completed).join(' '));
    holder.classList.add('ready');
  }

  // ------------------------------------------------------------------ the panels
  function showStep(step) {
    put(field('what'), step.label);
    var who = step.actor_name || labels.system;
    if (step.behalf_name) {
      who += ' (' + format(labels.behalf, { name: step.behalf_name }) + ')';
    }
    put(field('actor'), who);
    put(field('at'), step.at_text);
    var where = step.element_name || '';
    if (step.scope !== scope) {
      where += (where ? ' · ' : '') + labels.in_scope + ' ' + scopeName(step.scope);
    }
    put(field('element'), where);
    var effects = field('effects');
    effects.textContent = '';
    step.events.forEach(function (e) {
      effects.appendChild(make('li', e.label + (e.element_name ? labels.colon + e.element_name : '')));
    });
    var inputs = field('inputs');
    inputs.textContent = '';
    step.inputs.forEach(function (c) {
      var row = make('tr', undefined, c.changed ? 'changed' : 'same');
      row.setAttribute('data-input', c.field);
      row.appendChild(make('th', c.label));
      var cell = make('td');
      if (c.changed && step.type !== 'instance_started') {
        cell.appendChild(make('del', c.before_text || '—'));
        cell.appendChild(document.createTextNode(' → '));
      }
      cell.appendChild(make('ins', c.after_text || '—'));
      row.appendChild(cell);
      inputs.appendChild(row);
    });
    if (!step.inputs.length) {
      inputs.appendChild(make('tr')).appendChild(make('td', labels.none, 'empty'));
    }
  }

  function showOpen(step) {
    var body = field('open');
    body.textContent = '';
    step.open.forEach(function (t) {
      var row = make('tr');
      row.setAttribute('data-element', t.element_id);
      row.setAttribute('data-assignee', t.assignee || '');
      row.appendChild(make('td', t.name + (t.scope !== 'main' ? ' · ' + scopeName(t.scope) : '')));
      row.appendChild(make('td', t.assignee_name || t.candidates || labels.unassigned));
      row.appendChild(make('td', t.due_text || '—'));
      body.appendChild(row);
    });
    if (!step.open.length) {
      body.appendChild(make('tr')).appendChild(make('td', labels.none, 'empty'));
    }
  }

  function showData() {
    var table = field('data');
    table.textContent = '';
    for (var k = n; k >= 0; k -= 1) {
      var rows = data.steps[k].data_rows;
      if (rows) {
        // The forms' fields by their labels, the values as people read them; then the diagram's own
        // variables under a heading of their own.
        var inner = false;
        rows.forEach(function (r) {
          if (r.internal && !inner) {
            inner = true;
            var head = make('tr', null, 'internal-head');
            var cell = make('th', labels.internal);
            cell.setAttribute('colspan', '2');
            head.appendChild(cell);
            table.appendChild(head);
          }
          var row = make('tr', null, r.internal ? 'internal' : null);
          row.setAttribute('data-key', r.key);
          row.appendChild(make('th', r.label));
          row.appendChild(make('td', r.text));
          table.appendChild(row);
        });
        return;
      }
    }
  }

  function showScopes() {
    path.textContent = '';
    var chain = [];
    for (var sid = scope; sid; sid = data.scopes[sid].parent) {
      chain.unshift(sid);
    }
    chain.forEach(function (sid, i) {
      if (i) {
        path.appendChild(document.createTextNode(' › '));
      }
      if (sid === scope) {
        path.appendChild(make('strong', scopeName(sid))).setAttribute('data-scope', sid);
      } else {
        var up = make('button', scopeName(sid), 'link');
        up.type = 'button';
        up.setAttribute('data-scope', sid);
        up.addEventListener('click', function () {
          enter(sid);
        });
        path.appendChild(up);
      }
    });
    subs.textContent = '';
    Object.keys(data.scopes).forEach(function (sid) {
      var found = data.scopes[sid];
      if (found.parent === scope && found.start <= n) {
        var button = make('button', labels.enter + labels.colon + scopeName(sid));
        button.type = 'button';
        button.setAttribute('data-enter', sid);
        button.setAttribute('data-element', found.element_id);
        button.addEventListener('click', function () {
          enter(sid);
        });
        subs.appendChild(button);
      }
    });
  }

  function render() {
    var step = data.steps[n];
    slider.value = String(n);
    position.textContent = format(labels.step, { n: n + 1, total: data.steps.length });
    root.setAttribute('data-step', String(n));
    root.setAttribute('data-scope', scope);
    showStep(step);
    showOpen(step);
    showData();
    showScopes();
    queue = queue.then(showDiagram).then(function (opened) {
      var state = data.steps[n].scopes[scope];
      mark(state);
      current.length = 0;
      (state && state.active.length ? state.active : (step.element_id ? [step.element_id] : [])).forEach(function (id) {
        current.push(id);
      });
      follow(opened === true);
    }).catch(function () {
      window.XiezuoDiagram.fail(holder, labels.failed);
    });
  }

  function go(to) {
    n = Math.max(0, Math.min(data.steps.length - 1, to));
    render();
  }

  function enter(sid) {
    scope = sid;
    render();
  }

  // ------------------------------------------------------------------ play
  function stop() {
    if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
    playButton.textContent = playButton.getAttribute('data-play');
    playButton.setAttribute('aria-pressed', 'false');
  }

  function play() {
    if (n >= data.steps.length - 1) {
      go(0);
    }
    playButton.textContent = playButton.getAttribute('data-pause');
    playButton.setAttribute('aria-pressed', 'true');
    timer = window.setInterval(function () {
      if (n >= data.steps.length - 1) {
        stop();
      } else {
        go(n + 1);
      }
    }, 1200);
  }

  function wire() {
    var moves = {
      first: function () { return 0; },
      back: function () { return n - 1; },
      forward: function () { return n + 1; },
      last: function () { return data.steps.length - 1; }
    };
    Object.keys(moves).forEach(function (name) {
      root.querySelector('[data-control=' + name + ']').addEventListener('click', function () {
        stop();
        go(moves[name]());
      });
    });
    playButton.addEventListener('click', function () {
      if (timer === null) {
        play();
      } else {
        stop();
      }
    });
    slider.addEventListener('input', function () {
      stop();
      go(Number(slider.value));
    });
    // A click on a call activity that has run by this step drills into its latest run.
    viewer.get('eventBus').on('element.click', function (event) {
      var runs = Object.keys(data.scopes).filter(function (sid) {
        var found = data.scopes[sid];
        return found.parent === scope && found.element_id === event.element.id && found.start <= n;
      });
      if (runs.length) {
        enter(runs[runs.length - 1]);
      }
    });
  }

  window.XiezuoDiagram.load(holder, root.getAttribute('data-source'), labels.failed, function (made, found) {
    data = found;
    viewer = made;
    window.XiezuoDiagram.zoomBar(root.querySelector('[data-zoom]'), viewer, current);
    slider.max = String(data.steps.length - 1);
    slider.disabled = false;
    wire();
    n = data.steps.length - 1;
    render();
  });
}());
