/* Draws the claim page's charts from the JSON configurations the server embeds (Chart.js). */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }
  var yearTick = function (value) {
    return Number.isInteger(value) ? String(value) : "";
  };
  document.querySelectorAll("canvas.chart[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    config.options.scales.x.ticks = { callback: yearTick, stepSize: 1, autoSkip: true, maxRotation: 0 };
    new window.Chart(canvas, config);
  });
})();
