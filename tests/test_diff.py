"""`evalsuite diff` and `evalsuite merge` on real tiny runs: a changed setting is flagged on
exactly the cells it affects and explained; identical runs show no change; failed cells are
"newly failed"; a missing shard's cells are listed by merge. Verdicts from real paired
bootstraps."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from studies import SMALL

from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.errors import ResultsError
from evalsuite.evaluation.paired import paired_image_difference
from evalsuite.results import iter_cells
from evalsuite.results.diff import CellKey, diff_runs
from evalsuite.results.diff_metrics import verdict
from evalsuite.results.diff_report import csv_rows, diff_json
from evalsuite.runner import run_study

PATCHCORE = {
    "patchcore/per_class/none/clean/hazelnut.json",
    "patchcore/per_class/none/clean/zipper.json",
}
PADIM = {"padim/per_class/none/clean/hazelnut.json", "padim/per_class/none/clean/zipper.json"}


def _study(**changes: Any) -> StudyConfig:
    """SMALL cut to 4 cells: both detectors, per_class, clean/none, two categories."""
    study = json.loads(json.dumps(SMALL))
    study.update(kinds=["clean/none"], scopes=["per_class"], sweeps=[])
    study.update(changes)
    return StudyConfig.model_validate(study)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base; again (the same study, run again); coreset (PatchCore's coreset_ratio 0.2 -> 0.05);
    failing (no anomalous val image: every threshold fails); shard1/shard2 (base as 2 shards)."""
    root = tmp_path_factory.mktemp("diff")
    cache = root / "cache"
    detectors = json.loads(json.dumps(SMALL["detectors"]))
    detectors[0]["params"]["coreset_ratio"] = 0.05
    studies = {
        "base": _study(),
        "again": _study(),
        "coreset": _study(detectors=detectors),
        "failing": _study(splits={"val_normal_ratio": 0.2, "val_anomaly_ratio": 0.0}),
    }
    for name, config in studies.items():
        run_study(config, root / name, cache_dir=cache, progress=False)
    for index in (1, 2):
        out = root / f"shard{index}"
        run_study(studies["base"], out, cache_dir=cache, progress=False, shard=(index, 2))
    return {name: root / name for name in [*studies, "shard1", "shard2"]}


def _by_status(report: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for cell in report.cells:
        path = cell.new_path or cell.base_path
        found.setdefault(cell.status, set()).add(str(path))
    return found


def test_identical_runs_show_no_change(runs: dict[str, Path]) -> None:
    report = diff_runs(runs["base"], runs["again"])
    assert _by_status(report) == {"unchanged": PATCHCORE | PADIM}
    for cell in report.cells:
        assert cell.changes == [] and len(cell.metrics) == 4
        for metric in cell.metrics:
            assert metric.delta == 0.0 and metric.verdict == "unchanged"
            assert metric.ci95 == (0.0, 0.0) and metric.p_value == 1.0 and metric.n_images > 0
    assert report.regressions == 0


def test_a_changed_setting_flags_exactly_its_cells_and_explains_them(
    runs: dict[str, Path],
) -> None:
    report = diff_runs(runs["base"], runs["coreset"])
    statuses = _by_status(report)
    assert statuses["unchanged"] == PADIM
    flagged = set().union(*(paths for status, paths in statuses.items() if status != "unchanged"))
    assert flagged == PATCHCORE
    for cell in report.cells:
        if cell.key.label != "patchcore":
            continue
        assert [c.text() for c in cell.changes] == [
            "config detector.params.coreset_ratio: 0.2 -> 0.05"
        ]
        base = {r["category"]: r for _, r in iter_cells(runs["base"])}
        auroc = cell.metrics[0]
        assert auroc.base == base[cell.key.category]["metrics"]["image_auroc"]["value"]
        assert auroc.ci95 is not None and auroc.ci95[0] <= auroc.delta <= auroc.ci95[1]
        assert auroc.verdict == verdict(auroc.delta, auroc.ci95, 0.0)
        pixel = cell.metrics[2]  # from each cell's evidence.npz
        assert pixel.metric == "pixel_auroc" and pixel.delta is not None and pixel.ci95 is not None
        assert pixel.ci95[0] <= pixel.delta <= pixel.ci95[1]
        assert pixel.verdict == verdict(pixel.delta, pixel.ci95, 0.0)


def test_pixel_metrics_without_evidence_get_their_delta_only(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Results without readable evidence.npz (older runs): pixel deltas without interval."""
    base = shutil.copytree(runs["base"], tmp_path / "base", ignore=shutil.ignore_patterns("fits"))
    removed = [path.unlink() for path in base.rglob("evidence.npz")]
    assert removed
    report = diff_runs(base, runs["coreset"])
    for cell in report.cells:
        image, _, pixel, aupro = cell.metrics
        assert image.ci95 is not None
        assert pixel.delta is not None and pixel.ci95 is None and pixel.verdict is None
        assert aupro.ci95 is None and aupro.verdict is None


def test_failed_cells_are_newly_failed_and_fail_on_regression(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    report = diff_runs(runs["base"], runs["failing"])
    assert _by_status(report) == {"newly_failed": PATCHCORE | PADIM}
    assert report.regressions == 4
    cell = report.cells[0]
    assert cell.error is not None and "val holds none" in cell.error
    assert [c.text() for c in cell.changes] == ["config splits.val_anomaly_ratio: 0.3 -> 0.0"]
    back = diff_runs(runs["failing"], runs["base"])
    assert _by_status(back) == {"newly_fixed": PATCHCORE | PADIM}
    out = tmp_path / "diff.json"
    args = ["diff", str(runs["base"]), str(runs["failing"]), "--json", str(out)]
    result = CliRunner().invoke(main, [*args, "--fail-on-regression"])
    assert result.exit_code == 1, result.output
    assert "4 newly failed (4 cells)" in result.output
    assert "NEWLY FAILED  padim per_class none/clean hazelnut seed 0" in result.output
    data = json.loads(out.read_text())
    assert data["counts"]["newly_failed"] == 4 and len(data["cells"]) == 4
    assert CliRunner().invoke(main, args).exit_code == 0  # without the flag: a report only


def test_diff_json_and_csv_hold_the_same_numbers(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "diff.json"
    result = CliRunner().invoke(
        main, ["diff", str(runs["base"]), str(runs["coreset"]), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    report = diff_runs(runs["base"], runs["coreset"])
    assert data["schema"] == "evalsuite.diff/1"  # how a later diff knows the file is its own
    assert data == json.loads(json.dumps(diff_json(report)))
    rows = csv_rows(report)
    assert len(rows) == 4 * 4  # 4 pairs of ok cells x 4 headline metrics
    first = data["cells"][0]
    assert rows[0]["delta"] == first["metrics"][0]["delta"]
    assert "config detector.params.coreset_ratio: 0.2 -> 0.05" in result.output


def test_added_and_removed_cells(runs: dict[str, Path]) -> None:
    report = diff_runs(runs["shard1"], runs["base"])
    shard1 = {str(p) for p, _ in iter_cells(runs["shard1"])}
    assert _by_status(report) == {"added": (PATCHCORE | PADIM) - shard1, "unchanged": shard1}
    assert (
        _by_status(diff_runs(runs["base"], runs["shard1"]))["removed"]
        == (PATCHCORE | PADIM) - shard1
    )


def test_verdict_from_real_paired_bootstraps() -> None:
    """A detector that separates the classes against one that ranks them backwards: the
    interval lies below 0, so regressed; a --min-delta above |delta| makes it unchanged."""
    rng = np.random.default_rng(0)
    labels = np.repeat([False, True], 20)
    good = labels.astype(float) + rng.normal(0, 0.3, 40)
    bad = -labels.astype(float) + rng.normal(0, 0.3, 40)
    worse = paired_image_difference("image_auroc", labels, good, bad, seed=0, n=500)
    assert worse.ci95[1] < 0
    assert verdict(worse.delta, worse.ci95, 0.0) == "regressed"
    assert verdict(worse.delta, worse.ci95, abs(worse.delta) + 0.01) == "unchanged"
    better = paired_image_difference("image_auroc", labels, bad, good, seed=0, n=500)
    assert verdict(better.delta, better.ci95, 0.05) == "improved"
    noise = paired_image_difference("image_auroc", labels, good, good + 1e-3, seed=0, n=500)
    assert verdict(noise.delta, noise.ci95, 0.0) == "unchanged"


def test_merge_lists_the_cells_of_a_missing_shard(runs: dict[str, Path], tmp_path: Path) -> None:
    shard2 = {str(p) for p, _ in iter_cells(runs["shard2"])}
    assert shard2 and shard2 < PATCHCORE | PADIM
    out = tmp_path / "merged"
    result = CliRunner().invoke(main, ["merge", "--out", str(out), str(runs["shard1"])])
    assert result.exit_code == 1, result.output
    assert f"{len(shard2)} planned cells are missing" in result.output
    listed = {line.strip()[2:] for line in result.output.splitlines() if line.startswith("  - ")}
    assert listed == shard2
    assert (out / "manifest.json").is_file()  # written all the same, for a partial site
    whole = tmp_path / "whole"
    both = ["merge", "--out", str(whole), str(runs["shard1"]), str(runs["shard2"])]
    result = CliRunner().invoke(main, both)
    assert result.exit_code == 0 and "0 planned cells missing" in result.output
    assert _by_status(diff_runs(runs["base"], whole)) == {"unchanged": PATCHCORE | PADIM}


def test_diff_refuses_bad_input(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="min-delta -1"):
        diff_runs(runs["base"], runs["again"], min_delta=-1)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["diff", str(runs["base"]), str(empty)])
    assert result.exit_code == 2 and "holds no cell records" in result.output
    same = ["diff", str(runs["base"]), str(runs["base"])]
    result = CliRunner().invoke(main, [*same, "--json", str(empty)])
    assert result.exit_code == 2 and "is a folder" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(main, [*same, "--json", str(blocker / "diff.json")])
    assert result.exit_code == 3 and f"{blocker / 'diff.json'}: " in result.output  # environment
    assert result.exception is None or isinstance(result.exception, SystemExit)
    key = CellKey.of(next(iter_cells(runs["base"]))[1])
    assert key.name() == "padim per_class none/clean hazelnut seed 0"


def test_site_changes_page_links_both_cells_and_ships_its_data(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    args = ["site", "--results", str(runs["coreset"]), "--out", str(site)]
    result = CliRunner().invoke(main, [*args, "--baseline", str(runs["base"])])
    assert result.exit_code == 0, result.output
    page = (site / "changes.html").read_text()
    links = re.findall(r'href="((?:baseline/)?cells/[^"]+)"', page)
    assert len(links) == 2 * len(PATCHCORE)  # each changed cell: its page here and the baseline's
    assert all((site / link).is_file() for link in links)
    assert "padim" not in page and "config detector.params.coreset_ratio: 0.2 -&gt; 0.05" in page
    base_ids = {r["id"] for _, r in iter_cells(runs["base"]) if r["label"] == "patchcore"}
    for link in links:
        shown = base_ids & set(re.findall(r"[0-9a-f]{16}", (site / link).read_text()))
        assert bool(shown) == link.startswith("baseline/")  # baseline pages show baseline records
    report = diff_runs(runs["base"], runs["coreset"])
    with (site / "downloads/changes.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(csv_rows(report))
    base_paths = {str(p) for p, _ in iter_cells(runs["base"])}
    assert {row["base_path"] for row in rows} == base_paths  # every row names its base record
    for row in rows:
        record = next(r for p, r in iter_cells(runs["base"]) if str(p) == row["base_path"])
        assert (record["label"], record["category"]) == (row["label"], row["category"])
    assert json.loads((site / "downloads/changes.json").read_text()) == json.loads(
        json.dumps(diff_json(report))
    )
    downloads = (site / "downloads.html").read_text()
    assert 'href="downloads/changes.csv"' in downloads
    assert 'href="downloads/changes.json"' in downloads
    index = (site / "index.html").read_text()
    regressed = report.count("regressed")
    line = rf'<a href="changes.html">{regressed} cells? regressed since \d{{4}}-\d\d-\d\d'
    assert re.search(line, index)
    assert '<a href="changes.html">Changes</a>' in index
    failing = tmp_path / "failing-site"
    args = ["site", "--results", str(runs["failing"]), "--out", str(failing)]
    assert CliRunner().invoke(main, [*args, "--baseline", str(runs["base"])]).exit_code == 0
    assert "0 cells regressed since" in (failing / "index.html").read_text()
    assert "(4 newly failed)" in (failing / "index.html").read_text()
    plain = tmp_path / "plain"
    args = ["site", "--results", str(runs["coreset"]), "--out", str(plain)]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert "changes.csv" not in (plain / "downloads.html").read_text()
    assert (
        not (plain / "changes.html").exists()
        and "Changes" not in (plain / "index.html").read_text()
    )


def test_site_of_a_merge_missing_a_shard_is_marked_partial(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    assert (
        CliRunner().invoke(main, ["merge", "--out", str(out), str(runs["shard1"])]).exit_code == 1
    )
    site = tmp_path / "site"
    assert (
        CliRunner().invoke(main, ["site", "--results", str(out), "--out", str(site)]).exit_code == 0
    )
    missing = len(list(iter_cells(runs["shard2"])))
    assert f"{missing} cells of the study's plan are missing" in (site / "index.html").read_text()


def test_all_with_a_baseline_builds_the_changes_page(runs: dict[str, Path], tmp_path: Path) -> None:
    """`all --baseline`: the (cached) run of the coreset study, then its site against base."""
    detectors = json.loads(json.dumps(SMALL["detectors"]))
    detectors[0]["params"]["coreset_ratio"] = 0.05
    config = tmp_path / "study.yaml"
    config.write_text(json.dumps(_study(detectors=detectors).model_dump(mode="json")))
    out = tmp_path / "out"
    shutil.copytree(runs["coreset"], out)
    site = tmp_path / "site"
    args = ["all", "--config", str(config), "--out", str(out), "--quiet", "--site", str(site)]
    cache = ["--cache", str(runs["base"].parent / "cache")]
    result = CliRunner().invoke(main, [*args, *cache, "--baseline", str(runs["base"])])
    assert result.exit_code == 0, result.output
    assert "4 cached" in result.output
    page = (site / "changes.html").read_text()
    assert page.count("config detector.params.coreset_ratio: 0.2 -&gt; 0.05") == len(PATCHCORE)


def test_merge_cli_refuses_a_file_as_out(runs: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "merged"
    target.write_text("not a folder")
    result = CliRunner().invoke(main, ["merge", "--out", str(target), str(runs["shard1"])])
    assert result.exit_code == 2 and "is a file, not a folder" in result.output
    assert target.read_text() == "not a folder"


def test_a_changed_shifted_tree_is_named_and_an_older_record_is_no_change() -> None:
    from evalsuite.results.provenance_diff import provenance_changes

    provenance = {
        "weights": {"sha256": "w"},
        "versions": {"evalsuite": "0.1.0"},
        "dataset_fingerprint": "c" * 64,
        "dataset_fingerprint_shift": "a" * 64,
        "evalsuite": "0.1.0",
        "code_version": "2",
        "git_commit": None,
    }
    base = {"config": {}, "provenance": provenance}
    moved = {"config": {}, "provenance": {**provenance, "dataset_fingerprint_shift": "b" * 64}}
    changes = [change.text() for change in provenance_changes(base, moved)]
    assert changes == [f"dataset fingerprint_shift: {'a' * 12} -> {'b' * 12}"]
    older = {"config": {}, "provenance": {k: v for k, v in provenance.items() if "shift" not in k}}
    assert provenance_changes(older, base) == []  # written before the field: nothing to say
