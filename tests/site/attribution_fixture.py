"""A factor study's results and an `AttributionView` made by hand from its real cells, for the
tests of the page "What the shift does" (`test_site_attribution.py`).

The drops of image AUROC and F1 are real paired differences (`evaluation.paired`) between the
clean cell and each variant cell; the rest are known numbers written here, so that the tests
can find each of them on the page and in the downloads.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from studies import SMALL

from evalsuite.evaluation.paired import Difference, holm, paired_image_difference
from evalsuite.site.read.records import Cell, Results
from evalsuite.site.views.attribution_rows import (
    AttributionView,
    Bin,
    Dependence,
    FactorDrop,
    LineRates,
    MeanDrop,
    Rate,
    Share,
)
from evalsuite.site.views.difference_rows import DIFF_METRICS, PairedValue, zero_value
from evalsuite.site.views.stats import Delta

FACTORS = ["all", "exposure", "rotation"]
LABEL, SCOPE, CATEGORY = "patchcore", "per_class", "zipper"


def factor_study() -> dict[str, Any]:
    """One detector, one scope and category, the mixed shift and two factors (7 cells)."""
    study = json.loads(json.dumps(SMALL))
    study.update(
        name="factors",
        detectors=[SMALL["detectors"][0]],
        scopes=["per_class"],
        kinds=["clean/none", "shift/none", "shift/threshold"],
        sweeps=[],
        shift={"factors": FACTORS},
    )
    study["data"]["categories"] = [CATEGORY]
    return study


def cell(results: Results, regime: str, condition: str, variant: str | None) -> Cell:
    """The cell of a regime, condition and variant (None: the mixed shift's own cell)."""
    for c in results.cells:
        g = c.key.group
        sweep = None if variant is None else ("shift.factors", variant)
        if (g.regime, g.condition, g.sweep) == (regime, condition, sweep):
            return c
    raise LookupError((regime, condition, variant))


def _scores(c: Cell) -> tuple[np.ndarray, np.ndarray]:
    scores = c.record["scores"]
    return np.array([s["label"] for s in scores], bool), np.array([s["score"] for s in scores])


def _threshold(c: Cell) -> float:
    return float(c.record["threshold"]["image"]["value"])


def _difference(metric: str, clean: Cell, variant: Cell) -> Difference:
    labels, a = _scores(clean)
    _, b = _scores(variant)
    thresholds = (_threshold(clean), _threshold(variant))
    return paired_image_difference(metric, labels, a, b, thresholds=thresholds, n=200, seed=0)


def _rate(k: int, n: int) -> Rate:
    value = k / n
    return Rate(k, n, value, (max(0.0, value - 0.2), min(1.0, value + 0.2)))


def _line(clean: Cell, variant: Cell, name: str) -> LineRates:
    labels, a = _scores(clean)
    _, b = _scores(variant)
    t = _threshold(clean)
    normal, defective = int((~labels).sum()), int(labels.sum())
    return LineRates(
        LABEL,
        SCOPE,
        CATEGORY,
        "mvtec_shift",
        name,
        2,
        t,
        _rate(int((b[~labels] >= t).sum()), normal),
        _rate(int((b[labels] < t).sum()), defective),
        _rate(int((a[~labels] >= t).sum()), normal),
        _rate(int((a[labels] < t).sum()), defective),
        ((clean, variant),),
    )


def _drops(results: Results) -> list[FactorDrop]:
    """Real paired drops of image AUROC and F1 (regime none) for each variant, Holm over
    them; the other metrics undefined (no reason to compute them here); the threshold regime's
    image AUROC zero by construction; one severity-3 drop and a mean row of known numbers."""
    clean = cell(results, "none", "clean", None)
    found: list[tuple[str, str, Cell, Difference]] = []
    for variant in FACTORS:
        shifted = cell(results, "none", "shift", None if variant == "all" else variant)
        for metric in ("image_auroc", "image_f1"):
            found.append((variant, metric, shifted, _difference(metric, clean, shifted)))
    known = Difference("image_auroc", 0.9, 0.65, -0.25, (-0.4, -0.1), 0.02, 15, 200, 0)
    found.append(("exposure", "image_auroc", cell(results, "none", "shift", "exposure"), known))
    adjusted = holm([d.p_value for *_, d in found])
    drops = []
    for (variant, metric, shifted, d), p in zip(found, adjusted, strict=True):
        severity = 3 if d is known else 2
        value = PairedValue(d, Delta(d.delta, None, 1), float(p), None)
        pair = ((clean, shifted),)
        drops.append(_drop("none", CATEGORY, variant, severity, metric, value, pair))
    for variant in FACTORS:
        shifted = cell(results, "none", "shift", None if variant == "all" else variant)
        for metric in DIFF_METRICS[1:3]:
            value = PairedValue(None, Delta(None, None, 0), None, "no pixel evidence here")
            drops.append(_drop("none", CATEGORY, variant, 2, metric, value, ((clean, shifted),)))
        th = cell(results, "threshold", "shift", None if variant == "all" else variant)
        zero = zero_value("image_auroc", Delta(0.0, None, 1))
        drops.append(_drop("threshold", CATEGORY, variant, 2, "image_auroc", zero, ((clean, th),)))
    mean = Difference("image_auroc", 0.8, 0.7, -0.1, (-0.17, -0.03), 0.04, 15, 200, 0)
    value = PairedValue(mean, Delta(-0.1, None, 1), 0.04, None)
    mixed = ((clean, cell(results, "none", "shift", None)),)
    drops.append(_drop("none", "mean", "all", 2, "image_auroc", value, mixed))
    return drops


def _drop(
    regime: str,
    category: str,
    variant: str,
    severity: int,
    metric: str,
    value: PairedValue,
    pairs: tuple[tuple[Cell, Cell], ...],
) -> FactorDrop:
    """A drop of the fixture's detector and scope, on MVTec-Shift."""
    return FactorDrop(
        LABEL, SCOPE, regime, category, "mvtec_shift", variant, severity, metric, value, pairs
    )


def _shares(results: Results, drops: list[FactorDrop]) -> list[Share]:
    clean = cell(results, "none", "clean", None)
    mixed = cell(results, "none", "shift", None)
    shares = []
    for factor, alone, loo in (("exposure", 0.6, 0.55), ("rotation", 0.25, 0.3)):
        variant = cell(results, "none", "shift", factor)
        cells = (clean, mixed, variant)
        for kind, value in (("alone", alone), ("leave_one_out", loo)):
            ci = (value - 0.15, value + 0.1)
            shares.append(
                Share(
                    LABEL,
                    SCOPE,
                    "none",
                    CATEGORY,
                    "image_auroc",
                    2,
                    factor,
                    kind,
                    value,
                    ci,
                    None,
                    cells,
                )
            )
    shares.append(
        Share(
            LABEL,
            SCOPE,
            "none",
            CATEGORY,
            "image_auroc",
            2,
            "not explained",
            "rest",
            0.15,
            (-0.05, 0.35),
            None,
            (clean, mixed),
        )
    )
    shares.append(
        Share(
            LABEL,
            SCOPE,
            "none",
            CATEGORY,
            "image_f1",
            2,
            "exposure",
            "alone",
            None,
            None,
            "the mixed shift does not lower F1",
            (clean, mixed),
        )
    )
    return shares


def _dependence(results: Results) -> list[Dependence]:
    pair = ((cell(results, "none", "clean", None), cell(results, "none", "shift", None)),)
    bins = (
        Bin(-1.0, 0.0, 6, -2.5, (-4.0, -1.0)),
        Bin(0.0, 1.0, 5, 1.5, (0.25, 2.75)),
        Bin(1.0, 2.0, 4, 3.0, None),
    )
    return [
        Dependence(
            LABEL,
            SCOPE,
            CATEGORY,
            2,
            "normal",
            "exposure",
            "exposure_stops",
            2.75,
            (1.5, 4.0),
            5,
            bins,
            None,
            pair,
        ),
        Dependence(
            LABEL,
            SCOPE,
            CATEGORY,
            2,
            "anomalous",
            "exposure",
            "exposure_stops",
            -0.125,
            (-0.5, 0.25),
            10,
            bins[:2],
            None,
            pair,
        ),
        Dependence(
            LABEL,
            SCOPE,
            CATEGORY,
            2,
            "normal",
            "rotation",
            "rotation_deg",
            None,
            None,
            5,
            (),
            "too few images for 12 parameters",
            pair,
        ),
    ]


def hand_view(results: Results) -> AttributionView:
    """The view of the factor study's results, made by hand (see the module)."""
    drops = _drops(results)
    means = (
        MeanDrop(LABEL, SCOPE, "none", "mvtec_shift", "image_auroc", 2, -0.0875, (-0.2, 0.03), 3),
        MeanDrop(
            LABEL,
            SCOPE,
            "none",
            "mvtec_shift",
            "image_auroc",
            None,
            -0.05,
            None,
            4,
            "one seed only",
        ),
    )
    clean = cell(results, "none", "clean", None)
    rates = [
        _line(clean, cell(results, "none", "shift", None if v == "all" else v), v) for v in FACTORS
    ]
    return AttributionView(
        tuple(drops),
        means,
        tuple(_shares(results, drops)),
        tuple(_dependence(results)),
        tuple(rates),
    )
