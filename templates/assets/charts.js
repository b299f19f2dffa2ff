/* evalsuite site: draws every chart of a page with the vendored Vega-Embed.
   Each chart is a <div class="chart" data-spec="ID"> whose Vega-Lite spec is the JSON text of
   <script type="application/json" id="ID">. A drawn chart gets data-rendered="true"; a chart
   that fails says so in place and on the console. */
(function () {
  "use strict";

  var OPTIONS = {
    mode: "vega-lite",
    renderer: "svg",
    actions: false,
    config: {
      font: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
      view: { stroke: "#ddd" },
      axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal", gridColor: "#eee" },
      header: { labelFontSize: 12, labelFontWeight: "bold" },
      legend: { labelFontSize: 11, titleFontSize: 11 }
    }
  };

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-spec"));
    var spec;
    try {
      spec = JSON.parse(source.textContent);
    } catch (error) {
      fail(element, error);
      return;
    }
    window.vegaEmbed(element, spec, OPTIONS).then(
      function () { element.setAttribute("data-rendered", "true"); },
      function (error) { fail(element, error); }
    );
  }

  function fail(element, error) {
    element.setAttribute("data-rendered", "error");
    element.textContent = "This chart could not be drawn: " + error;
    console.error("evalsuite chart " + element.id + ": " + error);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.querySelectorAll("div.chart[data-spec]");
    if (typeof window.vegaEmbed !== "function") {
      Array.prototype.forEach.call(charts, function (element) {
        fail(element, "assets/vega.js did not load");
      });
      return;
    }
    Array.prototype.forEach.call(charts, draw);
  });
})();
