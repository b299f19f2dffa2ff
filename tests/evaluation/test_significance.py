"""The significance rule: Holm on a textbook example, the star, what resamples can reach, the
zero-by-construction rule, and planted paired differences (huge vs nil)."""

from __future__ import annotations

import numpy as np
import pytest

from evalsuite.evaluation.paired import bootstrap_p_value, holm, paired_image_difference
from evalsuite.evaluation.significance import (
    ALPHA,
    CellInputs,
    family_resamples,
    reachable,
    resamples_needed,
    significant,
    smallest_holm_p,
    smallest_p,
    zero_by_construction,
)
from evalsuite.presets import preset


def test_holm_on_the_textbook_example() -> None:
    """Holm (1979) as in the usual worked example: four hypotheses with p = 0.01, 0.04, 0.03,
    0.005 at alpha 0.05 reject H4 (0.005 < 0.05/4) and H1 (0.01 < 0.05/3) and stop at H3
    (0.03 > 0.05/2). Adjusted by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 gives
    0.02, 0.03, 0.06, 0.04, made non-decreasing: 0.02, 0.03, 0.06, 0.06."""
    raw = [0.01, 0.04, 0.03, 0.005]
    adjusted = holm(raw)
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [significant(float(p)) for p in adjusted] == [True, False, False, True]
    with_untested = holm([0.01, np.nan, 0.04, 0.03, 0.005])  # NaN: not in the family
    assert np.isnan(with_untested[1])
    assert with_untested[[0, 2, 3, 4]].tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_a_star_is_a_holm_p_below_005_and_nothing_else() -> None:
    assert significant(0.049) and not significant(0.05) and not significant(0.6)
    assert not significant(None)


def test_what_the_resamples_can_reach() -> None:
    every_resample_positive = np.full(200, 0.1)
    assert bootstrap_p_value(every_resample_positive) == pytest.approx(smallest_p(200))
    assert smallest_p(200) == pytest.approx(2 / 201)
    # the demo: 200 resamples, a family of 24 tests -> at best 0.24 after Holm
    assert smallest_holm_p(200, 24) == pytest.approx(48 / 201)
    assert not reachable(200, 24) and not reachable(200, 60)
    assert resamples_needed(24) == 960
    assert reachable(960, 24) and not reachable(959, 24)
    assert reachable(2000, 50) and not reachable(2000, 51)


def test_the_paper_preset_can_reach_significance_in_a_family_of_50() -> None:
    assert preset("paper")["evaluation"]["bootstrap"] >= 2000


def test_zero_by_construction_rule() -> None:
    model, clean_val, shift_val = "clean model", "clean val", "shift val"
    none = CellInputs(model, clean_val, "shift test")
    threshold = CellInputs(model, shift_val, "shift test")  # threshold-only change
    retrain = CellInputs("shift model", shift_val, "shift test")
    for metric in ("image_auroc", "pixel_auroc", "aupro_0.3", "image_aupr"):
        assert zero_by_construction(metric, none, threshold), metric
        assert not zero_by_construction(metric, none, retrain), metric
    for metric in ("image_f1", "pixel_f1", "image_precision"):
        assert not zero_by_construction(metric, none, threshold), metric
        assert zero_by_construction(metric, none, none), metric


def test_planted_pairs_huge_difference_is_significant_nil_is_not() -> None:
    """Detector b separates the classes perfectly, a ranks them backwards: every resample's
    difference is +1, p is the smallest 2000 resamples allow, and after Holm over a family of
    two it is still below 0.05. A detector compared with itself: delta 0, p = 1."""
    labels = np.arange(60) % 3 == 0
    rng = np.random.default_rng(0)
    good = labels + 0.1 * rng.random(60)
    backwards = -good
    huge = paired_image_difference("image_auroc", labels, backwards, good, n=2000, seed=1)
    nil = paired_image_difference("image_auroc", labels, good, good, n=2000, seed=1)
    assert huge.delta == pytest.approx(1.0) and huge.p_value == smallest_p(2000)
    assert nil.delta == 0.0 and nil.p_value == 1.0
    adjusted = holm([huge.p_value, nil.p_value])
    assert adjusted.tolist() == pytest.approx([2 * smallest_p(2000), 1.0])
    assert [significant(float(p)) for p in adjusted] == [True, False]


def test_a_family_is_resampled_twice_as_often_as_significance_needs() -> None:
    assert family_resamples(80) == 6400 and family_resamples(1) == 100
    for size in (1, 3, 24, 80, 160, 333):
        wanted = family_resamples(size)
        assert wanted % 100 == 0 and wanted >= 2 * resamples_needed(size)
        assert smallest_holm_p(wanted, size) <= ALPHA / 2 + 1e-4
