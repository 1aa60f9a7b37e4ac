// Draws the "what if" charts with the vendored Apache ECharts (SVG renderer), from #simulation-data:
// what each payer pays under each policy side by side, and by category the members' out-of-pocket
// share and the share of households in catastrophic spending. The tables next to the charts hold the
// same figures as text. The set-up every chart page shares (formats, drawing, right to left) is
// static/charts.js.
(function () {
  "use strict";
  var page = window.equicoverCharts("simulation-data", ["#0b5cad", "#c2410c", "#1b7a3a", "#7c3aed"]);
  if (!page) { return; }
  var data = page.data, rtl = page.rtl, numberFormat = page.numberFormat, compactFormat = page.compactFormat;
  var draw = page.draw;
  var percent = function (value) { return value === null || value === undefined ? "—" : numberFormat.format(value) + "%"; };

  // Horizontal bars, one group per row (payer or category), one bar per policy.
  function grouped(id, names, series, texts, axisFormat) {
    var element = document.getElementById(id);
    // Room for the row names: wide on a desktop, narrower on a phone (the table beside holds them whole).
    var labels = element && element.clientWidth > 600 ? 200 : 110;
    draw(id, {
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var lines = [items.length ? items[0].name : ""];
          items.forEach(function (item) {
            lines.push(item.marker + data.policies[item.seriesIndex] + ": " + texts[item.seriesIndex][item.dataIndex]);
          });
          return lines.join("<br>");
        }
      },
      legend: { top: 0, align: rtl ? "right" : "left", data: data.policies },
      grid: { left: rtl ? 20 : labels + 10, right: rtl ? labels + 10 : 20, top: 36, bottom: 24 },
      xAxis: { type: "value", inverse: rtl, axisLabel: { formatter: axisFormat } },
      yAxis: {
        type: "category", data: names, inverse: true, position: rtl ? "right" : "left",
        axisLabel: { width: labels, overflow: "truncate" }
      },
      series: series.map(function (values, index) {
        return { type: "bar", name: data.policies[index], data: values };
      })
    });
  }

  grouped("chart-sim-payers", data.payers.names, data.payers.values, data.payers.texts,
    function (v) { return compactFormat.format(v); });
  grouped("chart-sim-oop", data.categories.names, data.categories.oop, data.categories.oop_texts, percent);
  grouped("chart-sim-catastrophic", data.categories.names, data.categories.catastrophic,
    data.categories.catastrophic_texts, percent);

  page.finish();
})();
