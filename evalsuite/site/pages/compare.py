"""The Compare page (`compare.html`): any two cells of one category and seed side by side.

The page embeds the list of cells; each category's data (every cell's metrics, image scores,
ROC curves and image threshold; every computed pair's paired differences and moved images:
`views.compare`) is a script of its own, `compare/data-<n>-<category>.js`, which the page's
`assets/compare.js` adds when a cell of that category is chosen: no fetch, so it works from
`file://`. The chosen pair is kept in the URL's fragment (`compare.html#a=<cell>&b=<cell>`, a
cell named by its page's file name); with JavaScript off the page lists the computed pairs with
their paired differences. Each cell page links its pairs here (`links`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalsuite.evaluation.paired import Difference
from evalsuite.results.paths import sanitise
from evalsuite.site.pages.study import Page
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import METRIC_NAMES, METRICS, Cell, Results
from evalsuite.site.views.compare import (
    Pair,
    comparable_groups,
    compare_pair,
    pairs_of,
    reused,
)
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffTable, points, side

PATH = "compare.html"
TITLE = "Compare two cells"


@dataclass(frozen=True)
class PairRow:
    """A row of the page's list of computed pairs (what it shows with JavaScript off).

    Attributes:
        pair: the pair.
        fragment: the page's fragment that shows it ("a=...&b=...").
        values: (delta, interval) texts per DIFF_METRICS metric ("" when none).
    """

    pair: Pair
    fragment: str
    values: tuple[tuple[str, str], ...]

    @property
    def a_text(self) -> str:
        """The first cell: its detector and side."""
        return f"{self.pair.a.key.group.label} · {side(self.pair.a.key.group)}"

    @property
    def b_text(self) -> str:
        """The second cell."""
        return f"{self.pair.b.key.group.label} · {side(self.pair.b.key.group)}"


@dataclass(frozen=True)
class CompareView:
    """The page, its data scripts and the links the cell pages show.

    Attributes:
        page: the page.
        files: path in the site -> content of each category's data script.
        links: a cell's record path -> (what the other cell is, the page's URL from the site
            root with its fragment) for each computed pair it belongs to.
        n_pairs: the computed pairs.
    """

    page: Page
    files: dict[str, bytes]
    links: dict[str, tuple[tuple[str, str], ...]]
    n_pairs: int


def name(cell: Cell) -> str:
    """A cell's name in the fragment: its page's file name without `.html`."""
    return cell.page.removeprefix("cells/").removesuffix(".html")


def title(cell: Cell, multi_seed: bool) -> str:
    """A cell within its category: detector · scope · condition/regime (· sweep) (· seed)."""
    text = f"{cell.key.group.label} · {side(cell.key.group)}"
    return f"{text} · seed {cell.key.seed}" if multi_seed else text


def fragment(a: Cell, b: Cell) -> str:
    """The page's fragment that shows the pair."""
    return f"a={name(a)}&b={name(b)}"


def compare_view(results: Results, tables: Sequence[DiffTable]) -> CompareView:
    """The Compare page of `results`; `tables`: the site's difference tables (their rows'
    numbers are reused for the same pairs)."""
    loader = EvidenceLoader(results.source)
    known = reused(tables)
    by_category: dict[str, list[list[Cell]]] = {}
    for (category, _), cells in comparable_groups(results).items():
        by_category.setdefault(category, []).append(cells)
    files: dict[str, bytes] = {}
    index: list[list[Any]] = []
    computed: list[Pair] = []
    for n, category in enumerate(sorted(by_category)):
        script = f"compare/data-{n}-{sanitise(category)}.js"
        seeds = by_category[category]
        pairs = [compare_pair(a, b, loader, known) for cells in seeds for a, b in pairs_of(cells)]
        cells = [cell for found in seeds for cell in found]
        files[script] = _script(script, _data(cells, pairs))
        index += [_entry(cell, script, results.multi_seed) for cell in cells]
        computed += pairs
    data = {
        "index": {
            "cells": index,
            "metrics": [[m, METRIC_NAMES[m]] for m in METRICS],
            "paired": list(DIFF_METRICS),
        },
        "rows": [_row(p) for p in computed],
        "diff_titles": [METRIC_NAMES[m] for m in DIFF_METRICS],
        "multi_seed": results.multi_seed,
    }
    page = Page(PATH, "compare.html.j2", TITLE, PATH, data)
    return CompareView(page, files, _links(computed), len(computed))


def _entry(cell: Cell, script: str, multi_seed: bool) -> list[Any]:
    """A cell in the page's list: name, title, category, seed, data script, page."""
    g = cell.key.group
    return [name(cell), title(cell, multi_seed), g.category, cell.key.seed, script, cell.page]


def with_compare(nav: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The navigation with Compare after the per-image statistics (else last)."""
    entries = list(nav)
    after = [i for i, (href, _) in enumerate(entries) if href == "statistics.html"]
    where = after[0] + 1 if after else len(entries)
    return (*entries[:where], (PATH, "Compare"), *entries[where:])


def _row(pair: Pair) -> PairRow:
    values = tuple(_texts(v.diff) for v in pair.values)
    return PairRow(pair, fragment(pair.a, pair.b), values)


def _texts(diff: Difference | None) -> tuple[str, str]:
    """A difference and its interval in points, or two empty texts."""
    if diff is None:
        return "", ""
    low, high = diff.ci95
    return points(diff.delta), f"[{points(low)}, {points(high)}]"


def _links(pairs: Sequence[Pair]) -> dict[str, tuple[tuple[str, str], ...]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        href = f"{PATH}#{fragment(pair.a, pair.b)}"
        for this, other in ((pair.a, pair.b), (pair.b, pair.a)):
            found.setdefault(this.relpath, []).append((_what(this, other), href))
    return {path: tuple(links) for path, links in found.items()}


def _what(this: Cell, other: Cell) -> str:
    """How a cell page names the other cell of a pair: what differs."""
    a, b = this.key.group, other.key.group
    if a.label != b.label:
        return b.label
    if a.scope != b.scope:
        return b.scope
    if a.kind != b.kind:
        return b.kind
    return "baseline" if b.sweep is None else f"{b.sweep[0]}={b.sweep[1]}"


def _data(cells: Sequence[Cell], pairs: Sequence[Pair]) -> dict[str, Any]:
    """One category's data: its test images, every cell's numbers and every pair's."""
    samples: dict[str, tuple[int, str]] = {}
    for cell in cells:
        for s in cell.record["scores"]:
            samples.setdefault(s["id"], (int(s["label"]), str(s["defect"])))
    ids = sorted(samples)
    position = {sample: i for i, sample in enumerate(ids)}
    return {
        "ids": ids,
        "labels": [samples[i][0] for i in ids],
        "defects": [samples[i][1] for i in ids],
        "cells": {name(c): _cell(c, position) for c in cells},
        "pairs": {f"{name(p.a)}|{name(p.b)}": _pair(p, position) for p in pairs},
    }


def _cell(cell: Cell, position: dict[str, int]) -> dict[str, Any]:
    scores: list[float | None] = [None] * len(position)
    for s in cell.record["scores"]:
        scores[position[s["id"]]] = float(s["score"])
    metrics = [
        None
        if m not in cell.metrics or cell.metrics[m].value is None
        else [cell.metrics[m].value, *(cell.metrics[m].ci or (None, None))]
        for m in METRICS
    ]
    threshold = ((cell.record.get("threshold") or {}).get("image") or {}).get("value")
    roc = cell.record.get("roc") or {}
    return {
        "metrics": metrics,
        "scores": scores,
        "threshold": threshold,
        "roc": {
            level: [roc[level]["fpr"], roc[level]["tpr"]] for level in sorted(roc) if roc[level]
        },
    }


def _pair(pair: Pair, position: dict[str, int]) -> dict[str, Any]:
    values = [
        [v.diff.delta, v.diff.ci95[0], v.diff.ci95[1], v.diff.p_value, v.diff.n_resamples]
        if v.diff is not None
        else (v.reason or "")
        for v in pair.values
    ]
    moved = [[position[m.sample], round(m.rank_a, 4), round(m.rank_b, 4)] for m in pair.moved]
    return {"n": pair.n_images, "d": values, "moved": moved}


def _script(path: str, data: dict[str, Any]) -> bytes:
    """The data script: registers `data` under its own path (JSON is JavaScript)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    key = json.dumps(path)
    head = "window.evalsuiteCompare = window.evalsuiteCompare || {};\n"
    return f"{head}window.evalsuiteCompare[{key}] = {text};\n".encode()
