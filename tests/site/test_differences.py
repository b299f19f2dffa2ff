"""Paired differences on the site: the evidence the runner stores, differences.csv against the
records, Holm within each family, and the tables on the pages."""

from __future__ import annotations

import copy
import csv
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from site_helpers import copy_results, read_json, write_json

from evalsuite import results
from evalsuite.evaluation.metrics import image_auroc
from evalsuite.evaluation.paired import holm, paired_image_difference, paired_pixel_difference
from evalsuite.evaluation.pixel_evidence import PixelEvidence
from evalsuite.evaluation.significance import family_resamples
from evalsuite.site import build_site
from evalsuite.site.downloads.paired_exports import difference_tex
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import Cell, cell_from_record
from evalsuite.site.views.differences import _pairing, difference_tables
from evalsuite.site.views.tables import grid_of

pytestmark = pytest.mark.long  # minutes: started first (tests/conftest.py)

FAMILIES = {"shift", "threshold", "retrain", "unified", "sweep:patchcore:params.coreset_ratio"}
METRICS = ("image_auroc", "pixel_auroc", "aupro_0.3", "image_f1", "pixel_f1")


CELLS = "downloads/records/cells/"
"""Where the CSV paths of cell records start (they are relative to the site root)."""


def _rows(site_dir: Path) -> list[dict[str, str]]:
    with (site_dir / "downloads" / "differences.csv").open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _evidence(results_dir: Path, record: dict) -> PixelEvidence:
    with np.load(results_dir / record["evidence"], allow_pickle=False) as data:
        return PixelEvidence.from_arrays(dict(data))


def test_every_cell_with_masks_stores_evidence_that_reproduces_its_pixel_metrics(
    results_dir: Path,
) -> None:
    cells = sorted(results.iter_cells(results_dir), key=lambda found: str(found[0]))
    assert len(cells) == 36
    for relpath, record in cells:
        assert record["evidence"] == f"artifacts/{relpath.with_suffix('')}/evidence.npz"
        evidence = _evidence(results_dir, record)
        assert evidence.n_images == len(record["scores"])
        labels = np.array([s["label"] for s in record["scores"]], dtype=bool)
        metrics = record["metrics"]
        for metric, tolerance in (("pixel_auroc", 1e-6), ("pixel_f1", 1e-9), ("aupro_0.3", 2e-3)):
            same = paired_pixel_difference(metric, labels, evidence, evidence, n=5, seed=0)
            assert same.a == pytest.approx(metrics[metric]["value"], abs=tolerance), metric
            assert same.delta == 0.0


def test_differences_csv_holds_every_family_and_metric_with_the_records_values(
    site_dir: Path,
) -> None:
    everything = _rows(site_dir)
    assert {r["family"] for r in everything} == FAMILIES
    rows = [r for r in everything if r["category"] != "mean"]
    # 2 detectors x 2 scopes x 2 categories for shift, threshold, retrain; 2 x 4 kinds x 2 for
    # unified; 1 value x 2 kinds x 2 categories for the sweep; 5 metrics each
    assert len(rows) == 5 * (3 * 8 + 16 + 4)
    # and a mean over the 2 categories of each (no cells of its own)
    assert len(everything) - len(rows) == 5 * (3 * 4 + 8 + 2)
    for row in rows:
        if "by construction" in row["reason"]:  # a ranking metric under threshold - none
            assert row["family"] == "threshold" and not row["p"], row
            continue
        assert row["p"], row  # every cell of the tiny study has every metric
        a = results.read_cell(site_dir / row["paths_a"])  # paths are relative to the site root
        b = results.read_cell(site_dir / row["paths_b"])
        assert (a["id"], b["id"]) == (row["cell_ids_a"], row["cell_ids_b"])
        assert (a["category"], b["category"]) == (row["category"], row["category"])
        tolerance = 2e-3 if row["metric"] == "aupro_0.3" else 1e-6
        value_a, value_b = (c["metrics"][row["metric"]]["value"] for c in (a, b))
        assert float(row["a"]) == pytest.approx(value_a, abs=tolerance)
        assert float(row["b"]) == pytest.approx(value_b, abs=tolerance)
        assert float(row["delta"]) == pytest.approx(float(row["b"]) - float(row["a"]))
        low, high, p = float(row["ci95_low"]), float(row["ci95_high"]), float(row["p"])
        assert -1.0 <= low <= high <= 1.0 and 0.0 < p <= 1.0
        assert row["excludes_zero"] == str(int(low > 0 or high < 0))
        largest = max(int(r["family_size"]) for r in rows if r["resamples"])
        assert int(row["resamples"]) == family_resamples(largest)  # one count for the study
        assert int(row["n_images"]) == len(a["scores"])
    pairs = {(r["family"], r["paths_a"], r["paths_b"]) for r in rows}
    assert (
        "shift",
        CELLS + "patchcore/per_class/none/clean/hazelnut.json",
        CELLS + "patchcore/per_class/none/shift/hazelnut.json",
    ) in pairs
    assert (
        "unified",
        CELLS + "padim/per_class/threshold/shift/zipper.json",
        CELLS + "padim/unified/threshold/shift/zipper.json",
    ) in pairs


def test_holm_is_applied_within_each_family(site_dir: Path) -> None:
    rows = _rows(site_dir)
    for family in FAMILIES:
        everyone = [r for r in rows if r["family"] == family]
        members = [r for r in everyone if r["p"]]  # zero by construction: not tested
        adjusted = holm([float(r["p"]) for r in members])
        assert [float(r["p_holm"]) for r in members] == pytest.approx(adjusted.tolist())
        assert all(int(r["family_size"]) == len(members) for r in everyone)
        assert all(float(r["p_holm"]) >= float(r["p"]) for r in members)


def test_pages_show_every_difference_with_its_interval_and_the_family_size(
    site_dir: Path,
) -> None:
    rows = _rows(site_dir)
    pages = {
        "shift.html": ("shift", "threshold", "retrain"),
        "unified.html": ("unified",),
        "hyperparameters.html": ("sweep:patchcore:params.coreset_ratio",),
    }
    for page, families in pages.items():
        html = (site_dir / page).read_text(encoding="utf-8")
        notes = re.findall(r"Holm-adjusted over the (\d+)\s+comparisons tested", html)
        tested = [r for r in rows if r["p"]]
        assert [int(n) for n in notes] == [sum(r["family"] == f for r in tested) for f in families]
        marked = html.count("delta sig")
        assert marked == sum(r["significant"] == "1" for r in rows if r["family"] in families)
        assert html.count('<span class="p">p ') == sum(r["family"] in families for r in tested)
        paired = html[html.index("Paired differences") :]
        links = re.findall(r'<td class="kind"><a href="(cells/[^"]+)"', paired)
        rows_with_cells = sum(r["family"] in families and r["category"] != "mean" for r in rows)
        assert len(links) == 2 * rows_with_cells // len(METRICS)
        assert all((site_dir / link).is_file() for link in links)
    downloads = (site_dir / "downloads.html").read_text(encoding="utf-8")
    for name in ("differences.csv", "shift.tex", "threshold.tex", "retrain.tex", "unified.tex"):
        assert f'href="downloads/{name}"' in downloads
        assert (site_dir / "downloads" / name).is_file()


def test_a_corrupt_or_absent_evidence_file_costs_only_the_pixel_intervals(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "out")
    clean = "patchcore/per_class/none/clean/hazelnut"
    (root / "artifacts" / clean / "evidence.npz").write_bytes(b"PK\x03\x04 truncated")
    older = root / "cells" / "patchcore/per_class/none/shift/zipper.json"
    record = read_json(older)
    del record["evidence"]  # a record from before evidence.npz
    write_json(older, record)
    build_site(root, tmp_path / "site")
    rows = [r for r in _rows(tmp_path / "site") if r["family"] == "shift"]
    for row in rows:
        touched = f"{clean}.json" in row["paths_a"] or "shift/zipper.json" in row["paths_b"]
        touched = touched or row["category"] == "mean"  # the mean needs both categories
        touched = touched and row["label"] == "patchcore" and row["scope_a"] == "per_class"
        if touched and row["metric"] in ("pixel_auroc", "aupro_0.3", "pixel_f1"):
            assert not row["p"] and "evidence" in row["reason"], row
        else:
            assert row["p"], row


def test_several_seeds_pool_the_interval_and_show_mean_and_sd(results_dir: Path) -> None:
    """Seed 1 is seed 0's cells with the shifted scores moved: the pooled delta is the mean of
    the seeds' deltas, its interval pools their resamples, and the sd over seeds is shown."""
    one = load_results(results_dir)
    cells = []
    for cell in one.cells:
        group = cell.key.group
        if (group.label, group.scope, group.category) != ("patchcore", "per_class", "hazelnut"):
            continue
        if group.sweep is not None or group.kind not in ("clean/none", "shift/none"):
            continue
        cells.append(cell)
        twin = copy.deepcopy(cell.record)
        twin["seed"] = 1
        if group.kind == "shift/none":
            for score in twin["scores"]:
                score["score"] += 0.5 * score["label"]  # defects easier on seed 1
            scores = [(s["score"], s["label"]) for s in twin["scores"]]
            twin["metrics"]["image_auroc"]["value"] = image_auroc(*np.array(scores).T)
        cells.append(cell_from_record(PurePosixPath(cell.relpath), twin))
    assert len(cells) == 4
    two = replace(one, cells=tuple(cells), missing=(), multi_seed=True)
    grid = replace(grid_of(two), kinds=("clean/none", "shift/none"), sweeps=())
    shift = next(t for t in difference_tables(two, grid) if t.family == "shift")
    row = next(r for r in shift.rows if r.pairs)
    assert len(row.pairs) == 2
    value = row.values[0]  # image AUROC
    assert value.diff is not None and value.seeds.n == 2 and value.seeds.sd is not None
    per_seed = [image_auroc(*_scores(b)) - image_auroc(*_scores(a)) for a, b in row.pairs]
    assert per_seed[1] > per_seed[0]
    assert value.diff.delta == pytest.approx(np.mean(per_seed))
    assert value.seeds.mean == pytest.approx(np.mean(per_seed))
    assert value.seeds.sd == pytest.approx(np.std(per_seed, ddof=1))
    assert value.diff.n_images == sum(len(a.record["scores"]) for a, _ in row.pairs)
    assert "(n=2)" in value.seeds_text
    tex = difference_tex(shift, "tiny", True, multi_seed=True)
    assert r"\textpm{}" in tex and "sd of the difference over seeds" in tex


def _scores(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    scores = cell.record["scores"]
    return np.array([s["score"] for s in scores]), np.array([s["label"] for s in scores])


def test_each_cell_computed_once_gives_the_paired_machinerys_very_numbers(
    results_dir: Path,
) -> None:
    """The tables evaluate each cell's metric once per test set and resamples
    (`views.resampled`); every single-seed difference is still bit for bit what
    `paired_image_difference` / `paired_pixel_difference` give for its two cells."""
    results = load_results(results_dir)
    grid = grid_of(results)
    loader = EvidenceLoader(results.source)
    checked = 0
    for table in difference_tables(results, grid, 300):
        for row in table.rows:
            if row.mean or len(row.pairs) != 1:
                continue
            a, b = row.pairs[0]
            index_a, index_b, labels = _pairing(a, b)
            seed = int(a.key.seed)
            for metric, value in zip(table.metrics, row.values, strict=True):
                if value.diff is None:
                    continue
                if metric.startswith("image"):
                    scores = [
                        np.array([s["score"] for s in c.record["scores"]])[i]
                        for c, i in ((a, index_a), (b, index_b))
                    ]
                    thresholds = tuple(
                        float(c.record["threshold"]["image"]["value"]) for c in (a, b)
                    )
                    expected = paired_image_difference(
                        metric, labels, *scores, thresholds=thresholds, n=300, seed=seed
                    )
                else:
                    expected = paired_pixel_difference(
                        metric,
                        labels,
                        loader.load(a).subset(index_a),
                        loader.load(b).subset(index_b),
                        n=300,
                        seed=seed,
                    )
                found = value.diff
                assert (found.delta, found.ci95, found.p_value, found.n_resamples) == (
                    expected.delta,
                    expected.ci95,
                    expected.p_value,
                    300,
                )
                checked += 1
    assert checked > 100
