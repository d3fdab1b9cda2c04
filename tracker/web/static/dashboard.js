/* Draws the claim page's charts from the JSON configurations the server embeds (Chart.js). */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }
  var yearTick = function (value) {
    return Number.isInteger(value) ? String(value) : "";
  };
  /* On a log axis label the powers of ten only: 1e15 … 1e27, or 0.01 … 1000 near 1. */
  var powerTick = function (value) {
    var exponent = Math.round(Math.log10(value));
    if (Math.abs(Math.log10(value) - exponent) > 1e-9) { return ""; }
    return Math.abs(exponent) <= 3 ? String(Math.pow(10, exponent)) : "1e" + exponent;
  };
  document.querySelectorAll("canvas.chart[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    config.options.scales.x.ticks = { callback: yearTick, stepSize: 1, autoSkip: true, maxRotation: 0 };
    if (config.options.scales.y.type === "logarithmic") {
      config.options.scales.y.ticks = { callback: powerTick, autoSkip: true };
    }
    new window.Chart(canvas, config);
  });
})();
