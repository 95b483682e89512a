/* The interactive charts, on request. Every chart is first drawn on the server as an SVG that
   shows with the page; this script (deferred, small) reveals each chart's "Interactive chart"
   button, and fetches plotly.js (hundreds of KB, long to parse on a phone) only when a reader
   presses one, or points at or focuses one, so it never delays the first view. The figure
   comes from the <script type="application/json" data-chart-for="ID"> beside the button: no
   inline script, so a Content-Security-Policy of script-src 'self' holds. */
(function () {
  "use strict";
  var plotlySrc = document.currentScript && document.currentScript.getAttribute("data-plotly");
  var loading = null;

  function loadPlotly() {
    if (window.Plotly) { return Promise.resolve(window.Plotly); }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = plotlySrc;
        script.onload = function () { resolve(window.Plotly); };
        script.onerror = function () { loading = null; reject(new Error("plotly.js did not load")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function draw(Plotly, target, tag) {
    var figure = JSON.parse(tag.textContent);
    var layout = figure.layout || {};
    // Touch friendly: no drag-zoom that traps page scrolling, no mode bar on phones.
    layout.dragmode = false;
    // Reduced motion asked for: no animated transitions when the chart is redrawn.
    if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
      layout.transition = {duration: 0};
    }
    var narrow = window.matchMedia("(max-width: 40rem)").matches;
    var config = {
      responsive: true,
      scrollZoom: false,
      displaylogo: false,
      displayModeBar: narrow ? false : "hover",
      modeBarButtonsToRemove: ["zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]
    };
    return Plotly.newPlot(target, figure.data || [], layout, config).then(function () {
      target.classList.add("chart-drawn");
    });
  }

  function toggle(button) {
    var id = button.getAttribute("data-chart");
    var target = document.getElementById(id);
    var figure = target.closest("figure");
    var status = figure.querySelector(".chart-status");
    var tag = figure.querySelector('script[type="application/json"][data-chart-for="' + id + '"]');
    if (button.getAttribute("aria-pressed") === "true") {  // back to the picture
      button.setAttribute("aria-pressed", "false");
      figure.classList.remove("interactive");
      target.hidden = true;
      return;
    }
    if (button.getAttribute("aria-busy") === "true") { return; }
    button.setAttribute("aria-busy", "true");  // not disabled: that would drop the keyboard focus
    status.textContent = "Loading the interactive chart…";
    loadPlotly().then(function (Plotly) {
      target.hidden = false;  // plotly sizes the chart to its box: show the box first
      figure.classList.add("interactive");
      return target.classList.contains("chart-drawn") ? null : draw(Plotly, target, tag);
    }).then(function () {
      button.setAttribute("aria-pressed", "true");
      status.textContent = "";
    }).catch(function () {
      target.hidden = true;
      figure.classList.remove("interactive");
      status.textContent = "The interactive chart could not be loaded. The picture above shows the same data.";
    }).then(function () {
      button.removeAttribute("aria-busy");
    });
  }

  document.querySelectorAll("button.chart-toggle[data-chart]").forEach(function (button) {
    button.closest(".chart-controls").hidden = false;
    button.addEventListener("click", function () { toggle(button); });
    // Start the download as the reader heads for the button, so the chart is drawn sooner.
    button.addEventListener("pointerenter", function () { loadPlotly().catch(function () {}); });
    button.addEventListener("focus", function () { loadPlotly().catch(function () {}); });
  });
})();
