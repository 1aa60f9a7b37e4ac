// Draws the fund manager's charts with the vendored Apache ECharts (SVG renderer, so the charts
// are sharp in print and visible to tests). Every figure and label comes from the server in
// #dashboard-data; numbers on axes are formatted with the page's locale (Eastern Arabic digits
// in Arabic, Persian digits in Persian), and in a right-to-left page the charts are mirrored by
// their own options (inverse axes, axes on the right); their containers stay dir="ltr", because
// SVG text anchors flip under an inherited dir="rtl" and ECharts would misplace every label.
(function () {
  "use strict";
  var page = window.equicoverCharts(
    "dashboard-data", ["#0b5cad", "#1b7a3a", "#c2410c", "#7c3aed", "#0e7490", "#a16207", "#be123c", "#4d7c0f"]
  );
  if (!page) { return; }
  var data = page.data, rtl = page.rtl, numberFormat = page.numberFormat, compactFormat = page.compactFormat;
  var draw = page.draw;
  var percent = function (value) { return numberFormat.format(value) + "%"; };
  function valueAxis(formatter, extra) {
    return Object.assign({ type: "value", inverse: rtl, axisLabel: { formatter: formatter } }, extra || {});
  }
  function categoryAxis(names, extra) {
    return Object.assign({ type: "category", data: names, inverse: rtl, axisLabel: { interval: 0, hideOverlap: true } }, extra || {});
  }
  var grid = { left: rtl ? 90 : 56, right: rtl ? 56 : 90, top: 30, bottom: 60, containLabel: false };

  // Coverage by district: a tile grid, one square per district, coloured by the rate.
  var columns = data.grid_columns;
  var rows = Math.max(1, Math.ceil(data.tiles.length / columns));
  var xs = [], ys = [];
  for (var i = 0; i < columns; i++) { xs.push(String(i)); }
  for (var j = 0; j < rows; j++) { ys.push(String(j)); }
  // The colour scale spans the districts' own range, so that a few points of difference show.
  var rates = data.tiles.map(function (t) { return t.rate; });
  var lowest = rates.length ? Math.max(0, Math.floor(Math.min.apply(null, rates)) - 1) : 0;
  var highest = rates.length ? Math.min(100, Math.ceil(Math.max.apply(null, rates)) + 1) : 100;
  draw("chart-districts", {
    tooltip: { formatter: function (p) { var t = data.tiles[p.dataIndex]; return t.name + "<br>" + t.rate_text + " (" + t.enrolled_text + " / " + t.eligible_text + ")"; } },
    grid: { left: 10, right: 10, top: 10, bottom: 50 },
    xAxis: { type: "category", data: xs, show: false, inverse: rtl },
    yAxis: { type: "category", data: ys, show: false, inverse: true },
    visualMap: {
      min: lowest, max: highest, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 140,
      // text[0] sits at the high end; "inverse" mirrors the bar and moves its labels with it.
      inverse: rtl, text: [percent(highest), percent(lowest)],
      inRange: { color: ["#fde8e6", "#fff1d6", "#cfe3f7", "#0b5cad"] }
    },
    series: [{
      type: "heatmap",
      data: data.tiles.map(function (t) { return [t.x, t.y, t.rate]; }),
      label: { show: true, formatter: function (p) { var t = data.tiles[p.dataIndex]; return t.name + "\n" + t.rate_text; }, fontSize: 11, color: "#1d2430" },
      itemStyle: { borderColor: "#fff", borderWidth: 3 }
    }]
  });

  draw("chart-categories", {
    tooltip: { trigger: "axis", valueFormatter: percent },
    grid: { left: rtl ? 60 : 170, right: rtl ? 170 : 60, top: 10, bottom: 30 },
    xAxis: valueAxis(function (v) { return percent(v); }, { max: 100 }),
    yAxis: { type: "category", data: data.categories.map(function (c) { return c.name; }), position: rtl ? "right" : "left", axisLabel: { width: 160, overflow: "break", lineHeight: 14 } },
    series: [{ type: "bar", name: data.labels.coverage, data: data.categories.map(function (c) { return c.rate; }), label: { show: true, position: rtl ? "left" : "right", formatter: function (p) { return data.categories[p.dataIndex].rate_text; } } }]
  });

  draw("chart-payments", {
    tooltip: { trigger: "axis", valueFormatter: function (v) { return numberFormat.format(v); } },
    legend: { type: "scroll", top: 0, align: rtl ? "right" : "left" },
    grid: { left: rtl ? 20 : 70, right: rtl ? 70 : 20, top: 50, bottom: 30 },
    xAxis: categoryAxis(data.months),
    yAxis: valueAxis(function (v) { return compactFormat.format(v); }, { position: rtl ? "right" : "left", inverse: false }),
    series: data.payers.map(function (p) { return { type: "bar", stack: "paid", name: p.name, data: p.values, emphasis: { focus: "series" } }; })
  });

  draw("chart-oop", {
    tooltip: { trigger: "axis", valueFormatter: percent },
    grid: grid,
    xAxis: categoryAxis(data.oop.map(function (d) { return d.name; }), { axisLabel: { interval: 0, rotate: 30 } }),
    yAxis: valueAxis(function (v) { return percent(v); }, { position: rtl ? "right" : "left", inverse: false }),
    series: [{
      type: "bar", name: data.labels.share, data: data.oop.map(function (d) { return { value: d.share, itemStyle: { color: d.share > data.oop_target ? "#b42318" : "#1b7a3a" } }; }),
      markLine: { symbol: "none", data: [{ yAxis: data.oop_target, name: data.labels.target }], label: { formatter: data.labels.target + " " + percent(data.oop_target) }, lineStyle: { color: "#b42318", type: "dashed" } }
    }]
  });

  draw("chart-consultations", {
    tooltip: { trigger: "axis", valueFormatter: function (v) { return numberFormat.format(v); } },
    grid: grid,
    xAxis: categoryAxis(data.consultations.map(function (d) { return d.name; }), { axisLabel: { interval: 0, rotate: 30 } }),
    yAxis: valueAxis(function (v) { return numberFormat.format(v); }, { position: rtl ? "right" : "left", inverse: false }),
    series: [{
      type: "bar", name: data.labels.consultations, data: data.consultations.map(function (d) { return d.rate; }),
      markLine: { symbol: "none", data: [{ yAxis: data.consultations_target }], label: { formatter: data.labels.baseline + " " + numberFormat.format(data.consultations_target) }, lineStyle: { color: "#9a5b00", type: "dashed" } }
    }]
  });

  var top = data.providers.slice().reverse();
  draw("chart-providers", {
    tooltip: { trigger: "axis", valueFormatter: function (v) { return numberFormat.format(v); } },
    grid: { left: rtl ? 20 : 90, right: rtl ? 90 : 20, top: 10, bottom: 30 },
    xAxis: valueAxis(function (v) { return compactFormat.format(v); }),
    yAxis: { type: "category", data: top.map(function (p) { return p.code; }), position: rtl ? "right" : "left" },
    series: [{ type: "bar", name: data.labels.paid, data: top.map(function (p) { return p.amount; }) }]
  });

  page.finish();
})();
