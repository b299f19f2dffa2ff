"""The attribution's rules on numbers made by hand (no study): a share needs a mixed drop whose
interval excludes 0, shares are ratios of the same resamples, the regression's edge cases, the
binned curve, Wilson's interval at its edges."""

from __future__ import annotations

import numpy as np
import pytest

from evalsuite.evaluation.paired import difference_of
from evalsuite.site.views.attribution_dependence import binned, regression
from evalsuite.site.views.attribution_findings import NOTHING, findings
from evalsuite.site.views.attribution_rates import rate
from evalsuite.site.views.attribution_rows import FactorDrop
from evalsuite.site.views.attribution_shares import mean_drops, shares
from evalsuite.site.views.difference_rows import PairedValue
from evalsuite.site.views.stats import Delta


def _drop(variant: str, deltas: np.ndarray, category: str = "disc") -> FactorDrop:
    diff = difference_of(
        "image_auroc", (0.9, 0.9 + float(np.mean(deltas))), deltas, 20, 0, 0.95, "x"
    )
    value = PairedValue(diff, Delta(diff.delta, None, 1), None, None)
    return FactorDrop(
        "d", "per_class", "none", category, "mvtec_shift", variant, 2, "image_auroc", value, ()
    )


def test_no_share_of_a_mixed_drop_whose_interval_includes_zero() -> None:
    rng = np.random.default_rng(0)
    mixed = rng.normal(-0.01, 0.05, 500)  # its interval includes 0
    found = shares([_drop("all", mixed), _drop("exposure", mixed / 2)])
    (alone, rest) = found
    assert (alone.kind, rest.kind) == ("alone", "rest")
    for share in found:
        assert share.share is None and share.ci95 is None
        assert share.reason is not None and "includes 0: no drop to share" in share.reason


def test_a_share_is_the_ratio_of_the_same_resamples() -> None:
    rng = np.random.default_rng(1)
    mixed = rng.normal(-0.3, 0.05, 500)
    exposure = 0.6 * mixed + rng.normal(0, 0.01, 500)
    minus = 0.5 * mixed
    mixed[3] = 0.0  # a resample without a mixed drop has no ratio
    drops = [_drop("all", mixed), _drop("exposure", exposure), _drop("all-minus:exposure", minus)]
    alone, left_out, rest = shares(drops)
    ratios = np.delete(exposure / np.where(mixed == 0, 1, mixed), 3)
    assert alone.share == pytest.approx(np.mean(exposure) / np.mean(mixed))
    assert alone.ci95 == pytest.approx(tuple(np.quantile(ratios, [0.025, 0.975])))
    assert (left_out.factor, left_out.kind) == ("exposure", "leave_one_out")
    assert left_out.share == pytest.approx(1 - np.mean(minus) / np.mean(mixed))
    assert rest.factor == "not explained" and rest.share == pytest.approx(1 - alone.share)


def test_the_mean_drop_averages_the_factors_alone_and_their_resamples() -> None:
    rng = np.random.default_rng(2)
    parts = {v: rng.normal(-0.1 * i, 0.02, 200) for i, v in enumerate(["exposure", "rotation"])}
    drops = [_drop(v, d, c) for v, d in parts.items() for c in ("a", "b")]
    drops += [_drop("all", rng.normal(-0.5, 0.02, 200)), _drop("photometric", parts["exposure"])]
    mean_at, mean_over = mean_drops(drops)  # at severity 2, over every severity
    assert (mean_at.severity, mean_over.severity, mean_at.n_drops) == (2, None, 4)
    expected = np.mean([parts["exposure"], parts["rotation"]], axis=0)
    assert mean_at.delta == pytest.approx(float(np.mean(expected)))
    assert mean_at.ci95 == pytest.approx(tuple(np.quantile(expected, [0.025, 0.975])))


def test_the_regression_equals_lstsq_and_says_when_it_cannot() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 2, (40, 3))
    x[:, 1] *= 100.0  # another unit: the slope is per unit of its parameter
    y = 1.5 * x[:, 0] - 0.02 * x[:, 1] + rng.normal(0, 0.1, 40)
    slopes = regression(x, y, 200, 0)
    expected = np.linalg.lstsq(np.column_stack([np.ones(40), x]), y, rcond=None)[0][1:]
    assert [s[0] for s in slopes] == pytest.approx(expected.tolist())
    low, high = slopes[0][1] or (0.0, 0.0)
    assert low < 1.5 < high
    fixed = regression(np.column_stack([x, np.full(40, 3.0)]), y, 50, 0)[3]
    assert fixed == (None, None, "the parameter does not vary over these images")
    few = regression(x[:4], y[:4], 50, 0)
    assert all(s[0] is None and "too few for a regression" in (s[2] or "") for s in few)


def test_the_binned_curve_covers_every_image_in_parameter_order() -> None:
    x = np.arange(20, dtype=float)
    y = x * 0.1
    bins = binned(x, y, 100, 0)
    assert len(bins) == 4 and sum(b.n for b in bins) == 20
    assert [b.mean_change for b in bins] == sorted(b.mean_change for b in bins)
    assert bins[0].mean_change == pytest.approx(np.mean(y[:5]))
    (one,) = binned(np.ones(5), y[:5], 100, 0)
    assert (one.low, one.high, one.n) == (1.0, 1.0, 5)


def test_wilson_at_its_edges() -> None:
    assert rate(0, 0).value is None and rate(0, 0).ci95 is None
    assert rate(0, 10).ci95 == (0.0, pytest.approx(0.2775327998628899))
    assert rate(10, 10).ci95 == (pytest.approx(0.7224672001371101), 1.0)


def test_a_sentence_names_a_factor_only_when_its_interval_excludes_zero() -> None:
    rng = np.random.default_rng(3)
    mixed = rng.normal(-0.4, 0.03, 400)
    noise = rng.normal(-0.01, 0.05, 400)  # a cost whose interval includes 0
    drops = [_drop("all", mixed), _drop("blur", noise), _drop("all-minus:blur", mixed - noise)]
    (finding,) = findings(drops)
    assert finding.mixed.value == pytest.approx(-np.mean(mixed))
    assert finding.mixed.distinguishable and finding.claims == ()
    assert finding.text.endswith(f"; {NOTHING}.")
    assert finding.text.startswith("disc, d, severity 2: the mixed shift costs 0.")

    rotation = 0.9 * mixed + rng.normal(0, 0.01, 400)
    drops += [
        _drop("geometric", mixed),
        _drop("rotation", rotation),
        _drop("all-minus:rotation", mixed - rotation),
    ]
    (finding,) = findings(drops)
    group, factor, removal = finding.claims
    assert (group.kind, group.variant) == ("group", "geometric")
    assert (factor.kind, factor.variant) == ("factor", "rotation")
    assert factor.value == pytest.approx(-np.mean(rotation))
    low, high = np.quantile(-rotation, [0.025, 0.975])
    assert factor.ci95 == pytest.approx((low, high))
    # what leaving rotation out recovers: D(all-minus:rotation) − D(all), resample by resample
    assert (removal.kind, removal.variant) == ("removal", "rotation")
    assert removal.value == pytest.approx(np.mean(rotation) * -1)
    assert removal.ci95 == pytest.approx(tuple(np.quantile(-rotation, [0.025, 0.975])))
    assert (
        "rotation alone costs 0." in finding.text
        and "leaving out rotation recovers" in finding.text
    )
    assert "blur" not in finding.text


def test_no_sentence_where_no_variant_was_evaluated() -> None:
    """A block with the mixed shift alone (a scope outside `shift.factor_scopes`) says nothing
    of the factors: it gets no sentence, rather than "no single factor's drop ..."."""
    rng = np.random.default_rng(5)
    mixed = rng.normal(-0.4, 0.03, 400)
    assert findings([_drop("all", mixed)]) == []
    alone = [_drop("all", mixed, "other"), _drop("exposure", 0.9 * mixed, "other")]
    (finding,) = findings([_drop("all", mixed), *alone])
    assert finding.category == "other"
