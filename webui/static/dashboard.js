// The dashboard's charts: ECharts (served from node_modules) draws each section from the figures the
// page carries as JSON beside its table; nothing of them is read as HTML.
(function () {
  'use strict';

  if (typeof window.echarts !== 'object') {
    return;
  }

  function figures(name) {
    var holder = document.querySelector('script[data-for="' + name + '"]');
    return holder ? JSON.parse(holder.textContent) : null;
  }

  function label(data, key) {
    return data.columns[data.keys.indexOf(key)];
  }

  function column(data, key) {
    return data.rows.map(function (row) {
      return row[key] === null || row[key] === undefined ? null : row[key];
    });
  }

  function bars(data, category, keys, extra) {
    var option = {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 32, bottom: 48 },
      xAxis: { type: 'category', data: column(data, category), axisLabel: { interval: 0, rotate: data.rows.length > 6 ? 30 : 0 } },
      yAxis: { type: 'value' },
      series: keys.map(function (key) {
        return { name: label(data, key), type: 'bar', data: column(data, key), label: { show: true, position: 'top' } };
      })
    };
    return Object.assign(option, extra || {});
  }

  var builders = {
    open_overdue: function (data) {
      return bars(data, 'department', ['open', 'overdue'], { color: ['#1456f0', '#d83931'] });
    },
    step_times: function (data) {
      return bars(data, 'label', ['avg_hours', 'p90_hours'], { color: ['#1456f0', '#ffb020'] });
    },
    sla: function (data) {
      var option = bars(data, 'label', ['rate'], { color: ['#389e0d'] });
      option.yAxis = { type: 'value', max: 100 };
      return option;
    },
    satisfaction: function (data) {
      return {
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 48, right: 48, top: 32, bottom: 32 },
        xAxis: { type: 'category', data: column(data, 'month') },
        yAxis: [{ type: 'value', min: 0, max: 5 }, { type: 'value', minInterval: 1 }],
        series: [
          { name: label(data, 'average'), type: 'line', data: column(data, 'average'), label: { show: true } },
          { name: label(data, 'ratings'), type: 'bar', yAxisIndex: 1, data: column(data, 'ratings'), itemStyle: { opacity: 0.35 } }
        ]
      };
    },
    matrix: function (data) {
      var from = [];
      var to = [];
      data.rows.forEach(function (row) {
        if (from.indexOf(row.from) < 0) { from.push(row.from); }
        if (to.indexOf(row.to) < 0) { to.push(row.to); }
      });
      var cells = data.rows.map(function (row) {
        return [to.indexOf(row.to), from.indexOf(row.from), row.avg_hours, row.requests];
      });
      var counts = cells.map(function (c) { return c[3]; });
      return {
        tooltip: {
          formatter: function (p) {
            return from[p.value[1]] + ' → ' + to[p.value[0]] + '<br>' + label(data, 'requests') + ': ' + p.value[3] +
              '<br>' + label(data, 'avg_hours') + ': ' + (p.value[2] === null ? '—' : p.value[2]);
          }
        },
        grid: { left: 80, right: 16, top: 16, bottom: 72 },
        xAxis: { type: 'category', data: to, name: label(data, 'to'), nameLocation: 'center', nameGap: 28 },
        yAxis: { type: 'category', data: from, name: label(data, 'from') },
        visualMap: { dimension: 3, min: 0, max: Math.max.apply(null, counts.concat([1])), calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120, inRange: { color: ['#e8f5e9', '#ffcc80', '#e53935'] } },
        series: [{
          type: 'heatmap',
          data: cells,
          label: { show: true, formatter: function (p) { return p.value[3] + (p.value[2] === null ? '' : ' · ' + p.value[2] + 'h'); } }
        }]
      };
    }
  };

  document.querySelectorAll('[data-chart]').forEach(function (holder) {
    var name = holder.getAttribute('data-chart');
    var data = figures(name);
    if (!data || !builders[name]) {
      return;
    }
    if (!data.rows.length) {
      holder.hidden = true;
      return;
    }
    var chart = window.echarts.init(holder);
    chart.setOption(builders[name](data));
    holder.setAttribute('data-ready', 'true');
    window.addEventListener('resize', function () { chart.resize(); });
  });
}());
