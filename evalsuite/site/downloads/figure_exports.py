"""Every chart of the study pages as a figure for a paper: SVG, PDF and PNG (300 dpi) in
`downloads/figures/`, rendered offline by vl-convert from the very spec the page embeds.

The figures are found by walking the pages' view models, so a chart added to a study page is
exported without being listed here. Cell pages are left out (one ROC chart per cell; their
points are in `downloads/roc_points.csv`). The page's chart configuration (`assets/charts.js`)
is applied, with a font every machine has and a white background; legends and axis titles are
those of the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass
from functools import lru_cache
from typing import Any

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


_FONTS = re.compile(rb"/DescendantFonts \[(\d+) 0 R\]")
PDF_TRIES = 32


def pdf_of(svg: str) -> bytes:
    """The PDF of an SVG, the same bytes on every call.

    vl-convert numbers the objects of the embedded fonts in hash-map order, which changes from
    call to call; of the k! numberings of k fonts, the one whose fonts' descendants are numbered
    in font order is taken (one try in k! finds it; a PDF with more than four fonts is taken as
    it comes after PDF_TRIES tries).
    """
    pdf = b""
    for _ in range(PDF_TRIES):
        pdf = stable_pdf(bytes(vl_convert.svg_to_pdf(svg)))
        numbers = [int(n) for n in _FONTS.findall(pdf)]
        if numbers == sorted(numbers):
            break
    return pdf


_RESOURCES = re.compile(rb"(<<\n)((?: +/[^\s/]+ \d+ 0 R\n)+)( *>>)")
_XREF = re.compile(rb"\nxref\n0 (\d+)\n")


def stable_pdf(pdf: bytes) -> bytes:
    """`pdf` in a canonical form: objects in number order, resource dictionaries sorted.

    vl-convert writes fonts and resource entries (`/xo3 15 0 R` lines) in hash-map order, which
    changes from call to call; neither order means anything. The objects are cut out at the
    offsets of the cross-reference table and written in number order, with a new table. A PDF
    of another shape (several table sections, free objects) is returned with its resources
    sorted only.
    """
    pdf = _RESOURCES.sub(lambda m: m[1] + b"".join(sorted(m[2].splitlines(True))) + m[3], pdf)
    found = list(_XREF.finditer(pdf))
    if len(found) != 1:
        return pdf
    table, count = found[0].end(), int(found[0][1])
    rows = [pdf[table + 20 * i : table + 20 * (i + 1)] for i in range(count)]
    if count < 2 or any(row[17:18] != b"n" for row in rows[1:]):
        return pdf
    offsets = [int(row[:10]) for row in rows[1:]]
    starts = sorted(offsets)
    ends = [*starts[1:], found[0].start() + 1]  # an object runs to the next one, or the table
    cut = {start: pdf[start:end] for start, end in zip(starts, ends, strict=True)}
    body = bytearray(pdf[: min(offsets)])
    new_rows = [rows[0]]
    for offset in offsets:  # object 1, 2, ... in number order
        new_rows.append(b"%010d 00000 n\r\n" % len(body))
        body += cut[offset]
    tail = pdf[table + 20 * count :]
    start = len(body)
    body += b"xref\n0 %d\n" % count + b"".join(new_rows) + tail
    return re.sub(rb"startxref\n\d+\n", b"startxref\n%d\n" % start, bytes(body))


def figure_files(figures: Sequence[Figure]) -> dict[str, bytes]:
    """Site path -> content of every figure in every format."""
    files = {}
    for figure in figures:
        files.update({figure.path(fmt): content for fmt, content in render(figure).items()})
    return files
