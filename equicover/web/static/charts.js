// What every page of charts shares, drawn with the vendored Apache ECharts (SVG renderer, so the
// charts are sharp in print and visible to tests): the figures from the page's JSON, number formats
// in the page's locale, and one draw() that keeps every chart for resizing. Containers stay
// dir="ltr" (SVG text anchors flip under an inherited dir="rtl"); a right-to-left page mirrors
// each chart by its own options, read from `rtl`.
window.equicoverCharts = function (sourceId, palette) {
  "use strict";
  var source = document.getElementById(sourceId);
  if (!source || typeof echarts === "undefined") { return null; }
  var data = JSON.parse(source.textContent);
  var base = { color: palette, textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }, animation: false };
  var charts = [];
  return {
    data: data,
    rtl: data.rtl,
    numberFormat: new Intl.NumberFormat(data.locale, { maximumFractionDigits: 2 }),
    compactFormat: new Intl.NumberFormat(data.locale, { notation: "compact", maximumFractionDigits: 1 }),
    draw: function (id, option) {
      var element = document.getElementById(id);
      if (!element) { return; }
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption(Object.assign({}, base, option));
      element.setAttribute("data-rendered", "true");
      charts.push(chart);
    },
    // Once every chart is drawn: charts follow the window's size, and the page says how many it drew.
    finish: function () {
      window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
      document.documentElement.setAttribute("data-charts", String(charts.length));
    }
  };
};
