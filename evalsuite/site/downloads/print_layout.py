"""A page's chart laid out again for print, at the width it will have in a paper.

The page's specs are drawn for a screen (panels 170 px wide, 11-12 px text), so a figure
scaled to a column of a paper prints its text at about 3 pt. Here the same spec (its data, marks
and scales untouched) gets a print layout instead: every font at `FONT` px, panels as wide as
`width` allows, facets wrapped onto several lines of panels (a two-line header names each
panel's row and column value) rather than shrunk, x labels turned upright when they would not
fit side by side, and legends broken into as many columns as fit. `figure_exports` draws it at
one SVG pixel per point, measures the drawing and corrects the panel width once, then states
the exact printed width; `FONT` leaves room for that last scaling (`MIN_FONT` at 8/7 too wide).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

FONT = 8.0
"""Every text's size in the print layout, in px (= pt at the printed width, before fitting)."""
MIN_FONT = 7.0
"""The smallest font size a printed figure may have, in pt."""
SPACING = 8
"""Space between panels (px)."""
CONFIG: dict[str, Any] = {
    "background": "white",
    "font": "Liberation Sans, DejaVu Sans, Arial, Helvetica, sans-serif",
    "view": {"stroke": "#ddd"},
    "axis": {"labelFontSize": FONT, "titleFontSize": FONT, "titleFontWeight": "normal"},
    "header": {
        "labelFontSize": FONT,
        "titleFontSize": FONT,
        "labelFontWeight": "bold",
        "titleFontWeight": "normal",
    },
    "legend": {"labelFontSize": FONT, "titleFontSize": FONT, "symbolSize": 40},
    "title": {"fontSize": FONT},
    "text": {"fontSize": FONT},
    "facet": {"spacing": SPACING},
    "concat": {"spacing": SPACING},
}
"""The print configuration (Vega-Embed's on the page, with every font at FONT)."""
_FONT_KEYS = frozenset({"fontSize", "labelFontSize", "titleFontSize"})
_CHAR = 0.56
"""Average width of a character, in em (Liberation Sans, digits and lower case)."""
_AXIS = 48.0
"""First guess of the width outside the panels (a y axis's labels and title, padding)."""
_SIDE_LEGEND = 56.0
"""First guess of the width of a legend on the right (a colour ramp)."""
PANEL = "panel"
"""The field a two-way facet is wrapped on: '<row value>|<column value>'."""


def text_width(text: str) -> float:
    """Estimated width of `text` at FONT (px)."""
    return _CHAR * FONT * len(text)


def print_spec(spec: dict[str, Any], width: float, extra: float = 0.0) -> dict[str, Any]:
    """A copy of `spec` laid out to be drawn `width` px (= pt) wide.

    Args:
        spec: the page's Vega-Lite spec (inline named data `rows`).
        width: the printed width in pt.
        extra: px to add to the panels of each facet row (the measured shortfall of a first
            drawing, shared among a row's panels).
    """
    out = copy.deepcopy(spec)
    rows: list[dict[str, Any]] = []
    for values in out.get("datasets", {}).values():
        rows.extend(values)
    _fonts(out)
    _legends(out, width, rows)
    _fit(out, width, rows, extra)
    return out


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every dictionary of a spec, depth first."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def _fonts(spec: dict[str, Any]) -> None:
    """Every font size the spec sets itself (headers, marks, titles) -> FONT."""
    for node in list(_nodes(spec)):
        for key in _FONT_KEYS & node.keys():
            if isinstance(node[key], int | float):
                node[key] = FONT


def _values(field_def: dict[str, Any] | None, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The values of an encoding or facet field: its explicit sort, else those in the data."""
    if field_def is None:
        return []
    sort = field_def.get("sort")
    if isinstance(sort, list):
        return [str(v) for v in sort]
    field = str(field_def.get("field"))
    return sorted({str(r[field]) for r in rows if r.get(field) is not None})


def _legends(spec: dict[str, Any], width: float, rows: Sequence[dict[str, Any]]) -> None:
    """Symbol legends in as many columns as fit the width; colour ramps kept short."""
    for node in list(_nodes(spec)):
        legend = node.get("legend")
        if not isinstance(legend, dict) or "field" not in node:
            continue
        if node.get("type") == "quantitative":
            legend.update(gradientLength=60, gradientThickness=8)
            continue
        scale = node.get("scale") or {}
        domain = scale.get("domain") if isinstance(scale.get("domain"), list) else None
        labels = [str(v) for v in domain] if domain else _values(node, rows)
        if not labels:
            continue
        entry = max(text_width(label) for label in labels) + 20
        title = text_width(str(legend.get("title") or "")) + 10
        fits_beside = int((width - title) // entry)
        if fits_beside >= len(labels):
            legend["columns"] = len(labels)
        else:
            legend.update(columns=max(1, int(width // entry)), titleOrient="top")


def _fit(node: dict[str, Any], width: float, rows: Sequence[dict[str, Any]], extra: float) -> None:
    """Size the panels of `node` (a facet, a concatenation or a single view) to `width`."""
    if "vconcat" in node:
        for item in node["vconcat"]:
            _fit(item, width, rows, extra)
    elif "facet" in node and "spec" in node:
        _facet(node, width, rows, extra)
    else:
        inner = node
        panel = max(40.0, width - _overhead(inner) + extra)
        _panel(inner, panel, rows)


def _overhead(inner: dict[str, Any]) -> float:
    """First guess of the width a view needs beside its panels."""
    ramp = any(
        isinstance(n.get("legend"), dict) and n.get("type") == "quantitative" for n in _nodes(inner)
    )
    return _AXIS + (_SIDE_LEGEND if ramp else 0.0)


def _layers(inner: dict[str, Any]) -> list[dict[str, Any]]:
    return list(inner.get("layer", [inner]))


def _encoding(inner: dict[str, Any], channel: str) -> dict[str, Any] | None:
    for layer in _layers(inner):
        found = (layer.get("encoding") or {}).get(channel)
        if isinstance(found, dict) and "field" in found:
            return found
    return None


def _marks(inner: dict[str, Any]) -> set[str]:
    marks = set()
    for layer in _layers(inner):
        mark = layer.get("mark")
        marks.add(str(mark.get("type") if isinstance(mark, dict) else mark))
    return marks


def min_panel(inner: dict[str, Any], rows: Sequence[dict[str, Any]]) -> float:
    """The narrowest a panel of `inner` may print: room for its bars or bands and labels."""
    x = _encoding(inner, "x")
    text = "text" in _marks(inner)
    if x is None or x.get("type") == "quantitative":
        return 100.0 if text else 72.0
    bands = len(_values(x, rows)) or 1
    groups = len(_values(_encoding(inner, "xOffset"), rows)) or 1
    band = 20.0 if text else max(3.0 * groups, FONT + 2)
    return max(60.0, bands * band)


def _facet(
    node: dict[str, Any], width: float, rows: Sequence[dict[str, Any]], extra: float
) -> None:
    """Wrap a facet onto as many panels per line as fit `width`, then size its panels."""
    facet, inner = node["facet"], node["spec"]
    wrapped = "field" in facet
    column = facet if wrapped else facet.get("column")
    row = None if wrapped else facet.get("row")
    columns = _values(column, rows) or [""]
    lines = _values(row, rows) or [""]
    room = width - _overhead(inner)
    fit = max(1, int((room + SPACING) // (min_panel(inner, rows) + SPACING)))
    if fit >= len(columns):
        per_line = len(columns) if row is not None else min(fit, len(columns))
    else:  # a divisor keeps each facet row's panels on whole lines, unless it wastes half
        divisor = max(d for d in range(1, fit + 1) if len(columns) % d == 0)
        per_line = divisor if 2 * divisor > fit else fit
    node["facet"] = _wrapped(node, column, row, columns, lines)
    node["columns"] = per_line
    node["spacing"] = SPACING
    panel = (room - (per_line - 1) * SPACING + extra) / per_line
    _panel(inner, max(30.0, panel), rows)


def _wrapped(
    node: dict[str, Any],
    column: dict[str, Any] | None,
    row: dict[str, Any] | None,
    columns: list[str],
    lines: list[str],
) -> dict[str, Any]:
    """The facet as one wrapped field with two-line headers (row value over column value)."""
    header = {"labelExpr": "split(datum.label, '|')", "labelFontSize": FONT, "labelLimit": 0}
    title = (column or {}).get("title")
    if isinstance(title, str):
        title = title.split(" · ")
    header.update({"titleFontSize": FONT} if title else {})
    if row is None:
        field = (column or {}).get("field", PANEL)
        return {
            "field": field,
            "type": "nominal",
            "sort": columns,
            "title": title,
            "header": header,
        }
    calculate = f"datum['{row['field']}'] + '|' + datum['{(column or {}).get('field')}']"
    node["transform"] = [*node.get("transform", []), {"calculate": calculate, "as": PANEL}]
    order = [f"{line}|{col}" for line in lines for col in columns]
    return {"field": PANEL, "type": "nominal", "sort": order, "title": title, "header": header}


def _panel(inner: dict[str, Any], panel: float, rows: Sequence[dict[str, Any]]) -> None:
    """Panel size (the page's aspect ratio kept) and x labels upright where they crowd."""
    old_w, old_h = inner.get("width"), inner.get("height")
    aspect = (
        old_h / old_w if isinstance(old_w, int | float) and isinstance(old_h, int | float) else 0.7
    )
    inner["width"] = round(panel, 1)
    inner["height"] = round(min(max(panel * aspect, 44.0), 140.0), 1)
    x = _encoding(inner, "x")
    if x is None or x.get("type") == "quantitative":
        return
    labels = _values(x, rows)
    crowded = sum(text_width(label) + 4 for label in labels) > panel
    for layer in _layers(inner):
        found = (layer.get("encoding") or {}).get("x")
        if isinstance(found, dict) and "field" in found:
            axis = found.get("axis")
            kept = axis if isinstance(axis, dict) else {}
            found["axis"] = {**kept, "labelAngle": -90 if crowded else 0}
