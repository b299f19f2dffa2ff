/* evalsuite site, Compare page: two cells of one category and seed side by side, drawn from
   the data the site build computed (no number is computed here but percentages and ranks'
   differences). The page embeds the list of cells (<script id="compare-index">); a category's
   data is the script compare/data-<n>-<category>.js, added when one of its cells is chosen
   (a script, not a fetch: it works from file://). The choice lives in the URL's fragment
   (#a=<cell>&b=<cell>, other keys kept), so a comparison can be linked. */
(function () {
  "use strict";

  var SVG = (function () {  /* the SVG namespace, as the HTML parser gives it (no URL here) */
    var holder = document.createElement("div");
    holder.innerHTML = "<svg></svg>";
    return holder.firstChild.namespaceURI;
  }());
  var root = document.getElementById("compare");
  if (!root) { return; }
  var index = JSON.parse(document.getElementById("compare-index").textContent);
  var pickA = document.getElementById("compare-a");
  var pickB = document.getElementById("compare-b");
  var out = document.getElementById("compare-out");
  var cells = {};
  index.cells.forEach(function (c) {
    cells[c[0]] = {name: c[0], title: c[1], category: c[2], seed: c[3], script: c[4], page: c[5]};
  });
  var seeds = {};
  index.cells.forEach(function (c) { seeds[c[3]] = true; });
  var multiSeed = Object.keys(seeds).length > 1;
  window.evalsuiteCompare = window.evalsuiteCompare || {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1); }

  function points(v) {
    var t = (100 * v).toFixed(1);
    if (t === "0.0" || t === "-0.0") { return "0.0"; }
    return (v > 0 ? "+" + t : t).replace("-", "\u2212");
  }

  function state() {
    var hash = window.location.hash.slice(1);
    return new URLSearchParams(hash.indexOf("=") < 0 ? "" : hash);
  }

  function remember(a, b) {
    var params = state();
    params.set("a", a);
    params.set("b", b);
    var url = window.location.href.split("#")[0] + "#" + params.toString();
    try { window.history.replaceState(null, "", url); } catch (e) { window.location.hash = params.toString(); }
  }

  function fillA() {
    var groups = {};
    index.cells.forEach(function (c) {
      var label = c[2] + (multiSeed ? " · seed " + c[3] : "");
      if (!groups[label]) { groups[label] = pickA.appendChild(el("optgroup", {label: label})); }
      groups[label].appendChild(new Option(c[1], c[0]));
    });
  }

  function fillB(a, wanted) {
    while (pickB.firstChild) { pickB.removeChild(pickB.firstChild); }
    index.cells.forEach(function (c) {
      var other = cells[c[0]];
      if (other.name !== a.name && other.category === a.category && other.seed === a.seed) {
        pickB.appendChild(new Option(other.title, other.name));
      }
    });
    if (wanted && cells[wanted] && wanted !== a.name && cells[wanted].category === a.category &&
        cells[wanted].seed === a.seed) {
      pickB.value = wanted;
    }
  }

  function load(script, done) {
    if (window.evalsuiteCompare[script]) { done(); return; }
    var tag = el("script", {src: script});
    tag.onload = done;
    tag.onerror = function () { out.textContent = "The data of this category (" + script + ") did not load."; };
    document.head.appendChild(tag);
  }

  function show(a, b) {
    load(a.script, function () { render(window.evalsuiteCompare[a.script], a, b); });
  }

  function apply(fromHash) {
    var params = state();
    var a = cells[params.get("a")] || (fromHash ? null : cells[pickA.value]) || cells[index.cells[0][0]];
    pickA.value = a.name;
    fillB(a, params.get("b"));
    if (!pickB.value) { out.textContent = "No other cell shares this cell's category and seed."; return; }
    show(a, cells[pickB.value]);
  }

  function chosen() {
    var a = cells[pickA.value];
    fillB(a, pickB.value);
    if (!pickB.value) { return; }
    remember(a.name, pickB.value);
    show(a, cells[pickB.value]);
  }

  /* The pair's paired differences in the orientation B − A: [delta, low, high, p, B] or a
     reason, and its moved images as [image, rank A, rank B]; null when not computed. */
  function pairOf(data, a, b) {
    var found = data.pairs[a.name + "|" + b.name];
    if (found) { return found; }
    found = data.pairs[b.name + "|" + a.name];
    if (!found) { return null; }
    return {
      n: found.n,
      d: found.d.map(function (v) { return typeof v === "string" ? v : [-v[0], -v[2], -v[1], v[3], v[4]]; }),
      moved: found.moved.map(function (m) { return [m[0], m[2], m[1]]; })
    };
  }

  function heading(text) { return el("h3", {}, text); }

  function table(head, rows, id) {
    var wrap = el("div", {"class": "table-wrap"});
    var t = wrap.appendChild(el("table", {"class": "compact cmp-table", id: id}));
    var tr = t.appendChild(el("thead")).appendChild(el("tr"));
    head.forEach(function (h) { tr.appendChild(el("th", {scope: "col"}, h)); });
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (cellsOfRow) {
      var row = body.appendChild(el("tr"));
      cellsOfRow.forEach(function (c, i) {
        var td = row.appendChild(el(i === 0 ? "th" : "td", i === 0 ? {scope: "row"} : {"class": "num"}, c.text));
        if (c.value !== undefined) { td.setAttribute("data-value", c.value); }
        if (c.title) { td.title = c.title; }
      });
    });
    return wrap;
  }

  function metricRows(data, a, b, pair) {
    var ca = data.cells[a.name], cb = data.cells[b.name];
    return index.metrics.map(function (m, i) {
      var va = ca.metrics[i], vb = cb.metrics[i];
      var k = index.paired.indexOf(m[0]);
      var d = pair && k >= 0 ? pair.d[k] : null;
      var row = [{text: m[1]}, {text: va ? pct(va[0]) : "—"}, {text: va && va[1] !== null ? "[" + pct(va[1]) + ", " + pct(va[2]) + "]" : ""},
                 {text: vb ? pct(vb[0]) : "—"}, {text: vb && vb[1] !== null ? "[" + pct(vb[1]) + ", " + pct(vb[2]) + "]" : ""}];
      if (d && typeof d !== "string") {
        row.push({text: points(d[0]), value: d[0]}, {text: "[" + points(d[1]) + ", " + points(d[2]) + "]", value: d[1] + " " + d[2]},
                 {text: d[3].toPrecision(2), value: d[3]});
      } else {
        row.push({text: d ? "—" : "", title: d || ""}, {text: typeof d === "string" ? d : ""}, {text: ""});
      }
      return row;
    });
  }

  function roc(curves, level, names) {
    var box = el("figure", {"class": "cmp-figure"});
    box.appendChild(el("figcaption", {}, level + " ROC"));
    var s = svg("svg", {viewBox: "0 0 230 230", "class": "cmp-svg", role: "img", "aria-label": level + " ROC curves of A and B"});
    s.appendChild(svg("rect", {x: 30, y: 10, width: 190, height: 190, "class": "cmp-frame"}));
    s.appendChild(svg("line", {x1: 30, y1: 200, x2: 220, y2: 10, "class": "cmp-chance"}));
    curves.forEach(function (curve, k) {
      if (!curve) { return; }
      var pts = curve[0].map(function (f, i) { return (30 + 190 * f).toFixed(1) + "," + (200 - 190 * curve[1][i]).toFixed(1); });
      s.appendChild(svg("polyline", {points: pts.join(" "), "class": "cmp-line cmp-" + names[k], "data-points": curve[0].length}));
    });
    [["0", 30, 214], ["1", 216, 214], ["FPR", 125, 226]].forEach(function (t) {
      var n = s.appendChild(svg("text", {x: t[1], y: t[2], "class": "cmp-axis"})); n.textContent = t[0];
    });
    var y = s.appendChild(svg("text", {x: 12, y: 105, "class": "cmp-axis", transform: "rotate(-90 12 105)"}));
    y.textContent = "TPR";
    box.appendChild(s);
    return box;
  }

  function histogram(data, cell, label) {
    var c = data.cells[cell.name];
    var known = c.scores.map(function (s, i) { return [s, data.labels[i]]; }).filter(function (p) { return p[0] !== null; });
    var lo = Math.min.apply(null, known.map(function (p) { return p[0]; }));
    var hi = Math.max.apply(null, known.map(function (p) { return p[0]; }));
    var bins = 20, width = (hi - lo) / bins || 1, counts = [[], []];
    for (var i = 0; i < bins; i += 1) { counts[0].push(0); counts[1].push(0); }
    known.forEach(function (p) { counts[p[1]][Math.min(bins - 1, Math.floor((p[0] - lo) / width))] += 1; });
    var most = Math.max.apply(null, counts[0].concat(counts[1])) || 1;
    var box = el("figure", {"class": "cmp-figure"});
    box.appendChild(el("figcaption", {}, label + ": " + cell.title));
    var s = svg("svg", {viewBox: "0 0 230 150", "class": "cmp-svg", role: "img", "aria-label": "score distribution of " + label});
    s.appendChild(svg("line", {x1: 10, y1: 70, x2: 220, y2: 70, "class": "cmp-frame"}));
    for (i = 0; i < bins; i += 1) {
      var x = 10 + 210 * i / bins, h0 = 60 * counts[0][i] / most, h1 = 60 * counts[1][i] / most;
      s.appendChild(svg("rect", {x: x, y: 70 - h0, width: 210 / bins - 1, height: h0, "class": "cmp-normal"}));
      s.appendChild(svg("rect", {x: x, y: 70, width: 210 / bins - 1, height: h1, "class": "cmp-defective"}));
    }
    if (c.threshold !== null && c.threshold >= lo && c.threshold <= hi) {
      var tx = 10 + 210 * (c.threshold - lo) / (hi - lo || 1);
      s.appendChild(svg("line", {x1: tx, y1: 6, x2: tx, y2: 134, "class": "cmp-threshold"}));
    }
    [[lo.toPrecision(4), 10, 146, "start"], [hi.toPrecision(4), 220, 146, "end"], ["normal ↑ · defective ↓", 115, 146, "middle"]].forEach(function (t) {
      var n = s.appendChild(svg("text", {x: t[1], y: t[2], "class": "cmp-axis", "text-anchor": t[3]})); n.textContent = t[0];
    });
    box.appendChild(s);
    return box;
  }

  function render(data, a, b) {
    var pair = pairOf(data, a, b);
    while (out.firstChild) { out.removeChild(out.firstChild); }
    var who = out.appendChild(el("p", {"class": "cmp-who"}));
    [["A", a], ["B", b]].forEach(function (x) {
      who.appendChild(el("span", {"class": "cmp-key cmp-" + x[0].toLowerCase()}, x[0] + " "));
      who.appendChild(el("a", {href: x[1].page}, x[1].category + " · " + x[1].title));
      who.appendChild(document.createTextNode(" "));
    });
    out.appendChild(heading("Metrics"));
    out.appendChild(el("p", {"class": "note", id: "compare-paired"}, pair
      ? "B − A paired over the " + pair.n + " test images both were evaluated on (95% paired bootstrap interval; p unadjusted)."
      : "This pair was not computed (it differs in more than one facet): each cell's own interval only."));
    out.appendChild(table(["metric", "A (%)", "A 95% CI", "B (%)", "B 95% CI", "B − A (pp)", "95% interval", "p"],
      metricRows(data, a, b, pair), "compare-metrics"));
    out.appendChild(heading("ROC curves (A solid, B dashed)"));
    var rocs = out.appendChild(el("div", {"class": "cmp-figures"}));
    ["image", "pixel"].forEach(function (level) {
      var curves = [data.cells[a.name].roc[level], data.cells[b.name].roc[level]];
      if (curves[0] || curves[1]) { rocs.appendChild(roc(curves, level, ["a", "b"])); }
    });
    out.appendChild(heading("Score distributions (dashed: the image threshold)"));
    var dist = out.appendChild(el("div", {"class": "cmp-figures"}));
    dist.appendChild(histogram(data, a, "A"));
    dist.appendChild(histogram(data, b, "B"));
    out.appendChild(heading("Images that moved most"));
    if (!pair) { out.appendChild(el("p", {"class": "empty"}, "Not computed for this pair.")); return; }
    out.appendChild(el("p", {"class": "note"}, "Rank: the share of the pair's images scoring lower in that cell (ties half); " +
      "the largest |rank B − rank A| first. Scores are in each cell's own units."));
    var ca = data.cells[a.name], cb = data.cells[b.name];
    out.appendChild(table(["image", "label", "defect", "score A", "score B", "rank A (%)", "rank B (%)", "Δ rank (pp)"],
      pair.moved.map(function (m) {
        return [{text: data.ids[m[0]]}, {text: data.labels[m[0]] ? "defective" : "normal"}, {text: data.defects[m[0]]},
                {text: ca.scores[m[0]].toPrecision(5)}, {text: cb.scores[m[0]].toPrecision(5)},
                {text: pct(m[1])}, {text: pct(m[2])}, {text: points(m[2] - m[1])}];
      }), "compare-moved"));
  }

  fillA();
  root.hidden = false;
  pickA.addEventListener("change", chosen);
  pickB.addEventListener("change", chosen);
  document.getElementById("compare-swap").addEventListener("click", function () {
    var a = pickA.value, b = pickB.value;
    pickA.value = b;
    fillB(cells[b], a);
    chosen();
  });
  window.addEventListener("hashchange", function () {  /* a "compare" link of the list below */
    apply(true);
    root.scrollIntoView();
  });
  if (index.cells.length > 1) { apply(false); } else { out.textContent = "Fewer than two cells: nothing to compare."; }
}());
