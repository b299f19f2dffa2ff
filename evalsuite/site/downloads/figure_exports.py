"""Every chart of the study pages as a figure for a paper: SVG, PDF and PNG (300 dpi) in
`downloads/figures/`, rendered offline by vl-convert from the very spec the page embeds, and
laid out again for print at a column's and the text's width (`PRINT_WIDTHS`: SVG and PDF in
`downloads/figures/column/` and `.../text/`, every font at least 7 pt at that size; see
`print_layout`).

The figures are found by walking the pages' view models, so a chart added to a study page is
exported without being listed here. Cell pages are left out (one ROC chart per cell; their
points are in `downloads/roc_points.csv`). The page's chart configuration (`assets/charts.js`)
is applied, with a font every machine has and a white background; legends and axis titles are
those of the page.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass
from functools import lru_cache
from typing import Any

import pikepdf
import vl_convert

from evalsuite.site.catalogue import PRINT_WIDTHS, Figure
from evalsuite.site.charts.specs import Chart
from evalsuite.site.downloads import print_layout
from evalsuite.site.pages.assets import vegalite_version
from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import Cell

FORMATS = ("svg", "pdf", "png")
PNG_DPI = 300
RENDER_CACHE = 256
"""Figures whose drawings a process keeps (a site has a few dozen; a few MB each at most)."""
CLOSE = 0.05
"""A print drawing within this fraction of its width is only scaled (fonts stay above 7 pt);
one further off is drawn again with its panels corrected."""
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


def _charts(
    value: Any, names: tuple[str, ...], idents: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...], Chart]]:
    """(names, identifying names, chart) of every Chart in a view model (lists, tuples and
    dataclasses); the identifying names are those of `_IDENTS` (a detector, a scope, a param)."""
    if isinstance(value, Chart):
        yield names, idents, value
    elif isinstance(value, list | tuple):
        for item in value:
            title = item.title if isinstance(item, Chart) else ""
            yield from _charts(item, (*names, title) if title else names, idents)
    elif is_dataclass(value) and not isinstance(value, type | Cell):
        own = tuple(getattr(value, a) for a in _IDENTS if isinstance(getattr(value, a, None), str))
        for field in fields(value):
            yield from _charts(
                getattr(value, field.name), (*names, *own, field.name), (*idents, *own)
            )


def site_figures(pages: Sequence[Page]) -> list[Figure]:
    """Every chart of the pages that draw charts, except the cell pages, in page order."""
    found: list[tuple[Figure, list[str], tuple[str, ...]]] = []
    taken: set[str] = set()
    for page in pages:
        if not page.charts or page.path.startswith("cells/"):
            continue
        stem = page.path.removesuffix(".html")
        for key, value in page.data.items():
            for names, idents, chart in _charts(value, (key,)):
                parts = [n.removesuffix("_chart") for n in names if n not in _GENERIC]
                base = slug("-".join([stem, *parts]))
                name, n = base, 1
                while name in taken:
                    n += 1
                    name = f"{base}-{n}"
                taken.add(name)
                figure = Figure(
                    name, chart.title or page.title, chart.caption, page.path, chart.spec
                )
                found.append((figure, parts, idents))
    return _titled(found)


def _titled(found: Sequence[tuple[Figure, list[str], tuple[str, ...]]]) -> list[Figure]:
    """The figures with titles that name what tells them apart: the detector (scope, param)
    of a view model, and for a title shared by several figures, the chart's own name."""
    counts = Counter(figure.title for figure, _, _ in found)
    titled = []
    for figure, parts, idents in found:
        said = set(re.split(r"[^a-z0-9_.]+", figure.title.lower()))
        more = [
            part
            for part in dict.fromkeys(parts)
            if part.lower() not in said and (part in idents or counts[figure.title] > 1)
        ]
        title = " · ".join([figure.title, *more])
        titled.append(dataclasses.replace(figure, title=title))
    return titled


def render(figure: Figure) -> dict[str, bytes]:
    """The figure in every format: the SVG Vega draws, and the PDF and PNG (PNG_DPI) made from
    that SVG (one Vega run; PDF points and PNG inches both count one SVG pixel as 1/72 inch).

    The conversion is a pure function of the spec and takes most of a site build, so its
    results are kept for the process: a second build of the same results (`site --force`
    after a failure, the tests) draws nothing again.
    """
    return dict(_render(json.dumps(unlinked(figure.spec))))


def unlinked(spec: Any) -> Any:
    """A spec without its `href` channels (the drop heatmaps' links to cell pages): a figure
    file is read outside the site, where the page's relative links lead nowhere. A spec
    without one is returned equal, its keys in the same order."""
    if isinstance(spec, dict):
        return {
            key: (
                {k: unlinked(v) for k, v in value.items() if k != "href"}
                if key == "encoding" and isinstance(value, dict)
                else unlinked(value)
            )
            for key, value in spec.items()
        }
    if isinstance(spec, list):
        return [unlinked(item) for item in spec]
    return spec


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


def render_print(figure: Figure, size: str) -> dict[str, bytes]:
    """The figure laid out for print at `PRINT_WIDTHS[size]` inches: SVG (width and height in
    pt) and PDF (its MediaBox that size)."""
    return dict(_render_print(json.dumps(unlinked(figure.spec)), 72 * PRINT_WIDTHS[size]))


@lru_cache(maxsize=2 * RENDER_CACHE)
def _render_print(spec: str, width: float) -> tuple[tuple[str, bytes], ...]:
    """`render_print` of a spec given as JSON text, `width` in pt: drawn once (and when more
    than CLOSE off, again with the panels widened or narrowed by the shortfall), then stated
    at exactly `width`."""
    page = json.loads(spec)
    svg = _draw_print(print_layout.print_spec(page, width))
    drawn = svg_size(svg)[0]
    if abs(drawn - width) > CLOSE * width:
        again = _draw_print(print_layout.print_spec(page, width, extra=width - drawn))
        if abs(svg_size(again)[0] - width) < abs(drawn - width):
            svg = again
    return (("svg", sized(svg, width, "pt").encode("utf-8")), ("pdf", pdf_of(sized(svg, width))))


def _draw_print(spec: dict[str, Any]) -> str:
    drawn = vl_convert.vegalite_to_svg(
        spec, vl_version=vegalite_version(), config=print_layout.CONFIG
    )
    return stable_ids(str(drawn))


_SIZE = re.compile(r'<svg ([^>]*?)width="([0-9.]+)" height="([0-9.]+)"')


def svg_size(svg: str) -> tuple[float, float]:
    """The width and height of a drawing (its root's attributes, px)."""
    found = _root(svg)
    return float(found[2]), float(found[3])


def _root(svg: str) -> re.Match[str]:
    found = _SIZE.search(svg)
    if found is None:
        raise ValueError("not an SVG drawing with a width and height")
    return found


def sized(svg: str, width: float, unit: str = "") -> str:
    """`svg` stated `width` wide (in `unit`; none: px, one PDF point each), its drawing
    scaled to fit (the root's viewBox keeps the drawn size)."""
    found = _root(svg)
    height = float(found[3]) * width / float(found[2])
    stated = f'<svg {found[1]}width="{_number(width)}{unit}" height="{_number(height)}{unit}"'
    return svg[: found.start()] + stated + svg[found.end() :]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def figure_files(figures: Sequence[Figure]) -> dict[str, bytes]:
    """Site path -> content of every figure in every format, and of its print versions."""
    files = {}
    for figure in figures:
        files.update({figure.path(fmt): content for fmt, content in render(figure).items()})
        for size in PRINT_WIDTHS:
            printed = render_print(figure, size)
            files.update({figure.print_path(size, f): c for f, c in printed.items()})
    return files
