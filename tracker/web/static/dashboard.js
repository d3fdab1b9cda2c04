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
  /* Year ticks a label apart: the smallest "nice" step (1, 2, 5, 10, 20, 25, 50, 100 years)
     whose labels, as wide as the widest year label in the tick font, keep YEAR_GAP px apart
     on the axis's width. Chart.js's own tick count assumes 40 px a label, which made
     "200020042008" run together on the 235 px side-panel charts. */
  var YEAR_GAP = 8;
  var YEAR_STEPS = [1, 2, 5, 10, 20, 25, 50, 100];
  var yearTicks = function (axis) {
    var low = Math.ceil(axis.min), high = Math.floor(axis.max);
    if (!isFinite(low) || !isFinite(high) || high < low || !axis.width) { return; }
    var ctx = axis.ctx, font = axis._resolveTickFontOptions(0);
    ctx.save();
    ctx.font = font.string;
    var label = Math.max(ctx.measureText(String(low)).width, ctx.measureText(String(high)).width);
    ctx.restore();
    var perYear = axis.width / Math.max(1, axis.max - axis.min);
    var step = YEAR_STEPS[YEAR_STEPS.length - 1];
    for (var i = 0; i < YEAR_STEPS.length; i++) {
      if (YEAR_STEPS[i] * perYear >= label + YEAR_GAP) { step = YEAR_STEPS[i]; break; }
    }
    var ticks = [];
    for (var year = Math.ceil(low / step) * step; year <= high; year += step) {
      ticks.push({ value: year });
    }
    axis.ticks = ticks;
  };
  document.querySelectorAll("canvas.chart[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    config.options.scales.x.ticks = { callback: yearTick, autoSkip: true, autoSkipPadding: YEAR_GAP, maxRotation: 0 };
    config.options.scales.x.afterBuildTicks = yearTicks;
    /* a band's lower edge is drawn, not named: "projection range" names the band */
    config.options.plugins.legend.labels.filter = function (item, data) {
      return !data.datasets[item.datasetIndex].hideInLegend;
    };
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
