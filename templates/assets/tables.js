/* evalsuite site: every data table (<table class="data">) can be sorted by any column, filtered
   by its facet columns (detector, category, condition, regime, scope, sweep value, ...) and
   searched, offline and from file://. The state lives in the URL's fragment
   (#<table>.s=<column><a|d>&<table>.q=<text>&<table>.f<column>=<value>), so a view can be
   linked. Without JavaScript the tables are the same, whole and in their order.

   A cell's value is its data-value attribute if it has one (a row header left blank under the
   row above it carries its label there), else its text. Values that start with a number sort
   as numbers (the Unicode minus included); cells without a number sort after them. */
(function () {
  "use strict";

  var FACETS = ["detector", "label", "category", "condition", "regime", "scope", "sweep",
                "value", "kind", "family", "factor", "severity", "metric", "level", "status",
                "defect", "outcome"];
  var SIDES = ["a", "b"];  /* the two sides of a paired table: facets as whole names only */
  var SWEPT = /^(params|backbone|shift)\./;
  var MAX_OPTIONS = 60;
  var NUMBER = /^[^0-9+\-\u2212.]*([+\-\u2212]?\d+(?:\.\d+)?(?:e[+\-]?\d+)?)/i;

  function text(cell) {
    var given = cell.getAttribute("data-value");
    return (given !== null ? given : cell.textContent).replace(/\s+/g, " ").trim();
  }

  function number(value) {
    var found = NUMBER.exec(value);
    return found ? parseFloat(found[1].replace("\u2212", "-")) : null;
  }

  /* The columns of a table's head: for each, the header cells over it (top to bottom) and the
     lowest one, its leaf (sortable when it spans that column alone). */
  function columns(thead) {
    var grid = [];
    Array.prototype.forEach.call(thead.rows, function (row, r) {
      grid[r] = grid[r] || [];
      var c = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        while (grid[r][c]) { c += 1; }
        for (var i = 0; i < cell.rowSpan; i += 1) {
          grid[r + i] = grid[r + i] || [];
          for (var j = 0; j < cell.colSpan; j += 1) { grid[r + i][c + j] = cell; }
        }
        c += cell.colSpan;
      });
    });
    var width = grid.reduce(function (most, row) { return Math.max(most, row.length); }, 0);
    var found = [];
    for (var c = 0; c < width; c += 1) {
      var over = [];
      grid.forEach(function (row) {
        if (row[c] && over.indexOf(row[c]) < 0) { over.push(row[c]); }
      });
      var leaf = over[over.length - 1];
      found.push({
        names: over.map(function (cell) { return text(cell).toLowerCase(); }),
        leaf: leaf && leaf.colSpan === 1 ? leaf : null
      });
    }
    return found;
  }

  /* A header naming a facet: one of FACETS (alone or as a word, e.g. "condition / regime") or
     a swept parameter ("params.coreset_ratio"). */
  function facetName(name) {
    return SWEPT.test(name) || SIDES.indexOf(name) >= 0 || name.split(/[^a-z0-9_]+/).some(function (word) {
      return FACETS.indexOf(word) >= 0;
    });
  }

  function compare(a, b) {
    var x = number(a), y = number(b);
    if (x !== null && y !== null) { return x - y; }
    if (x !== null || y !== null) { return x !== null ? -1 : 1; }
    if (a === "" || b === "") { return a === "" ? (b === "" ? 0 : 1) : -1; }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function readState() {
    var hash = window.location.hash.slice(1);
    return hash.indexOf("=") < 0 ? new URLSearchParams() : new URLSearchParams(hash);
  }

  function writeState(params) {
    var hash = params.toString();
    var url = window.location.href.split("#")[0] + (hash ? "#" + hash : "");
    try {
      window.history.replaceState(null, "", url);
    } catch (error) {
      window.location.hash = hash;
    }
  }

  function Table(table, id) {
    var self = this;
    this.id = id;
    this.table = table;
    this.body = table.tBodies[0];
    this.cols = columns(table.tHead);
    this.rows = Array.prototype.slice.call(this.body.rows);
    this.values = this.rows.map(function (row) {
      return Array.prototype.map.call(row.cells, text);
    });
    this.haystack = this.values.map(function (values) { return values.join(" ").toLowerCase(); });
    this.sort = null;
    this.filters = {};
    this.query = "";
    this.tools = document.createElement("div");
    this.tools.className = "table-tools";
    this.search = document.createElement("input");
    this.search.type = "search";
    this.search.placeholder = "search";
    this.search.setAttribute("aria-label", "search the table");
    this.search.addEventListener("input", function () { self.query = self.search.value; self.apply(true); });
    this.tools.appendChild(this.search);
    this.selects = {};
    this.cols.forEach(function (col, c) { self.facet(col, c); });
    this.count = document.createElement("span");
    this.count.className = "table-count";
    this.count.setAttribute("aria-live", "polite");
    this.tools.appendChild(this.count);
    this.cols.forEach(function (col, c) { if (col.leaf) { self.sortable(col.leaf, c); } });
    var wrap = table.parentNode.classList.contains("table-wrap") ? table.parentNode : table;
    wrap.parentNode.insertBefore(this.tools, wrap);
  }

  Table.prototype.facet = function (col, c) {
    var self = this;
    var name = col.names.filter(facetName)[0];
    if (!name || !col.leaf) { return; }
    var seen = [];
    this.values.forEach(function (values) {
      if (values[c] && seen.indexOf(values[c]) < 0) { seen.push(values[c]); }
    });
    if (seen.length < 2 || seen.length > MAX_OPTIONS) { return; }
    var select = document.createElement("select");
    select.setAttribute("aria-label", "filter by " + name);
    select.appendChild(new Option("all " + name, ""));
    seen.forEach(function (value) { select.appendChild(new Option(value, value)); });
    select.addEventListener("change", function () {
      if (select.value) { self.filters[c] = select.value; } else { delete self.filters[c]; }
      self.apply(true);
    });
    this.selects[c] = select;
    this.tools.appendChild(select);
  };

  Table.prototype.sortable = function (th, c) {
    var self = this;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (th.firstChild) { button.appendChild(th.firstChild); }
    th.appendChild(button);
    button.addEventListener("click", function () {
      var now = self.sort;
      if (!now || now.col !== c) { self.sort = {col: c, dir: 1}; }
      else if (now.dir === 1) { self.sort = {col: c, dir: -1}; }
      else { self.sort = null; }
      self.apply(true);
    });
  };

  Table.prototype.load = function (params) {
    var p = this.id + ".";
    var sort = /^(\d+)([ad])$/.exec(params.get(p + "s") || "");
    this.sort = sort && this.cols[+sort[1]] && this.cols[+sort[1]].leaf
      ? {col: +sort[1], dir: sort[2] === "a" ? 1 : -1} : null;
    this.query = params.get(p + "q") || "";
    this.search.value = this.query;
    this.filters = {};
    for (var c in this.selects) {
      var wanted = params.get(p + "f" + c);
      var select = this.selects[c];
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === wanted; });
      select.value = wanted && known ? wanted : "";
      if (select.value) { this.filters[c] = select.value; }
    }
    this.apply(false);
  };

  Table.prototype.save = function (params) {
    var p = this.id + ".";
    Array.from(params.keys()).forEach(function (key) {
      if (key.indexOf(p) === 0) { params.delete(key); }
    });
    if (this.sort) { params.set(p + "s", this.sort.col + (this.sort.dir === 1 ? "a" : "d")); }
    if (this.query) { params.set(p + "q", this.query); }
    for (var c in this.filters) { params.set(p + "f" + c, this.filters[c]); }
  };

  Table.prototype.apply = function (remember) {
    var self = this;
    var query = this.query.toLowerCase();
    var shown = 0;
    this.rows.forEach(function (row, i) {
      var values = self.values[i];
      var keep = query === "" || self.haystack[i].indexOf(query) >= 0;
      for (var c in self.filters) { keep = keep && values[c] === self.filters[c]; }
      row.hidden = !keep;
      shown += keep ? 1 : 0;
    });
    var order = this.rows.map(function (row, i) { return i; });
    var sort = this.sort;
    if (sort) {
      order.sort(function (i, j) {
        return sort.dir * compare(self.values[i][sort.col], self.values[j][sort.col]) || i - j;
      });
    }
    order.forEach(function (i) { self.body.appendChild(self.rows[i]); });
    this.table.classList.toggle("sorted", sort !== null);
    this.cols.forEach(function (col, c) {
      if (!col.leaf) { return; }
      if (sort && sort.col === c) {
        col.leaf.setAttribute("aria-sort", sort.dir === 1 ? "ascending" : "descending");
      } else {
        col.leaf.removeAttribute("aria-sort");
      }
    });
    this.count.textContent = shown + " of " + this.rows.length + " rows";
    if (remember) {
      var params = readState();
      this.save(params);
      writeState(params);
    }
  };

  function usable(table) {
    if (!table.tHead || table.tBodies.length !== 1) { return false; }
    var width = columns(table.tHead).length;
    var rows = table.tBodies[0].rows;
    if (rows.length < 2) { return false; }
    return Array.prototype.every.call(rows, function (row) {
      return row.cells.length === width && Array.prototype.every.call(row.cells, function (cell) {
        return cell.colSpan === 1 && cell.rowSpan === 1;
      });
    });
  }

  function start() {
    var tables = [];
    Array.prototype.forEach.call(document.querySelectorAll("table.data"), function (table, n) {
      if (usable(table)) { tables.push(new Table(table, table.id || "t" + n)); }
    });
    var params = readState();
    tables.forEach(function (table) { table.load(params); });
    window.evalsuiteTables = tables;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
