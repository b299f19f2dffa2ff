"""The page "Synthetic vs real shift" (issue 24): a `RealShiftView` as a page, and its place in
the navigation, after "What the shift does" (after "Shift & regimes" without it).

The page and its entry exist only when the view is not empty: a study without both a real
condition and MVTec-Shift builds the same site, byte for byte, as before the page existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsuite.site.charts.real_shift import change_scatter
from evalsuite.site.charts.specs import Chart
from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import METRIC_NAMES
from evalsuite.site.views.difference_rows import DIFF_METRICS
from evalsuite.site.views.real_shift_cells import MIXED, REAL_FAMILY, shift_order
from evalsuite.site.views.real_shift_findings import PAGE, sentences
from evalsuite.site.views.real_shift_rows import DropRow, Prediction, RealShiftView

PATH = PAGE
TITLE = "Synthetic vs real shift"
AFTER = ("attribution.html", "shift.html")
"""The navigation entries the page's entry follows, the first present."""
ANALOGUE = "exposure"
"""MVTec-Shift's factor closest to a real lighting change."""


@dataclass(frozen=True)
class Block:
    """One detector label and scope of the page: its drops, predictions and chart."""

    label: str
    scope: str
    drops: tuple[DropRow, ...]
    predictions: tuple[Prediction, ...]
    chart: Chart | None


@dataclass(frozen=True)
class Comparable:
    """What the paragraph "What is comparable" names from the study.

    Attributes:
        conditions: the real conditions evaluated.
        variants: MVTec-Shift's factor variants evaluated beside the mixed shift.
        analogue: whether the `exposure` variant is among them.
        common: images paired with clean over every real row.
        unpaired: real images without a regular counterpart over every real row.
    """

    conditions: tuple[str, ...]
    variants: tuple[str, ...]
    analogue: bool
    common: int
    unpaired: int


def real_shift_page(view: RealShiftView) -> Page:
    """The page of a non-empty view."""
    keys = list(dict.fromkeys((d.label, d.scope) for d in view.drops))
    blocks = [_block(view, label, scope) for label, scope in keys]
    drops, predictions = sentences(view)
    data = {
        "drop_sentences": drops,
        "prediction_sentences": predictions,
        "changes": blocks,
        "table": view.table,
        "view": view,
        "comparable": comparable(view),
        "metrics": DIFF_METRICS,
        "metric_titles": METRIC_NAMES,
    }
    return Page(PATH, "real_shift.html.j2", TITLE, PATH, data, charts=True)


def _block(view: RealShiftView, label: str, scope: str) -> Block:
    """The rows and chart of one detector label and scope."""
    drops = tuple(d for d in view.drops if (d.label, d.scope) == (label, scope))
    predictions = tuple(p for p in view.predictions if (p.label, p.scope) == (label, scope))
    return Block(label, scope, drops, predictions, _chart(predictions))


def comparable(view: RealShiftView) -> Comparable:
    """What the study holds of each shift (the paragraph "What is comparable")."""
    shifts = sorted({d.shift for d in view.drops}, key=shift_order)
    reals = [d for d in view.drops if d.shift.kind == REAL_FAMILY]
    variants = tuple(s.name for s in shifts if s.kind != REAL_FAMILY and s != MIXED)
    return Comparable(
        conditions=tuple(s.name for s in shifts if s.kind == REAL_FAMILY),
        variants=variants,
        analogue=ANALOGUE in variants,
        common=sum(d.common for d in reals),
        unpaired=sum(d.unpaired for d in reals),
    )


def _chart(predictions: tuple[Prediction, ...]) -> Chart | None:
    """Δsyn against Δreal of MVTec-Shift and every real condition, per category."""
    mine = [p for p in predictions if p.synthetic == MIXED and p.points]
    if not mine:
        return None
    rows = [
        {
            "x": point.synthetic,
            "y": point.real,
            "col": p.category,
            "row": p.real.name,
            "status": "anomalous" if point.anomalous else "normal",
            "id": point.sample,
            "seed": point.seed,
        }
        for p in mine
        for point in p.points
    ]
    columns = list(dict.fromkeys(p.category for p in mine))
    panels = list(dict.fromkeys(p.real.name for p in mine))
    spec = change_scatter(
        rows, columns=columns, panels=panels, x_title="MVTec-Shift − clean (score)"
    )
    caption = (
        "Each point is a test image present in clean, MVTec-Shift and the real condition: its "
        "score change under MVTec-Shift (x) and under the real condition (y), in the "
        "detector's score units; a panel per category (columns) and real condition (rows)."
    )
    return Chart("Per-image score changes: MVTec-Shift vs real", caption, spec)


def with_real_shift(nav: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The navigation with the page's entry after "What the shift does", else after "Shift &
    regimes" (at the end without either)."""
    hrefs = [href for href, _ in nav]
    at = next((hrefs.index(a) + 1 for a in AFTER if a in hrefs), len(nav))
    return (*nav[:at], (PATH, TITLE), *nav[at:])
