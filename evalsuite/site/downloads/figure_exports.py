"""Every chart of the study pages as a figure for a paper: SVG, PDF and PNG (300 dpi) in
`downloads/figures/`, rendered offline by vl-convert from the very spec the page embeds.

The figures are found by walking the pages' view models, so a chart added to a study page is
exported without being listed here. Cell pages are left out (one ROC chart per cell; their
points are in `downloads/roc_points.csv`). The page's chart configuration (`assets/charts.js`)
is applied, with a font every machine has and a white background; legends and axis titles are
those of the page.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass
from functools import lru_cache
from typing import Any

import pikepdf
import vl_convert

from evalsuite.site.catalogue import Figure
from evalsuite.site.charts.specs import Chart
from evalsuite.site.pages.assets import vegalite_version
from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import Cell

FORMATS = ("svg", "pdf", "png")
PNG_DPI = 300
RENDER_CACHE = 256
"""Figures whose drawings a process keeps (a site has a few dozen; a few MB each at most)."""
CONFIG: dict[str, Any] = {
    "background": "white",
    "font": "Liberation Sans, DejaVu Sans, Arial, Helvetica, sans-serif",
    "view": {"stroke": "#ddd"},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal"},
    "header": {"labelFontSize": 12, "labelFontWeight": "bold"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
}
"""The page's Vega-Embed configuration (assets/charts.js), for print."""
_IDENTS = ("label", "scope", "param")
"""Attributes that tell apart the view models of a list (a detector's, a sweep's)."""
_GENERIC = frozenset({"chart", "charts", "rocs", "shortcuts", "sweeps"})
"""Names of view-model fields that say nothing about the chart (left out of file names)."""


def slug(text: str) -> str:
    """`text` as a portable file-name part: letters, digits, `.`, `_` and `-` only."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.").lower() or "chart"


def _charts(value: Any, names: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Chart]]:
    """(names, chart) of every Chart in a view model (lists, tuples and dataclasses)."""
    if isinstance(value, Chart):
        yield names, value
    elif isinstance(value, list | tuple):
        for item in value:
            title = item.title if isinstance(item, Chart) else ""
            yield from _charts(item, (*names, title) if title else names)
    elif is_dataclass(value) and not isinstance(value, type | Cell):
        own = tuple(getattr(value, a) for a in _IDENTS if isinstance(getattr(value, a, None), str))
        for field in fields(value):
            yield from _charts(getattr(value, field.name), (*names, *own, field.name))


def site_figures(pages: Sequence[Page]) -> list[Figure]:
    """Every chart of the pages that draw charts, except the cell pages, in page order."""
    found: list[Figure] = []
    taken: set[str] = set()
    for page in pages:
        if not page.charts or page.path.startswith("cells/"):
            continue
        stem = page.path.removesuffix(".html")
        for key, value in page.data.items():
            for names, chart in _charts(value, (key,)):
                parts = [n.removesuffix("_chart") for n in names if n not in _GENERIC]
                base = slug("-".join([stem, *parts]))
                name, n = base, 1
                while name in taken:
                    n += 1
                    name = f"{base}-{n}"
                taken.add(name)
                found.append(
                    Figure(name, chart.title or page.title, chart.caption, page.path, chart.spec)
                )
    return found


def render(figure: Figure) -> dict[str, bytes]:
    """The figure in every format: the SVG Vega draws, and the PDF and PNG (PNG_DPI) made from
    that SVG (one Vega run; PDF points and PNG inches both count one SVG pixel as 1/72 inch).

    The conversion is a pure function of the spec and takes most of a site build, so its
    results are kept for the process: a second build of the same results (`site --force`
    after a failure, the tests) draws nothing again.
    """
    return dict(_render(json.dumps(figure.spec)))


@lru_cache(maxsize=RENDER_CACHE)
def _render(spec: str) -> tuple[tuple[str, bytes], ...]:
    """`render` of a spec given as JSON text (hashable; key order kept)."""
    drawn = vl_convert.vegalite_to_svg(
        json.loads(spec), vl_version=vegalite_version(), config=CONFIG
    )
    svg = stable_ids(str(drawn))
    return (
        ("svg", svg.encode("utf-8")),
        ("pdf", pdf_of(svg)),
        ("png", bytes(vl_convert.svg_to_png(svg, scale=1.0, ppi=PNG_DPI))),
    )


_GRADIENT = re.compile(r"gradient_\d+")


def stable_ids(svg: str) -> str:
    """`svg` with its gradient ids numbered from 0 in order of appearance (Vega numbers them
    with a counter that runs over every chart drawn in the process)."""
    ids: dict[str, str] = {}
    return _GRADIENT.sub(lambda m: ids.setdefault(m[0], f"gradient_{len(ids)}"), svg)


def pdf_of(svg: str) -> bytes:
    """The PDF of an SVG, the same bytes on every call and in every process.

    vl-convert writes the objects of a PDF (fonts, resource entries) in hash-map order, which
    changes from call to call, and has no option to fix it. qpdf (through pikepdf) writes the
    document again in a canonical form: objects numbered in the order of a walk from the trailer
    (dictionary keys sorted), one classic cross-reference table, and an /ID computed from the
    content. The streams (drawing, font subsets) are copied as vl-convert wrote them.
    """
    with pikepdf.open(io.BytesIO(bytes(vl_convert.svg_to_pdf(svg)))) as document:
        out = io.BytesIO()
        document.save(
            out,
            deterministic_id=True,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            linearize=False,
        )
    return out.getvalue()


def figure_files(figures: Sequence[Figure]) -> dict[str, bytes]:
    """Site path -> content of every figure in every format."""
    files = {}
    for figure in figures:
        files.update({figure.path(fmt): content for fmt, content in render(figure).items()})
    return files
