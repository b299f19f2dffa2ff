"""`attribution_view`'s numbers against slow reference computations on a real small study: the
mixed drop is the site's shift difference, a share and the mean drop recomputed by hand from the
cells' scores, the regression against numpy's lstsq, the line rates against a count by hand and
scipy's Wilson interval; a study without variants has an empty view."""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from attribution_detectors import write_discs
from scipy.stats import binomtest

from evalsuite.config import StudyConfig
from evalsuite.evaluation.paired import Difference, holm, paired_image_difference
from evalsuite.runner import run_study
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import Cell, Results
from evalsuite.site.views.attribution import attribution_view
from evalsuite.site.views.attribution_cells import Variant, variant_of
from evalsuite.site.views.attribution_rows import AttributionView
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.resamples import paired_resamples
from evalsuite.site.views.tables import grid_of

CATEGORIES = ("disc", "ring")
VARIANTS = ["all", "exposure", "rotation", "photometric", "all-minus:rotation"]


def _study(root: Path, factors: list[str]) -> dict[str, object]:
    return {
        "name": "attribution",
        "kinds": ["clean/none", "shift/none"],
        "scopes": ["per_class"],
        "data": {"source": "mvtec", "root": str(root), "categories": list(CATEGORIES)},
        "detectors": [
            {
                "name": "brightness",
                "impl": "attribution_detectors:Brightness",
                "backbone": {"resize": 64, "crop": 64},
            }
        ],
        "shift": {"severity": 3, "factors": factors, "factor_kinds": ["shift/none"]},
        "evaluation": {"bootstrap": 100, "artifacts_per_cell": 0},
    }


def _run(base: Path, factors: list[str]) -> Results:
    data = write_discs(base / "data", CATEGORIES, n_train=6, n_good=30, n_defect=30)
    config = StudyConfig.model_validate(_study(data, factors))
    assert not run_study(config, base / "out", cache_dir=base / "cache", progress=False).failed
    return load_results(base / "out")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, AttributionView]:
    results = _run(tmp_path_factory.mktemp("attribution"), VARIANTS)
    grid = grid_of(results)
    return results, attribution_view(results, grid, paired_resamples(results, grid))


def _cell(results: Results, category: str, variant: str, kind: str = "shift/none") -> Cell:
    (found,) = (
        c
        for c in results.cells
        if c.key.group.kind == kind
        and c.key.group.category == category
        and (kind == "clean/none" or variant_of(c) == Variant("mvtec_shift", variant, 3))
        and (kind != "clean/none" or c.key.group.sweep is None)
    )
    return found


@functools.cache
def _study_resamples(source: Path) -> int:
    results = load_results(source)
    resamples = paired_resamples(results, grid_of(results))
    assert resamples is not None
    return resamples


def _resamples(results: Results) -> int:
    """The study's resamples of paired differences (the site's, `paired_resamples`)."""
    return _study_resamples(Path(results.source))


def _by_hand(results: Results, category: str, variant: str, metric: str) -> Difference:
    """variant − clean of an image metric from the two records' scores, paired by id."""
    clean, shifted = _cell(results, category, "", "clean/none"), _cell(results, category, variant)
    scores = {s["id"]: s["score"] for s in shifted.record["scores"]}
    ids = [s["id"] for s in clean.record["scores"]]
    labels = np.array([bool(s["label"]) for s in clean.record["scores"]])
    return paired_image_difference(
        metric,
        labels,
        np.array([s["score"] for s in clean.record["scores"]]),
        np.array([scores[i] for i in ids]),
        thresholds=(
            clean.record["threshold"]["image"]["value"],
            shifted.record["threshold"]["image"]["value"],
        ),
        n=_resamples(results),
        seed=0,
    )


def test_the_mixed_drop_is_the_sites_shift_difference(
    study: tuple[Results, AttributionView],
) -> None:
    results, view = study
    grid = grid_of(results)
    tables = difference_tables(results, grid, paired_resamples(results, grid))
    (shift,) = (t for t in tables if t.family == "shift")
    for row in shift.rows:
        for metric, value in zip(shift.metrics, row.values, strict=True):
            (drop,) = (
                d
                for d in view.drops
                if (d.variant, d.category, d.metric) == ("all", row.b.category, metric)
            )
            assert value.diff is not None and drop.value.diff is not None
            mine, theirs = drop.value.diff, value.diff
            assert (mine.delta, mine.ci95, mine.p_value) == (
                theirs.delta,
                theirs.ci95,
                theirs.p_value,
            )
            assert drop.value.seeds == value.seeds
            assert mine.n_resamples == theirs.n_resamples > 100  # the study's count, not B


def test_shares_and_the_mean_drop_by_hand(study: tuple[Results, AttributionView]) -> None:
    results, view = study
    for category in CATEGORIES:
        mixed = _by_hand(results, category, "all", "image_auroc")
        exposure = _by_hand(results, category, "exposure", "image_auroc")
        minus = _by_hand(results, category, "all-minus:rotation", "image_auroc")
        assert mixed.excludes_zero and mixed.deltas is not None
        assert exposure.deltas is not None and minus.deltas is not None

        def share(factor: str, kind: str, category: str = category) -> tuple[float, float, float]:
            (found,) = (
                s
                for s in view.shares
                if (s.factor, s.kind, s.category, s.metric)
                == (factor, kind, category, "image_auroc")
            )
            assert found.share is not None and found.ci95 is not None, found.reason
            return found.share, *found.ci95

        ratios = exposure.deltas / mixed.deltas
        assert share("exposure", "alone") == pytest.approx(
            (
                exposure.delta / mixed.delta,
                *np.quantile(ratios[np.isfinite(ratios)], [0.025, 0.975]),
            )
        )
        out = (mixed.deltas - minus.deltas) / mixed.deltas
        assert share("rotation", "leave_one_out") == pytest.approx(
            (
                (mixed.delta - minus.delta) / mixed.delta,
                *np.quantile(out[np.isfinite(out)], [0.025, 0.975]),
            )
        )
        rotation = _by_hand(results, category, "rotation", "image_auroc")
        rest = 1 - exposure.delta / mixed.delta - rotation.delta / mixed.delta
        assert share("not explained", "rest")[0] == pytest.approx(rest)
    # the mean drop over the factors alone (exposure, rotation) and both categories
    hand = [
        _by_hand(results, c, f, "image_auroc") for c in CATEGORIES for f in ("exposure", "rotation")
    ]
    (mean,) = (
        m for m in view.means if (m.metric, m.severity, m.regime) == ("image_auroc", 3, "none")
    )
    resampled = np.mean([d.deltas for d in hand], axis=0)
    assert mean.n_drops == 4 and mean.delta == pytest.approx(np.mean([d.delta for d in hand]))
    assert mean.ci95 == pytest.approx(tuple(np.quantile(resampled, [0.025, 0.975])))


def test_holm_is_applied_over_the_detectors_whole_family(
    study: tuple[Results, AttributionView],
) -> None:
    _, view = study
    tested = [d for d in view.drops if d.value.diff is not None]
    assert {(d.label, d.scope, d.family) for d in view.drops} == {
        ("brightness", "per_class", "mvtec_shift")
    }
    expected = holm([d.value.diff.p_value for d in tested if d.value.diff])
    assert [d.value.p_holm for d in tested] == pytest.approx(expected.tolist())
    assert len({d.category for d in view.drops}) == 3  # two categories and their mean


def _encode(draw: dict[str, object]) -> list[float]:
    """The eleven parameters as docs/evaluation.md states them, written out again."""
    d: dict[str, float] = {k: v for k, v in draw.items() if isinstance(v, float)}
    t = draw["translation"]
    corners = draw["corners"]
    assert isinstance(t, list) and isinstance(corners, list)
    return [
        abs(d["exposure_stops"]),
        abs(d["contrast"] - 1),
        abs(math.log(d["gamma"])),
        abs(d["temperature"]),
        d["blur_sigma"],
        d["noise_sigma"],
        d["gradient"] + abs(d["spot"]),
        abs(d["rotation_deg"]),
        math.hypot(*t),
        abs(d["scale"] - 1),
        sum(math.hypot(*c) for c in corners) / 4,
    ]


def test_the_regression_is_numpys_lstsq(study: tuple[Results, AttributionView]) -> None:
    results, view = study
    draws = results.splits["splits/shift-s3.json"]["images"]
    clean, shifted = _cell(results, "disc", "", "clean/none"), _cell(results, "disc", "all")
    spread = np.std([s["score"] for s in clean.record["scores"] if not s["label"]], ddof=1)
    before = {s["id"]: s["score"] for s in clean.record["scores"]}
    for status, label in (("normal", 0), ("anomalous", 1)):
        mine = [s for s in shifted.record["scores"] if s["label"] == label]
        x = np.array([_encode(draws[s["id"]]) for s in mine])
        y = np.array([(s["score"] - before[s["id"]]) / spread for s in mine])
        expected = np.linalg.lstsq(np.column_stack([np.ones(len(y)), x]), y, rcond=None)[0][1:]
        rows = [d for d in view.dependence if (d.category, d.status) == ("disc", status)]
        assert [d.n_images for d in rows] == [len(y)] * 11
        slopes = [d.slope for d in rows]
        assert slopes == pytest.approx(expected.tolist(), rel=1e-6, abs=1e-9)
        assert all(d.ci95 is not None and d.ci95[0] <= d.ci95[1] for d in rows)
        exposure = rows[0]
        assert exposure.param == "|exposure_stops|" and sum(b.n for b in exposure.bins) == len(y)
        assert [b.low for b in exposure.bins] == sorted(b.low for b in exposure.bins)


def test_line_rates_by_hand(study: tuple[Results, AttributionView]) -> None:
    results, view = study
    clean = _cell(results, "disc", "", "clean/none")
    threshold = clean.record["threshold"]["image"]["value"]
    for variant in VARIANTS:
        (row,) = (r for r in view.rates if (r.variant, r.category) == (variant, "disc"))
        scores = _cell(results, "disc", variant).record["scores"]
        normal = [s["score"] >= threshold for s in scores if not s["label"]]
        missed = [s["score"] < threshold for s in scores if s["label"]]
        assert row.threshold == threshold
        for rate, events in ((row.false_alarm, normal), (row.miss, missed)):
            assert (rate.k, rate.n) == (sum(events), len(events))
            wilson = binomtest(rate.k, rate.n).proportion_ci(0.95, method="wilson")
            assert rate.ci95 == pytest.approx((wilson.low, wilson.high))
    assert row.clean_false_alarm.n == sum(not s["label"] for s in clean.record["scores"])


def test_the_variant_is_read_from_the_records_fields(
    study: tuple[Results, AttributionView],
) -> None:
    """family, factors (a name or a one-name list) and severity: nothing from the path."""
    results, _ = study
    cell = _cell(results, "disc", "exposure")
    record = dict(cell.record)
    record["config"] = {
        **record["config"],
        "shift": {"family": "corruptions", "factors": ["fog"], "severity": 4, "seed": 0},
    }
    assert variant_of(replace(cell, record=record)) == Variant("corruptions", "fog", 4)
    assert variant_of(_cell(results, "disc", "all")) == Variant("mvtec_shift", "all", 3)
    assert variant_of(_cell(results, "disc", "", "clean/none")) is None


def test_a_study_without_variants_has_an_empty_view(tmp_path: Path) -> None:
    results = _run(tmp_path, ["all"])
    assert any(c.key.group.kind == "shift/none" for c in results.cells)
    assert attribution_view(results, grid_of(results)).empty


def test_the_site_shows_the_studys_own_attribution(
    study: tuple[Results, AttributionView], tmp_path: Path
) -> None:
    """The build computes the view from the records: the page, its numbers and its CSV."""
    from evalsuite.site.build.assemble import build_site

    results, view = study
    site = tmp_path / "site"
    build_site(results.source, site)
    page = (site / "attribution.html").read_text(encoding="utf-8")
    assert 'href="attribution.html"' in (site / "index.html").read_text(encoding="utf-8")
    shown = [
        d
        for d in view.drops
        if d.metric == "image_auroc" and d.category != "mean" and d.value.diff is not None
    ]
    assert {d.variant for d in shown} >= {"all", "exposure", "rotation"}
    for drop in shown:
        assert drop.value.ci_text in page
        assert drop.cells[0][1].page in page
    rows = (site / "downloads" / "attribution_drops.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) - 1 == len(view.drops)
