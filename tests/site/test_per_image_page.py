"""The Per-image statistics page and its downloads, recomputed from the tiny study's records:
DeLong intervals from the record's scores, Holm over the page's family, the CD diagram's
ranks; and the mean-AUPIMO path on evidence that holds AUPIMO values."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from site_helpers import copy_results, read_json

from evalsuite.evaluation.delong import delong
from evalsuite.evaluation.paired import holm
from evalsuite.evaluation.ranking import average_ranks
from evalsuite.runner.writing.evidence import npz_bytes
from evalsuite.site.pages.per_image import per_image
from evalsuite.site.read.load import load_results
from evalsuite.site.views.per_image import distinct_kinds
from evalsuite.site.views.tables import grid_of


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_page_is_linked_and_lists_its_downloads(site_dir: Path) -> None:
    assert 'href="statistics.html"' in (site_dir / "index.html").read_text(encoding="utf-8")
    page = (site_dir / "statistics.html").read_text(encoding="utf-8")
    assert "Paired per-image tests" in page and "DeLong 95%" in page
    downloads = (site_dir / "downloads.html").read_text(encoding="utf-8")
    for name in ("per_image_cells.csv", "per_image_tests.csv", "per_image_tests.tex"):
        assert f"downloads/{name}" in downloads
        assert (site_dir / "downloads" / name).is_file()
    assert "\\begin{tabular}" in (site_dir / "downloads" / "rankings.tex").read_text()


def test_delong_column_recomputes_from_the_shipped_records(site_dir: Path) -> None:
    rows = _csv(site_dir / "downloads" / "per_image_cells.csv")
    assert rows
    for row in rows:
        record = read_json(site_dir / row["path"])  # a path from the site root
        scores = np.array([s["score"] for s in record["scores"]])
        labels = np.array([s["label"] for s in record["scores"]])
        low, high = delong(scores, labels).ci95
        assert float(row["delong_low"]) == pytest.approx(low)
        assert float(row["delong_high"]) == pytest.approx(high)
        assert float(row["image_auroc"]) == pytest.approx(record["metrics"]["image_auroc"]["value"])
        # 5 normal test images of 64 x 64: too few pixels to reach a shared FPR of 1e-5
        assert row["aupimo_mean"] == "" and "20480 pixels" in row["reason"]


def test_tests_are_holm_adjusted_over_the_page(site_dir: Path) -> None:
    rows = _csv(site_dir / "downloads" / "per_image_tests.csv")
    assert rows and {r["value"] for r in rows} == {"placement"}  # no AUPIMO in the tiny study
    assert {int(r["family_size"]) for r in rows} == {len(rows)}
    assert "threshold" not in {r["regime"] for r in rows}  # shift/none's scores: not retested
    for column in ("p_wilcoxon", "p_t"):
        raw = [float(r[column]) for r in rows]
        adjusted = [float(r[f"{column}_holm"]) for r in rows]
        np.testing.assert_allclose(adjusted, holm(raw))


def test_cd_ranks_are_the_blocks_average_ranks(results_dir: Path, site_dir: Path) -> None:
    results = load_results(results_dir)
    found = per_image(results, grid_of(results))
    view = next(v for v in found.rankings if v.scope == "unified" and v.ranking is not None)
    by_group = {
        (c.key.group.label, c.key.group.kind, c.key.group.category): c.metrics["image_auroc"].value
        for c in results.cells
        if c.ok and c.key.group.scope == "unified" and c.key.group.sweep is None
    }
    values = np.array([[by_group[(t, k, c)] for t in view.treatments] for k, c in view.blocks])
    np.testing.assert_allclose(view.ranks, average_ranks(values))
    ranks = {r["treatment"]: float(r["average_rank"]) for r in
             _csv(site_dir / "downloads" / "rankings.csv") if r["scope"] == "unified"}  # fmt: skip
    assert ranks == pytest.approx(dict(zip(view.treatments, view.ranks, strict=True)))


def test_mean_aupimo_and_its_interval_come_from_the_evidence(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "out")
    results = load_results(root)
    cell = next(c for c in results.cells if c.ok and c.record.get("evidence"))
    path = root / cell.record["evidence"]
    with zipfile.ZipFile(path) as archive, np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
        assert archive.namelist()
    labels = np.array([s["label"] for s in cell.record["scores"]], dtype=bool)
    values = np.where(labels, np.linspace(0.1, 0.9, labels.size), np.nan)
    arrays["aupimo"] = values.astype(np.float32)
    path.write_bytes(npz_bytes(arrays))
    results = load_results(root)
    stats = {s.cell.relpath: s for s in per_image(results, grid_of(results)).stats}
    found = stats[cell.relpath]
    expected = values[labels].astype(np.float32).astype(np.float64)
    assert found.aupimo_n == labels.sum()
    assert found.aupimo == pytest.approx(expected.mean())
    assert found.aupimo_ci is not None
    assert found.aupimo_ci[0] < expected.mean() < found.aupimo_ci[1]


def test_a_kind_with_another_kinds_scores_is_left_out() -> None:
    every = ["shift/retrain", "shift/threshold", "clean/none", "shift/none"]
    assert distinct_kinds(every) == {"clean/none", "shift/none", "shift/retrain"}
    assert distinct_kinds(["shift/threshold", "clean/none"]) == {"shift/threshold", "clean/none"}


def test_an_unreadable_evidence_file_is_a_reason_not_a_failed_build(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "out")
    results = load_results(root)
    cell = next(c for c in results.cells if c.ok and c.record.get("evidence"))
    (root / cell.record["evidence"]).write_bytes(b"not a zip")
    stats = {s.cell.relpath: s for s in per_image(results, grid_of(results)).stats}
    assert "cannot read pixel evidence" in stats[cell.relpath].aupimo_reason
