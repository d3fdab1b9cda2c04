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
  /* Chart.js's own log ticks skip decades (1e26, then 1e22): one tick at every power of ten
     in the axis range instead, so the decades where the recent points lie are labelled. */
  var everyDecade = function (axis) {
    var low = Math.ceil(Math.log10(axis.min) - 1e-9);
    var high = Math.floor(Math.log10(axis.max) + 1e-9);
    if (!isFinite(low) || !isFinite(high) || high < low) { return; }
    var ticks = [];
    for (var e = low; e <= high; e++) { ticks.push({ value: Number("1e" + e), major: true }); }
    axis.ticks = ticks;
  };
  document.querySelectorAll("canvas.chart[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    config.options.scales.x.ticks = { callback: yearTick, stepSize: 1, autoSkip: true, maxRotation: 0 };
    if (config.options.scales.y.type === "logarithmic") {
      /* a gridline at every decade; on a short chart, a label every n-th decade counted
         from the top (where the recent points are) so labels stay at least 12 px apart */
      var labelEvery = function (value, index, ticks) {
        var room = Math.max(1, Math.floor((canvas.parentNode.clientHeight - 60) / 12));
        var step = Math.max(1, Math.ceil(ticks.length / room));
        return (ticks.length - 1 - index) % step === 0 ? powerTick(value) : "";
      };
      config.options.scales.y.ticks = { callback: labelEvery, autoSkip: false };
      config.options.scales.y.afterBuildTicks = everyDecade;
    }
    new window.Chart(canvas, config);
  });
})();
