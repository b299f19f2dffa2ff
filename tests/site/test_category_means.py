"""The "mean" rows of the site's tables on the tiny study: their value is the mean of the
category rows, their interval a stratified bootstrap within categories (checked against a slow
one written here over the records), their paired differences join the Holm family, and with one
category a mean row is that category's row."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from evalsuite.evaluation.paired import holm
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import GroupKey
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.means import (
    CategoryMeans,
    drop_with_means,
    regime_with_means,
    sweep_with_means,
    with_mean_rows,
)
from evalsuite.site.views.stats import summarise
from evalsuite.site.views.sweeps import sweep_view
from evalsuite.site.views.tables import (
    HEADLINE_METRICS,
    MEAN,
    drop_rows,
    grid_of,
    metric_rows,
    regime_rows,
)

pytestmark = pytest.mark.long  # the tiny study's run (tests/site/conftest.py)


def _csv(site_dir: Path, name: str) -> list[dict[str, str]]:
    with (site_dir / "downloads" / name).open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _slow_interval(categories: list[tuple[np.ndarray, np.ndarray]], n: int, seed: int) -> tuple:
    """The mean image AUROC over categories on each resample, each category drawn with its own
    generator as its cell's interval draws it (normal images' draws first), then percentiles."""
    per_category = []
    for scores, labels in categories:
        rng = np.random.default_rng(seed)
        normal, anomalous = np.flatnonzero(~labels), np.flatnonzero(labels)
        first = normal[rng.integers(0, normal.size, size=(n, normal.size))]
        second = anomalous[rng.integers(0, anomalous.size, size=(n, anomalous.size))]
        draws = [np.r_[first[k], second[k]] for k in range(n)]
        per_category.append([roc_auc_score(labels[d], scores[d]) for d in draws])
    means = [sum(column) / len(column) for column in zip(*per_category, strict=True)]
    return tuple(float(x) for x in np.percentile(means, [2.5, 97.5]))


def test_headline_mean_rows_are_the_category_rows_mean_with_a_within_category_interval(
    results_dir: Path,
) -> None:
    results = load_results(results_dir)
    grid = grid_of(results)
    means = CategoryMeans(results, grid.categories)
    plain = metric_rows(results, grid, "per_class", HEADLINE_METRICS, grid.kinds)
    rows = with_mean_rows(plain, means, HEADLINE_METRICS)
    assert [r for r in rows if not r.mean] == plain
    assert len(rows) - len(plain) == len(grid.labels) * len(grid.kinds)
    for label in grid.labels:
        labelled = [r for r in rows if r.label == label]  # category rows, then the means
        assert [r.mean for r in labelled] == [False] * 2 * len(grid.kinds) + [True] * len(
            grid.kinds
        )
        assert [(r.kind, r.first_of_category) for r in labelled if r.mean] == [
            (kind, kind == grid.kinds[0]) for kind in grid.kinds
        ]
    for row in rows:
        if not row.mean:
            continue
        assert row.category == MEAN and not row.cells
        categories = [r for r in plain if (r.label, r.kind) == (row.label, row.kind)]
        assert len(categories) == 2
        for position, value in enumerate(row.values):
            expected = statistics.fmean(c.values[position].mean for c in categories)
            assert value.mean == expected  # exactly the mean of the rows above
            assert value.interval == "categories" and value.n == 2
            assert value.ci is not None and value.ci[0] <= value.ci[1]
        data = []
        for c in categories:
            record = c.cells[0].record
            data.append(
                (
                    np.array([s["score"] for s in record["scores"]]),
                    np.array([bool(s["label"]) for s in record["scores"]]),
                )
            )
        seed = categories[0].cells[0].key.seed
        assert row.values[0].ci == pytest.approx(_slow_interval(data, 20, seed), abs=1e-12)


def test_summary_csv_and_headline_tex_carry_the_mean_rows(site_dir: Path) -> None:
    rows = _csv(site_dir, "summary.csv")
    groups = defaultdict(list)
    for row in rows:
        if row["category"] != MEAN and row["mean"]:
            key = tuple(row[k] for k in ("label", "scope", "condition", "regime", "sweep_value"))
            groups[(*key, row["metric"])].append(float(row["mean"]))
    means = [r for r in rows if r["category"] == MEAN]
    # (2 detectors x 2 scopes x 4 kinds + 2 kinds of the one swept value) groups x 10 metrics
    assert len(means) == (2 * 2 * 4 + 2) * 10
    for row in means:
        key = tuple(row[k] for k in ("label", "scope", "condition", "regime", "sweep_value"))
        categories = groups[(*key, row["metric"])]
        assert len(categories) == 2
        assert float(row["mean"]) == statistics.fmean(categories)
        has_interval = row["metric"] in HEADLINE_METRICS or row["metric"] == "pixel_f1"
        assert (row["interval"] == "categories") == has_interval, row
        assert bool(row["ci95_low"]) == has_interval
    tex = (site_dir / "downloads" / "headline.tex").read_text(encoding="ascii")
    lines = [line for line in tex.splitlines() if line.startswith(("mean &", " &"))]
    # per level (image, pixel) and detector: 4 mean rows, the first one named "mean"
    assert sum(line.startswith("mean &") for line in lines) == 2 * 2
    assert "mean: the mean over the categories" in tex


def test_difference_means_are_the_category_means_and_join_the_holm_family(
    site_dir: Path,
) -> None:
    rows = _csv(site_dir, "differences.csv")
    blocks = defaultdict(list)
    sides = ("scope_a", "condition_a", "regime_a", "sweep_a", "scope_b", "condition_b")
    for row in rows:
        key = (row["family"], row["label"], *(row[k] for k in sides), row["regime_b"])
        blocks[(*key, row["sweep_b"], row["metric"])].append(row)
    for members in blocks.values():
        mean = [r for r in members if r["category"] == MEAN]
        categories = [r for r in members if r["category"] != MEAN]
        assert len(mean) == 1 and len(categories) == 2
        if all("by construction" in r["reason"] for r in categories):  # so is their mean
            assert mean[0]["reason"] == categories[0]["reason"] and not mean[0]["p"]
            continue
        for column in ("a", "b", "delta"):
            expected = np.mean([float(r[column]) for r in categories])
            assert float(mean[0][column]) == expected
        assert int(mean[0]["n_images"]) == sum(int(r["n_images"]) for r in categories)
        assert not mean[0]["paths_a"] and not mean[0]["cell_ids_b"]
    for family in {r["family"] for r in rows}:
        tested = [r for r in rows if r["family"] == family and r["p_holm"]]
        assert any(r["category"] == MEAN for r in tested)
        adjusted = holm([float(r["p"]) for r in tested])
        assert [float(r["p_holm"]) for r in tested] == pytest.approx(adjusted.tolist())
    pages = "".join(
        (site_dir / p).read_text(encoding="utf-8") for p in ("index.html", "shift.html")
    )
    assert pages.count('mean-row">') > 0 and "<em>mean</em>: the mean over" in pages


def test_one_category_mean_rows_are_that_categorys_rows(results_dir: Path) -> None:
    results = load_results(results_dir)
    grid = replace(grid_of(results), categories=("zipper",))
    means = CategoryMeans(results, grid.categories)
    for key in (
        GroupKey("padim", "per_class", "shift/retrain", MEAN, None),
        GroupKey("patchcore", "unified", "clean/none", MEAN, None),
    ):
        cells = results.groups()[replace(key, category="zipper")]
        for metric in HEADLINE_METRICS:
            assert means.summary(key, metric) == summarise(cells, metric)
    drops = drop_with_means(drop_rows(results, grid), means)
    for category_row, mean_row in zip(drops[::2], drops[1::2], strict=True):
        assert mean_row.mean and not category_row.mean
        assert (mean_row.a, mean_row.b, mean_row.delta) == (
            category_row.a,
            category_row.b,
            category_row.delta,
        )
    for table in difference_tables(results, grid):
        by_block = [r for r in table.rows if not r.mean]
        for row in by_block:
            mean = next(
                r
                for r in table.rows
                if r.mean
                and (r.a, r.b) == (replace(row.a, category=MEAN), replace(row.b, category=MEAN))
            )
            assert [v.diff for v in mean.values] == [v.diff for v in row.values]
            assert [v.p_holm for v in mean.values] == [v.p_holm for v in row.values]


def test_regime_and_sweep_tables_end_each_block_with_its_means(results_dir: Path) -> None:
    results = load_results(results_dir)
    grid = grid_of(results)
    means = CategoryMeans(results, grid.categories)
    plain = regime_rows(results, grid)
    regimes = regime_with_means(plain, means)
    assert [r.category for r in regimes] == ["hazelnut", "zipper", MEAN] * 2
    for row in (r for r in regimes if r.mean):
        categories = [r for r in plain if r.label == row.label]
        for metric, per_regime in enumerate(row.values):
            for regime, value in enumerate(per_regime):
                expected = statistics.fmean(c.values[metric][regime].mean for c in categories)
                assert value.mean == expected
    view = sweep_view(results, grid, "patchcore", "params.coreset_ratio")
    table = sweep_with_means(view, means)
    # per kind: 2 categories x (swept value, baseline), then the mean of each value, in order
    assert [p.category for p in table[:6]] == ["hazelnut"] * 2 + ["zipper"] * 2 + [MEAN] * 2
    assert [(p.value, p.baseline) for p in table[4:6]] == [(p.value, p.baseline) for p in table[:2]]
    assert len(table) == len(view.points) * 3 // 2
    for point in (p for p in table if p.mean):
        same = [
            p
            for p in view.points
            if (p.kind, p.value, p.baseline) == (point.kind, point.value, point.baseline)
        ]
        assert point.values[0].mean == statistics.fmean(p.values[0].mean for p in same)
        assert point.values[0].interval == "categories"
