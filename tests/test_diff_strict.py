"""`evalsuite diff` reads its inputs as carefully as `merge`: edited records, two records of one
cell, images listed twice or under another label and metrics out of range are refused with one
line and exit 2 (never 1, which `--fail-on-regression` means); two different datasets are
compared unpaired, and every verdict says so; every number it writes is finite and a missing
one says why; `changes.csv` names both records.
Real tiny runs; bad inputs are copies of their records, edited."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from studies import SMALL

from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.evaluation.unpaired import unpaired_image_difference
from evalsuite.results import iter_cells, record_digest
from evalsuite.results.diff import CellKey, diff_runs
from evalsuite.results.diff_report import CSV_COLUMNS, csv_rows, diff_json
from evalsuite.results.validation import loads_strict
from evalsuite.runner import run_study

HAZELNUT = "padim/per_class/none/clean/hazelnut.json"


def _study(seed: int | None = None) -> StudyConfig:
    """SMALL cut to 4 cells (both detectors, per_class, clean/none, two categories); `seed`
    generates other synthetic images under the same ids."""
    study = json.loads(json.dumps(SMALL))
    study.update(kinds=["clean/none"], scopes=["per_class"], sweeps=[])
    if seed is not None:
        study["data"]["synthetic"]["seed"] = seed
    return StudyConfig.model_validate(study)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base, and other: the same study on other synthetic images with the same sample ids."""
    root = tmp_path_factory.mktemp("diff-strict")
    for name, config in {"base": _study(), "other": _study(seed=5)}.items():
        run_study(config, root / name, cache_dir=root / "cache", progress=False)
    return {"base": root / "base", "other": root / "other"}


def _copy(source: Path, target: Path) -> Path:
    return shutil.copytree(source, target, ignore=shutil.ignore_patterns("fits"))


def _edit(folder: Path, change: Callable[[dict[str, Any]], None], digest: bool = True) -> Path:
    """Apply `change` to the record at HAZELNUT; its digest recomputed unless `digest` is
    False (then the old digest stays: an edit by hand). Returns the file."""
    path = folder / "cells" / HAZELNUT
    record = json.loads(path.read_text())
    old = record.pop("digest")
    change(record)
    record["digest"] = record_digest(record) if digest else old
    path.write_text(json.dumps(record, indent=2))
    return path


def _diff(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["diff", *map(str, args)])


def _refused(result: Result, *needles: str | Path) -> None:
    """Exit 2 with one line on stderr naming every needle, and no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])


def test_changes_csv_names_the_base_record_in_every_row(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Before: the column list blanked `base_path` in every row."""
    new = _copy(runs["base"], tmp_path / "new")
    (new / "cells" / HAZELNUT).unlink()  # one cell removed: its row has no new record
    base_paths = {CellKey.of(r): str(p) for p, r in iter_cells(runs["base"])}
    new_paths = {CellKey.of(r): str(p) for p, r in iter_cells(new)}
    report = diff_runs(runs["base"], new)
    rows = csv_rows(report)
    assert len(rows) == 3 * 4 + 1 and list(rows[0]) == list(CSV_COLUMNS)
    for row, cell in zip(rows, [c for c in report.cells for _ in c.metrics or [None]], strict=True):
        assert row["base_path"] == base_paths[cell.key]
        assert (runs["base"] / "cells" / row["base_path"]).is_file()
        assert row["new_path"] == new_paths.get(cell.key, "")
    assert [r["status"] for r in rows].count("removed") == 1


def test_a_hand_edited_record_is_refused_as_merge_refuses_it(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    edited = _copy(runs["base"], tmp_path / "edited")

    def better(record: dict[str, Any]) -> None:
        record["metrics"]["image_auroc"]["value"] = 1.0

    path = _edit(edited, better, digest=False)
    result = _diff(runs["base"], edited, "--fail-on-regression")
    _refused(result, path, "does not match its content digest")
    merged = CliRunner().invoke(main, ["merge", "--out", str(tmp_path / "merged"), str(edited)])
    assert merged.exit_code == result.exit_code == 2 and str(path) in merged.output


def test_two_records_of_one_cell_are_refused_naming_both(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    twice = _copy(runs["base"], tmp_path / "twice")
    first = twice / "cells" / HAZELNUT
    second = first.with_name("hazelnut__seed0.json")  # where a multi-seed study puts it
    shutil.copyfile(first, second)
    _refused(_diff(runs["base"], twice), first, second, "same cell")
    _refused(_diff(twice, runs["base"]), first, second)


def test_a_different_dataset_is_compared_unpaired_and_every_verdict_says_so(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """The same sample ids on other images: before, the images were 'paired' by id (n = 10 or
    11 pairs of unrelated images) and nothing said so. Now each record's own images are
    resampled on their own, with or without manifests, and every verdict says unpaired."""
    base, other = runs["base"], runs["other"]
    records = {name: dict((CellKey.of(r), r) for _, r in iter_cells(runs[name])) for name in runs}
    key = CellKey("patchcore", "per_class", "none", "clean", "zipper", None, 0)
    a, b = records["base"][key], records["other"][key]
    assert a["provenance"]["dataset_fingerprint"] != b["provenance"]["dataset_fingerprint"]
    bare = [_copy(runs[name], tmp_path / name) for name in ("base", "other")]
    for folder in bare:
        (folder / "manifest.json").unlink()  # an interrupted run: the records decide
    for report in (diff_runs(base, other), diff_runs(*bare)):
        assert report.unpaired == 4 and len(report.cells) == 4
        metrics = [m for cell in report.cells for m in cell.metrics]
        assert all(not m.paired for m in metrics) and sum(m.ci95 is not None for m in metrics) > 8
        cell = next(c for c in report.cells if c.key == key)
        assert "dataset fingerprint" in {f"{c.kind} {c.key}" for c in cell.changes}
        auroc = cell.metrics[0]
        labels = tuple(np.array([s["label"] == 1 for s in r["scores"]]) for r in (a, b))
        scores = tuple(np.array([s["score"] for s in r["scores"]]) for r in (a, b))
        expected = unpaired_image_difference("image_auroc", labels, scores, n=1000, seed=0)
        assert auroc.ci95 == expected.ci95 and auroc.p_value == expected.p_value
        assert auroc.n_images == len(a["scores"]) + len(b["scores"])
    result = _diff(base, other)
    assert result.exit_code == 0, result.output
    verdicts = [line for line in result.output.splitlines() if " 95% CI " in line]
    assert verdicts and all(line.endswith("(unpaired: different datasets)") for line in verdicts)
    assert "4 cell(s) compared UNPAIRED" in result.output
    site = tmp_path / "site"
    args = ["site", "--results", str(other), "--out", str(site), "--baseline", str(base)]
    assert CliRunner().invoke(main, args).exit_code == 0
    page = (site / "changes.html").read_text()
    assert page.count("(unpaired: different datasets)") == sum(
        m.ci95 is not None and m.delta != 0 for c in diff_runs(base, other).cells for m in c.metrics
    )
    with (site / "downloads/changes.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {row["paired"] for row in rows} == {"no (different datasets)"}
    data = loads_strict((site / "downloads/changes.json").read_text())
    assert data["unpaired"] == 4


@pytest.mark.parametrize("field", ["label", "defect"])
def test_images_pair_by_identity_not_by_id_alone(
    runs: dict[str, Path], tmp_path: Path, field: str
) -> None:
    """One id under another label (or defect) in the same dataset: a corrupt record, refused
    naming both files (before, the image was dropped from the pairing without a word)."""
    changed = _copy(runs["base"], tmp_path / "changed")

    def relabel(record: dict[str, Any]) -> None:
        score = record["scores"][0]
        score[field] = 1 - score["label"] if field == "label" else "other"

    path = _edit(changed, relabel)
    _refused(_diff(runs["base"], changed), runs["base"] / "cells" / HAZELNUT, path, "disagree")


def test_a_test_image_listed_twice_is_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    twice = _copy(runs["base"], tmp_path / "twice")

    def repeat(record: dict[str, Any]) -> None:
        record["scores"][1] = {**record["scores"][0], "score": 5.0}

    path = _edit(twice, repeat)
    _refused(_diff(runs["base"], twice, "--fail-on-regression"), path, "twice")


def test_huge_metrics_give_one_line_and_no_infinity_anywhere(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Before: -1e308 -> 1e308 made delta -inf: a traceback and exit 1 for `--json`, and
    `-Infinity` in the site's changes.json."""
    sides = []
    for name, value in (("low", -1e308), ("high", 1e308)):

        def huge(record: dict[str, Any], value: float = value) -> None:
            record["metrics"]["image_auroc"]["value"] = value

        sides.append(_copy(runs["base"], tmp_path / name))
        _edit(sides[-1], huge)
    out = tmp_path / "diff.json"
    result = _diff(sides[1], sides[0], "--json", out, "--fail-on-regression")
    _refused(result, sides[1] / "cells" / HAZELNUT, "outside [0, 1]")
    assert not out.exists()
    site = tmp_path / "site"
    args = ["site", "--results", str(sides[0]), "--out", str(site), "--baseline", str(sides[1])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "outside [0, 1]" in result.output
    assert not (site / "downloads/changes.json").exists()


def test_a_missing_number_is_null_with_its_reason(runs: dict[str, Path], tmp_path: Path) -> None:
    """A metric without a value on one side, and an interval that cannot be computed: null in
    strict JSON (no NaN, no Infinity), with the reason; the CSV says it too."""
    new = _copy(runs["base"], tmp_path / "new")

    def no_value(record: dict[str, Any]) -> None:
        record["metrics"]["pixel_auroc"] = {"value": None, "ci95": None, "reason": "no masks"}
        record["evidence"] = None

    _edit(new, no_value)
    out = tmp_path / "diff.json"
    result = _diff(runs["base"], new, "--json", out)
    assert result.exit_code == 0, result.output
    assert re.search(r"pixel_auroc +0\.\d{4} -> n/a  \(no value in new: no masks\)", result.output)
    data = loads_strict(out.read_text())
    cell = next(c for c in data["cells"] if c["new_path"] == HAZELNUT)
    metrics = {m["metric"]: m for m in cell["metrics"]}
    assert metrics["pixel_auroc"]["delta"] is None
    assert metrics["pixel_auroc"]["reason"] == "no value in new: no masks"
    aupro = metrics["aupro_0.3"]
    assert aupro["delta"] == 0.0 and aupro["ci95"] is None and aupro["verdict"] is None
    assert aupro["reason"].startswith("no interval: no readable pixel evidence")
    assert metrics["image_auroc"]["reason"] is None and metrics["image_auroc"]["ci95"]
    rows = csv_rows(diff_runs(runs["base"], new))
    reasons = {r["reason"] for r in rows if r["new_path"] == HAZELNUT}
    assert "no value in new: no masks" in reasons
    assert data == json.loads(json.dumps(diff_json(diff_runs(runs["base"], new))))
    with (tmp_path / "rows.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, CSV_COLUMNS)
        writer.writerows(rows)
    assert "inf" not in (tmp_path / "rows.csv").read_text().lower()


def test_any_failure_of_diff_exits_2_never_1(runs: dict[str, Path], tmp_path: Path) -> None:
    """A cell file that breaks the JSON reader (nesting deeper than the recursion limit): before,
    a RecursionError traceback and exit 1, which `--fail-on-regression` reads as a regression."""
    deep = _copy(runs["base"], tmp_path / "deep")
    (deep / "cells" / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    _refused(_diff(runs["base"], deep, "--fail-on-regression"), deep)
