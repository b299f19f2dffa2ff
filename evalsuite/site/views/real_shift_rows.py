"""The rows of the page "Synthetic vs real shift" (`views.real_shift` computes them): the drop
of every shift with its paired interval, and how well a synthetic shift's per-image score
changes predict a real condition's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from evalsuite.evaluation.correlation import Correlation
from evalsuite.evaluation.significance import (
    reachable,
    resamples_needed,
    significant,
    smallest_holm_p,
    smallest_p,
)
from evalsuite.site.read.records import Cell
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffRow, DiffTable, PairedValue
from evalsuite.site.views.real_shift_cells import Shift

FAMILY = "real_shift"
"""The drops' Holm family (every drop of the page)."""
TITLE = "shifted − clean: the real conditions and MVTec-Shift"


@dataclass(frozen=True)
class Inside:
    """Whether each of two drops lies inside the other's paired 95% interval (the ends
    included).

    Attributes:
        real_in_synthetic: the real condition's drop lies inside MVTec-Shift's interval.
        synthetic_in_real: MVTec-Shift's drop lies inside the real condition's interval.
    """

    real_in_synthetic: bool
    synthetic_in_real: bool


def inside(real: PairedValue | None, synthetic: PairedValue | None) -> Inside | None:
    """Whether each drop lies inside the other's interval (None unless both have one)."""
    if real is None or synthetic is None or real.diff is None or synthetic.diff is None:
        return None
    r, s = real.diff, synthetic.diff
    return Inside(
        real_in_synthetic=s.ci95[0] <= r.delta <= s.ci95[1],
        synthetic_in_real=r.ci95[0] <= s.delta <= r.ci95[1],
    )


@dataclass(frozen=True)
class DropRow:
    """One shift's drop (shifted − clean, paired by image id) on one detector and category.

    Attributes:
        shift: the shift.
        row: the comparison as the site's difference tables hold it (a: clean/none, b: the
            shifted cells; one `PairedValue` per `DIFF_METRICS` metric, pooled over seeds).
        common: the images paired with clean, summed over seeds.
        unpaired: the shifted cells' images without a clean image of the same id, summed over
            seeds (left out of the drop).
        inside: a real row's `Inside` against MVTec-Shift's drop of the same detector,
            category and metric, per metric (None: a synthetic row, or a drop without interval).
        anchor: the row's id on the page.
    """

    shift: Shift
    row: DiffRow
    common: int
    unpaired: int
    inside: tuple[Inside | None, ...]
    anchor: str

    @property
    def label(self) -> str:
        return self.row.b.label

    @property
    def scope(self) -> str:
        return self.row.b.scope

    @property
    def category(self) -> str:
        return self.row.b.category

    @property
    def values(self) -> tuple[PairedValue, ...]:
        return self.row.values

    def value(self, metric: str) -> PairedValue:
        """The drop of `metric`."""
        return self.row.values[DIFF_METRICS.index(metric)]


@dataclass(frozen=True)
class Point:
    """One paired image of a prediction: its score changes (detector units)."""

    seed: int
    sample: str
    anomalous: bool
    synthetic: float
    real: float


@dataclass(frozen=True)
class Prediction:
    """How well a synthetic shift's per-image score changes predict a real condition's, on one
    detector and category: Spearman's rho of Δsyn = s_syn − s_clean and Δreal = s_real −
    s_clean over the images present in all three cells.

    Attributes:
        label, scope, category: the detector and category.
        real, synthetic: the two shifts.
        value: rho with its bootstrap interval (pooled over seeds), or None with `reason`.
        p_holm: its p-value Holm-adjusted over every prediction of the page.
        reason: why there is no correlation (e.g. "not comparable: ...").
        real_drop, synthetic_drop: the two image AUROC drops (their rows of the drop table).
        inside: whether each image AUROC drop lies inside the other's interval.
        cells: (clean, synthetic, real) cells per seed.
        points: the paired images (the chart's points).
        anchor: the row's id on the page.
    """

    label: str
    scope: str
    category: str
    real: Shift
    synthetic: Shift
    value: Correlation | None
    p_holm: float | None
    reason: str | None
    real_drop: DropRow | None
    synthetic_drop: DropRow | None
    inside: Inside | None
    cells: tuple[tuple[Cell, Cell, Cell], ...]
    points: tuple[Point, ...]
    anchor: str

    @property
    def significant(self) -> bool:
        """Holm-adjusted p < 0.05 (`significance.significant`)."""
        return self.value is not None and significant(self.p_holm)


def anchor_of(kind: str, *parts: str) -> str:
    """A readable row id, unique by a digest of every part."""
    digest = hashlib.sha256("|".join((kind, *parts)).encode("utf-8")).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9_]+", "-", "-".join((kind, *parts[:3])))
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class RealShiftView:
    """What the page shows; `empty` for a study without both a real condition and MVTec-Shift.

    Attributes:
        drops: every drop row, by detector, scope, category and shift.
        predictions: every (real condition, synthetic shift) pair per detector and category.
    """

    drops: tuple[DropRow, ...]
    predictions: tuple[Prediction, ...]

    @property
    def empty(self) -> bool:
        return not self.drops

    @property
    def table(self) -> DiffTable:
        """The drops as one family of differences (its Holm family and significance notes)."""
        return DiffTable(FAMILY, TITLE, tuple(d.row for d in self.drops))

    @property
    def n_tested(self) -> int:
        """Predictions with a correlation (their Holm family's size)."""
        return sum(p.value is not None for p in self.predictions)

    @property
    def resamples(self) -> int | None:
        """The most resamples of a correlation (None without one)."""
        counts = [p.value.n_resamples for p in self.predictions if p.value is not None]
        return max(counts) if counts else None

    @property
    def predictions_reachable(self) -> bool:
        """Whether the resamples can make any correlation significant after Holm."""
        return self.resamples is None or reachable(self.resamples, self.n_tested)

    @property
    def predictions_min_p(self) -> float | None:
        return None if self.resamples is None else smallest_p(self.resamples)

    @property
    def predictions_min_p_holm(self) -> float | None:
        if self.resamples is None:
            return None
        return smallest_holm_p(self.resamples, self.n_tested)

    @property
    def predictions_resamples_needed(self) -> int:
        return resamples_needed(self.n_tested)
