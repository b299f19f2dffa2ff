"""The rows of "What the shift does": which change of the shift costs a detector how much.

A **variant** is one shift a study evaluates beside clean: MVTec-Shift's mixed shift (`all`), a
factor alone, a group or leave-one-out (`shift.factors`), or an ImageNet-C corruption type
(`shift.family = "corruptions"`), each at a severity. Its cells are read from the records
(`sweep.param == "shift.factors"`, or the study's mixed shift); `config.shift` names the
variant's `family` (absent: `mvtec_shift`), its `factors` and its `severity`. Every number here
is computed by `attribution` from the records, paired with clean on the same image ids, and
each row keeps the cells it comes from so that the page links every number to its evidence.

The rows:
- `FactorDrop`: one metric's paired drop (variant − clean) per detector, scope, regime,
  category (or the mean over categories), family, variant and severity, with the paired
  bootstrap interval and the Holm-adjusted p within its `AttributionView.drops` family (one
  family per detector label x scope x shift family).
- `MeanDrop`: the drop averaged over a family's variants (and categories) at one severity, or
  over every severity (`severity` None), like the corruption benchmarks' mean corruption error.
- `Share`: the fraction of the mixed shift's drop that a factor explains, alone (drop of the
  factor alone / drop of `all`) and by leave-one-out ((drop of `all` − drop of
  `all-minus:<factor>`) / drop of `all`), and the part the factors alone leave unexplained
  (1 − the sum of the shares alone: interaction and what no single factor carries).
- `Dependence`: on the mixed shift, how an image's score change (shifted − clean, same id)
  depends on one recorded parameter of its draw, for normal or anomalous images: a slope from a
  regression over all recorded parameters with its bootstrap interval, and a binned curve.
- `LineRates`: what the change does on the line: the false-alarm rate on normal images and the
  miss rate on defective images at the clean cell's image threshold (chosen on clean val), per
  variant and severity, beside the clean rates at that same threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsuite.site.read.records import Cell
from evalsuite.site.views.difference_rows import PairedValue

FAMILIES = ("mvtec_shift", "corruptions")
"""The shift families, in the order the page shows them."""


@dataclass(frozen=True)
class FactorDrop:
    """One metric's paired drop under one variant against clean.

    Attributes:
        label: the detector's label; scope: per_class or unified.
        regime: none or threshold (retrain where the study asked for it).
        category: the category, or "mean" (the mean over the categories' rows before it).
        family: mvtec_shift or corruptions.
        variant: the variant's name, e.g. "exposure", "all-minus:blur", "fog", "all".
        severity: the variant's severity.
        metric: one of `difference_rows.DIFF_METRICS`.
        value: variant − clean, paired, with its interval and Holm-adjusted p.
        cells: (clean cell, variant cell) per seed.
    """

    label: str
    scope: str
    regime: str
    category: str
    family: str
    variant: str
    severity: int
    metric: str
    value: PairedValue
    cells: tuple[tuple[Cell, Cell], ...]


@dataclass(frozen=True)
class MeanDrop:
    """A family's drop averaged over its variants (mean corruption error's analogue).

    Attributes:
        label, scope, regime, family, metric: as in `FactorDrop`.
        severity: the severity averaged at, or None for the mean over every severity.
        delta: the mean drop (variant − clean, a fraction; negative when the metric falls).
        ci95: its paired bootstrap interval, or None with `reason`.
        n_drops: the drops averaged.
        reason: why there is no interval.
    """

    label: str
    scope: str
    regime: str
    family: str
    metric: str
    severity: int | None
    delta: float
    ci95: tuple[float, float] | None
    n_drops: int
    reason: str | None = None


@dataclass(frozen=True)
class Share:
    """The part of the mixed shift's drop of one metric that one factor explains.

    Attributes:
        label, scope, regime, category, metric, severity: as in `FactorDrop`.
        factor: the factor, or "not explained" (1 − the sum of the shares alone).
        kind: "alone" (drop of the factor alone / drop of all), "leave_one_out"
            ((drop of all − drop of all-minus:<factor>) / drop of all) or "rest".
        share: the fraction of the mixed drop (None with `reason`, e.g. no drop to share).
        ci95: its paired bootstrap interval (the same resamples for numerator and denominator).
        reason: why there is no share.
        cells: every cell the share is computed from (clean, all, the variant's).
    """

    label: str
    scope: str
    regime: str
    category: str
    metric: str
    severity: int
    factor: str
    kind: str
    share: float | None
    ci95: tuple[float, float] | None
    reason: str | None
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Bin:
    """One bin of a binned dependence curve.

    Attributes:
        low, high: the parameter's edges; n: images in the bin.
        mean_change: their mean score change (shifted − clean); ci95: its bootstrap interval.
    """

    low: float
    high: float
    n: int
    mean_change: float
    ci95: tuple[float, float] | None


@dataclass(frozen=True)
class Dependence:
    """How the per-image score change on the mixed shift depends on one recorded parameter.

    Attributes:
        label, scope, category, severity: as in `FactorDrop` (regime none).
        status: "normal" or "anomalous" images.
        factor: the factor the parameter belongs to, e.g. "exposure".
        param: the recorded parameter, e.g. "exposure_stops".
        slope: the regression coefficient (score change per unit of the parameter, the other
            parameters held fixed); ci95: its bootstrap interval (None with `reason`).
        n_images: images in the regression.
        bins: the binned curve, in parameter order.
        reason: why there is no slope.
        cells: (clean cell, shifted cell) per seed.
    """

    label: str
    scope: str
    category: str
    severity: int
    status: str
    factor: str
    param: str
    slope: float | None
    ci95: tuple[float, float] | None
    n_images: int
    bins: tuple[Bin, ...]
    reason: str | None
    cells: tuple[tuple[Cell, Cell], ...]


@dataclass(frozen=True)
class Rate:
    """A rate with its interval.

    Attributes:
        k: events (false alarms or misses); n: images; value: k / n (None when n is 0).
        ci95: its interval (None when n is 0).
    """

    k: int
    n: int
    value: float | None
    ci95: tuple[float, float] | None


@dataclass(frozen=True)
class LineRates:
    """False alarms and misses under one variant at the clean threshold.

    Attributes:
        label, scope, category, family, variant, severity: as in `FactorDrop`.
        threshold: the clean cell's image threshold (chosen on clean val).
        false_alarm, miss: under the variant; clean_false_alarm, clean_miss: on clean test.
        cells: (clean cell, variant cell) per seed.
    """

    label: str
    scope: str
    category: str
    family: str
    variant: str
    severity: int
    threshold: float
    false_alarm: Rate
    miss: Rate
    clean_false_alarm: Rate
    clean_miss: Rate
    cells: tuple[tuple[Cell, Cell], ...]


@dataclass(frozen=True)
class AttributionView:
    """Everything the page "What the shift does" shows, empty when no variant was evaluated."""

    drops: tuple[FactorDrop, ...]
    means: tuple[MeanDrop, ...]
    shares: tuple[Share, ...]
    dependence: tuple[Dependence, ...]
    rates: tuple[LineRates, ...]

    @property
    def empty(self) -> bool:
        """True when the study evaluated no shift variant (the page is left out)."""
        return not (self.drops or self.shares or self.dependence or self.rates)
