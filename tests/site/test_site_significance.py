"""Stars, families and intervals of the site's differences: a star is a Holm-adjusted p < 0.05
and nothing else (pages, CSV, LaTeX), comparisons zero by construction are not tested, pages
say prominently when the resamples cannot reach significance, and the difference charts draw
the paired intervals."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from site_helpers import copy_results, read_json, write_json

from evalsuite.evaluation.significance import RANKING_METRICS, family_resamples, smallest_holm_p
from evalsuite.site.downloads.paired_exports import difference_tex, differences_csv
from evalsuite.site.read.load import load_results
from evalsuite.site.views import resamples as resamples_module
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.resamples import paired_resamples
from evalsuite.site.views.tables import grid_of

pytestmark = pytest.mark.long  # the tiny study's run: minutes (tests/conftest.py)

PAGES = {
    "shift.html": ("shift", "threshold", "retrain"),
    "unified.html": ("unified",),
    "hyperparameters.html": ("sweep:patchcore:params.coreset_ratio",),
}
TEX = ("shift.tex", "threshold.tex", "retrain.tex", "unified.tex")
STAR_HTML = re.compile(r"\*\s*<span class=\"ci\">")
STAR_TEX = re.compile(r"\d\*")


def _rows(site_dir: Path) -> list[dict[str, str]]:
    with (site_dir / "downloads" / "differences.csv").open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _holm_significant(row: dict[str, str]) -> bool:
    return bool(row["p_holm"]) and float(row["p_holm"]) < 0.05


def test_stars_are_holm_p_below_005_on_every_page_csv_row_and_tex(site_dir: Path) -> None:
    """Every star of the pages, the CSV and the LaTeX is a Holm-adjusted p < 0.05 and every
    such p has its star; an interval that excludes 0 marks nothing by itself."""
    rows = _rows(site_dir)
    assert sum(r["excludes_zero"] == "1" for r in rows) > sum(r["significant"] == "1" for r in rows)
    for row in rows:
        assert (row["significant"] == "1") == _holm_significant(row), row
    for page, families in PAGES.items():
        html = (site_dir / page).read_text(encoding="utf-8")
        starred = sum(r["significant"] == "1" for r in rows if r["family"] in families)
        assert len(STAR_HTML.findall(html)) == starred, page
    shown = ("image_auroc", "image_f1", "pixel_auroc", "aupro_0.3")
    for name in TEX:
        tex = (site_dir / "downloads" / name).read_text(encoding="utf-8")
        family = name.removesuffix(".tex")
        starred = sum(
            r["significant"] == "1" for r in rows if r["family"] == family and r["metric"] in shown
        )
        assert len(STAR_TEX.findall(tex)) == starred, name
        assert r"* marks a Holm-adjusted p \textless{} 0.05" in tex


def test_zero_by_construction_is_neither_tested_nor_counted(site_dir: Path) -> None:
    rows = _rows(site_dir)
    threshold = [r for r in rows if r["family"] == "threshold"]
    # 2 detectors x 2 scopes x (2 categories + their mean), 5 metrics
    assert len(threshold) == 12 * 5
    for row in threshold:
        ranking = row["metric"] in RANKING_METRICS
        assert bool(row["p"]) is not ranking, row
        assert ("by construction" in row["reason"]) is ranking, row
    tested = [r for r in threshold if r["p"]]
    assert len(tested) == 24 and all(int(r["family_size"]) == 24 for r in threshold)
    for family in {r["family"] for r in rows} - {"threshold"}:  # everything else is tested
        assert all(r["p"] for r in rows if r["family"] == family), family
    html = (site_dir / "shift.html").read_text(encoding="utf-8")
    assert html.count('<td class="num zero"') == 36
    tex = (site_dir / "downloads" / "threshold.tex").read_text(encoding="utf-8")
    assert tex.count("$=0$") == 36 and "zero by construction" in tex


def test_every_family_gets_the_resamples_its_holm_correction_needs(site_dir: Path) -> None:
    """The tiny study's records ask for 20 resamples, too few for any family to reach a
    corrected p < 0.05 (2 m / 21 >= 0.05 for every m >= 1): every difference is resampled as
    often as the study's largest family needs instead (one count for the whole site), so
    significance is attainable everywhere and no page, caption or CSV row says otherwise."""
    rows = [row for row in _rows(site_dir) if row["resamples"]]  # the tested ones
    assert rows
    largest = max(int(row["family_size"]) for row in rows)
    assert {int(row["resamples"]) for row in rows} == {family_resamples(largest)}
    for row in rows:
        size = int(row["family_size"])
        floor = smallest_holm_p(family_resamples(largest), size)
        assert float(row["min_p_holm"]) == pytest.approx(floor) and floor < 0.05
        assert row["significance_possible"] == "1"
    for page in PAGES:
        html = (site_dir / page).read_text(encoding="utf-8")
        assert '<div class="banner notice"' not in html, page
    tex = (site_dir / "downloads" / "shift.tex").read_text(encoding="utf-8")
    assert "NOTE: with" not in tex


def _chart_rows(html: str, chart: str) -> list[dict[str, object]]:
    found = re.search(rf'id="{chart}-spec">(.*?)</script>', html, re.S)
    assert found, chart
    spec = json.loads(found.group(1))
    layers = spec["spec"]["layer"]
    rules = [
        layer
        for layer in layers
        if layer["mark"]["type"] == "rule" and "y2" in layer.get("encoding", {})
    ]
    assert [r["encoding"]["y"]["field"] for r in rules] == ["lo"]
    assert rules[0]["encoding"]["y2"]["field"] == "hi"
    return spec["datasets"]["rows"]


@pytest.mark.parametrize(
    ("page", "chart", "family"),
    [("shift.html", "chart-drop", "shift"), ("unified.html", "chart-gap", "unified")],
)
def test_difference_charts_draw_the_paired_intervals(
    site_dir: Path, page: str, chart: str, family: str
) -> None:
    names = {"image_auroc": "image AUROC", "pixel_auroc": "pixel AUROC", "aupro_0.3": "AUPRO@0.3"}
    names["image_f1"] = "F1"
    rows = _rows(site_dir)  # the charts draw the categories; the means are in the tables
    csv_rows = [
        r
        for r in rows
        if r["family"] == family and r["metric"] in names and r["category"] != "mean"
    ]
    html = (site_dir / page).read_text(encoding="utf-8")
    bars = _chart_rows(html, chart)
    assert len(bars) == len(csv_rows)
    ends = {}
    for r in csv_rows:
        if family == "shift":
            key = (r["category"], r["label"], r["scope_b"], names[r["metric"]])
        else:
            kind = f"{r['condition_b']}/{r['regime_b']}"
            key = (r["category"], kind, r["label"], names[r["metric"]])
        ends[key] = (100 * float(r["ci95_low"]), 100 * float(r["ci95_high"]))
    for bar in bars:
        key = (bar["x"], bar["group"], bar["row"], bar["col"])
        assert (bar["lo"], bar["hi"]) == pytest.approx(ends[key]), key
        assert bar["lo"] <= bar["hi"]


def _plant(root: Path) -> None:
    """patchcore/hazelnut ranks backwards on clean and perfectly on shift (a huge difference);
    padim/hazelnut scores the shifted images as the clean ones (a nil difference); the records
    keep their 20 resamples (the family's own resamples make the huge one significant)."""
    cells = root / "cells"
    for name, flip in (("clean", -1.0), ("shift", 1.0)):
        path = cells / f"patchcore/per_class/none/{name}/hazelnut.json"
        record = read_json(path)
        for i, score in enumerate(record["scores"]):
            score["score"] = flip * (score["label"] + 0.01 * i)
        write_json(path, record)
    clean = read_json(cells / "padim/per_class/none/clean/hazelnut.json")
    shift_path = cells / "padim/per_class/none/shift/hazelnut.json"
    shift = read_json(shift_path)
    by_id = {s["id"]: s["score"] for s in clean["scores"]}
    for score in shift["scores"]:
        score["score"] = by_id[score["id"]]
    shift["threshold"]["image"]["value"] = clean["threshold"]["image"]["value"]
    write_json(shift_path, shift)


def test_planted_huge_difference_is_starred_and_a_nil_one_is_not(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "out")
    _plant(root)
    results = load_results(root)
    grid = replace(
        grid_of(results), kinds=("clean/none", "shift/none"), scopes=("per_class",), sweeps=()
    )
    resamples = paired_resamples(results, grid)
    shift = next(t for t in difference_tables(results, grid, resamples) if t.family == "shift")
    # 2 detectors x (2 categories + mean) x 5, resampled as the study needs, not 20 times
    assert shift.n_comparisons == 30 and shift.reachable
    assert resamples is not None and shift.resamples == resamples >= family_resamples(30) == 2400
    values = {(row.b.label, row.b.category): row.values for row in shift.rows}
    huge, nil = values[("patchcore", "hazelnut")][0], values[("padim", "hazelnut")][0]
    assert huge.diff is not None and huge.diff.delta == pytest.approx(1.0)
    assert huge.p_holm is not None and huge.p_holm < 0.05 and huge.significant
    assert nil.diff is not None and nil.diff.delta == 0.0 and nil.diff.p_value == 1.0
    assert not nil.significant
    for row in shift.rows:
        for value in row.values:
            expected = value.p_holm is not None and value.p_holm < 0.05
            assert value.significant == expected
    rows = list(csv.DictReader(differences_csv([shift]).splitlines()))
    assert all((r["significant"] == "1") == _holm_significant(r) for r in rows)
    assert all(r["significance_possible"] == "1" for r in rows)
    tex = difference_tex(shift, "tiny", True, multi_seed=False)
    shown = ("image_auroc", "image_f1", "pixel_auroc", "aupro_0.3")
    starred = sum(r["significant"] == "1" for r in rows if r["metric"] in shown)
    assert len(STAR_TEX.findall(tex)) == starred >= 1
    assert "NOTE:" not in tex


def test_the_studys_resamples_are_capped(
    results_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = load_results(results_dir)
    grid = grid_of(results)
    largest = max(t.n_comparisons for t in difference_tables(results, grid, 10))
    assert paired_resamples(results, grid) == family_resamples(largest) > 500
    monkeypatch.setattr(resamples_module, "MAX_RESAMPLES", 500)
    assert paired_resamples(results, grid) == 500
