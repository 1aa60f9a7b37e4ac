// Draws the targeting quality charts with the vendored Apache ECharts (SVG renderer). Figures and
// labels come from the server in #quality-data; in a right-to-left page the charts mirror through
// their own options (the containers stay dir="ltr", as on the dashboard).
(function () {
  "use strict";
  var source = document.getElementById("quality-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var rtl = data.rtl;
  var numberFormat = new Intl.NumberFormat(data.locale, { maximumFractionDigits: 1 });
  var percent = function (value) { return numberFormat.format(value) + "%"; };
  var base = {
    color: ["#c2410c", "#0b5cad"], animation: false,
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
    tooltip: { trigger: "axis", valueFormatter: percent },
    legend: { top: 0, data: [data.labels.inclusion, data.labels.exclusion] },
    grid: { left: rtl ? 20 : 56, right: rtl ? 56 : 20, top: 36, bottom: 60 }
  };
  function draw(id, names, inclusion, exclusion) {
    var element = document.getElementById(id);
    if (!element) { return; }
    var chart = echarts.init(element, null, { renderer: "svg" });
    chart.setOption(Object.assign({}, base, {
      xAxis: { type: "category", data: names, inverse: rtl, axisLabel: { interval: 0, rotate: names.length > 4 ? 30 : 0 } },
      yAxis: { type: "value", position: rtl ? "right" : "left", axisLabel: { formatter: percent } },
      series: [
        { name: data.labels.inclusion, type: "bar", data: inclusion },
        { name: data.labels.exclusion, type: "bar", data: exclusion }
      ]
    }));
    element.setAttribute("data-rendered", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  }
  draw("chart-rule-sets", data.rule_sets, data.rule_inclusion, data.rule_exclusion);
  draw("chart-areas", data.areas, data.inclusion, data.exclusion);
  draw("chart-rounds", data.round_areas, data.round_inclusion, data.round_exclusion);
})();
