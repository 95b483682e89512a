/* Draws every chart on the page from the figure JSON the server embedded in a
   <script type="application/json" data-chart-for="ID"> tag: no inline script, so a
   Content-Security-Policy of script-src 'self' holds. Loaded with defer, after plotly. */
(function () {
  "use strict";
  var narrow = window.matchMedia("(max-width: 40rem)").matches;
  document.querySelectorAll('script[type="application/json"][data-chart-for]').forEach(function (tag) {
    var target = document.getElementById(tag.getAttribute("data-chart-for"));
    if (!target || !window.Plotly) { return; }
    var figure = JSON.parse(tag.textContent);
    var layout = figure.layout || {};
    // Touch friendly: no drag-zoom that traps page scrolling, no mode bar on phones.
    layout.dragmode = false;
    var config = {
      responsive: true,
      scrollZoom: false,
      displaylogo: false,
      displayModeBar: narrow ? false : "hover",
      modeBarButtonsToRemove: ["zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]
    };
    target.classList.add("chart-drawn");
    window.Plotly.newPlot(target, figure.data || [], layout, config);
  });
})();
