"""`evalsuite history append` on constructed nights of a real tiny run: each night keeps the
records' headline metrics and intervals, `diff`'s verdicts and the manifest's provenance; the
same night again replaces its entry; --max-nights drops the oldest; a corrupt or foreign file,
or a diff of another run, is refused (exit 2, naming it) and left as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from history_nights import CHANGED, REVERSED, Night, append, make_nights, tiny_run

from evalsuite.results import iter_cells
from evalsuite.results.diff_metrics import HEADLINE
from evalsuite.results.history import provenance_changes


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> list[Night]:
    return make_nights(tiny_run(tmp_path_factory), tmp_path_factory.mktemp("nights"))


@pytest.fixture(scope="module")
def kept(nights: list[Night], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The history of the four nights, appended one by one."""
    path = tmp_path_factory.mktemp("history") / "history.json"
    for night in nights:
        result = append(night, path)
        assert result.exit_code == 0, result.output
    return dict(json.loads(path.read_text()))


def _refused(result: Any, *needles: str | Path) -> None:
    """Exit 2 with one line on stderr naming every needle, and no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert str(needle) in lines[0]


def test_each_night_keeps_the_records_metrics_and_the_manifests_provenance(
    nights: list[Night], kept: dict[str, Any]
) -> None:
    assert kept["format"] == "evalsuite.history/1" and kept["study"] == "tiny"
    assert [n["run"] for n in kept["nights"]] == [night.created for night in nights]
    for night, entry in zip(nights, kept["nights"], strict=True):
        assert entry["date"] == night.created[:10]  # the manifest's run time, not the clock
        manifest = json.loads((night.folder / "manifest.json").read_text())
        code = entry["provenance"]["code"]
        assert code["git_commit"] == manifest["git_commit"]
        assert code["evalsuite"] == manifest["versions"]["evalsuite"]
        assert entry["provenance"]["versions"]["torch"] == manifest["versions"]["torch"]
        assert (
            entry["provenance"]["dataset"]["fingerprint"]
            == (manifest["dataset"]["fingerprint_clean"])
        )
        records = {
            str(relpath): record
            for relpath, record in iter_cells(night.folder)
            if record["scope"] == "per_class"  # the headline cells; unified ones are left out
        }
        assert len(records) == 4 and {c["path"] for c in entry["cells"]} == set(records)
        for cell in entry["cells"]:
            record = records[cell["path"]]
            for metric in HEADLINE:
                assert cell["metrics"][metric]["value"] == record["metrics"][metric]["value"]
                assert cell["metrics"][metric]["ci95"] == record["metrics"][metric]["ci95"]


def test_verdicts_are_what_diff_says_against_the_night_before(
    nights: list[Night], kept: dict[str, Any]
) -> None:
    first, *later = kept["nights"]
    assert first["against"] is None
    assert {m["verdict"] for c in first["cells"] for m in c["metrics"].values()} == {None}
    for index, entry in enumerate(later, start=1):
        assert nights[index].diff is not None
        diff = json.loads(nights[index].diff.read_text())
        assert entry["against"] == nights[index - 1].created == diff["base"]["created"]
        said = {
            c["new_path"]: {m["metric"]: m["verdict"] for m in c["metrics"]} for c in diff["cells"]
        }
        for cell in entry["cells"]:
            kept_verdicts = {m: v["verdict"] for m, v in cell["metrics"].items()}
            assert kept_verdicts == said[cell["path"]]
    reversed_cell = next(c for c in kept["nights"][2]["cells"] if c["path"] == REVERSED)
    assert reversed_cell["metrics"]["image_auroc"]["verdict"] == "regressed"
    assert reversed_cell["change"] == "regressed"


def test_provenance_changes_name_exactly_the_fields_that_changed(kept: dict[str, Any]) -> None:
    nights = kept["nights"]
    for index in range(1, len(nights)):
        changes = provenance_changes(nights[index - 1], nights[index])
        assert {f"{c.kind} {c.key}" for c in changes} == CHANGED[index]


def test_the_same_night_again_replaces_its_entry(nights: list[Night], tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    for night in nights[:2]:
        assert append(night, path).exit_code == 0
    once = path.read_bytes()
    result = append(nights[1], path)
    assert result.exit_code == 0 and result.output.startswith("replaced the night of")
    assert path.read_bytes() == once
    result = append(nights[0], path)  # an older night again: replaced in its place
    assert result.exit_code == 0 and path.read_bytes() == once


def test_max_nights_drops_the_oldest(nights: list[Night], tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    for night in nights:
        result = append(night, path, "--max-nights", "2")
        assert result.exit_code == 0, result.output
    assert "dropped the 1 oldest" in result.output
    runs = [n["run"] for n in json.loads(path.read_text())["nights"]]
    assert runs == [nights[2].created, nights[3].created]


def _corrupt_value(path: Path, kept: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(kept))
    broken["nights"][1]["cells"][0]["metrics"]["image_auroc"]["value"] = 1.5
    path.write_text(json.dumps(broken))


def _shuffled(path: Path, kept: dict[str, Any]) -> None:
    path.write_text(json.dumps({**kept, "nights": kept["nights"][::-1]}))


FILES = {
    "diff JSON": (
        lambda p, k: p.write_text('{"schema": "evalsuite.diff/1", "cells": []}'),
        "not an evalsuite history",
    ),
    "text": (lambda p, k: p.write_text("my notes\n"), "not JSON"),
    "a list": (lambda p, k: p.write_text("[1, 2]"), "not an evalsuite history"),
    "newer format": (lambda p, k: p.write_text('{"format": "evalsuite.history/2"}'), "format"),
    "value out of range": (_corrupt_value, "nights[1].cells[0].metrics.image_auroc.value"),
    "nights out of order": (_shuffled, "run order"),
}


@pytest.mark.parametrize("case", FILES)
def test_a_corrupt_or_foreign_file_is_refused_and_left_alone(
    case: str, nights: list[Night], kept: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    write, says = FILES[case]
    write(path, kept)
    before = path.read_bytes()
    _refused(append(nights[3], path), path, says)
    assert path.read_bytes() == before


def test_a_diff_of_another_run_is_refused(nights: list[Night], tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    assert nights[2].diff is not None
    wrong = Night(nights[3].folder, nights[3].created, nights[2].diff)
    _refused(append(wrong, path), nights[2].diff, nights[2].created, nights[3].created)
    assert not path.exists()


def test_a_history_of_another_study_is_refused(
    nights: list[Night], kept: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    other = {**kept, "study": "paper", "nights": []}
    path.write_text(json.dumps(other))
    _refused(append(nights[0], path), "'paper'", "'tiny'")


def test_a_history_inside_the_results_is_refused(nights: list[Night], tmp_path: Path) -> None:
    """The command writes only its own file: never into the results folder it reads."""
    inside = nights[0].folder / "history.json"
    _refused(append(nights[0], inside), inside, "--results")
    assert not inside.exists()
