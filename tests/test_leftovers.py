"""What a stopped run leaves (atomic-write temp files, fit staging folders) is removed by the
next run, and nothing else is: not a user's files, not look-alikes outside the run's folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from studies import SMALL

from evalsuite import results
from evalsuite.atomic import write_bytes
from evalsuite.cli import main
from evalsuite.runner.guard.leftovers import remove_leftovers


def _plant(out: Path) -> tuple[list[Path], list[Path]]:
    """(leftovers of a stopped run, files that are not) in results folder `out`."""
    ours = [
        out / "cells" / "patchcore" / "per_class" / ".hazelnut.json.k2j_9x0a.tmp",
        out / "artifacts" / "patchcore" / "heatmap" / ".000.png.abcdefgh.tmp",
        out / ".manifest.json.0a1b2c3d.tmp",
        out / "splits" / ".seed0.json.zz__zz__.tmp",
        out / "fits" / "0123456789abcdef.staging-4242" / "bank.npy",
    ]
    theirs = [
        out / "notes.tmp",  # not a hidden temp of ours
        out / "cells" / ".short.abc.tmp",  # not eight random characters
        out / "mine" / ".x.json.abcdefgh.tmp",  # outside the folders a run writes
        out / "fits" / "my-model.staging-1" / "bank.npy",  # not a fit id
    ]
    for path in ours + theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    return ours, theirs


def test_exactly_the_leftovers_are_removed(tmp_path: Path) -> None:
    ours, theirs = _plant(tmp_path)
    assert remove_leftovers(tmp_path) == len(ours)
    assert not [path for path in ours if path.exists()]
    assert not (tmp_path / "fits" / "0123456789abcdef.staging-4242").exists()
    assert all(path.read_bytes() == b"partial" for path in theirs)
    assert remove_leftovers(tmp_path) == 0


def test_the_temp_names_are_those_atomic_writes_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write stopped before its rename leaves a name the sweep recognises."""
    import os

    seen: list[Path] = []

    def stop(source: str, target: str) -> None:
        seen.append(Path(source))
        raise KeyboardInterrupt  # stopped between the write and the rename

    monkeypatch.setattr(os, "replace", stop)
    (tmp_path / "cells").mkdir()
    with pytest.raises(KeyboardInterrupt):
        write_bytes(tmp_path / "cells" / "a.json", b"{}")
    monkeypatch.undo()
    from evalsuite.runner.guard.leftovers import TEMP_FILE

    assert seen and TEMP_FILE.fullmatch(seen[0].name)


def test_a_run_sweeps_before_it_works(tmp_path: Path) -> None:
    config = tmp_path / "tiny.json"
    study = json.loads(json.dumps(SMALL))
    study.update(scopes=["per_class"], kinds=["clean/none"], sweeps=[])
    study["detectors"] = study["detectors"][:1]
    config.write_text(json.dumps(study))
    out = tmp_path / "out"
    args = ["run", "--config", str(config), "--out", str(out), "--cache", str(tmp_path / "c")]
    first = CliRunner().invoke(main, [*args, "--quiet"])
    assert first.exit_code == 0, first.output
    before = {str(p): r["metrics"] for p, r in results.iter_cells(out)}
    ours, theirs = _plant(out)
    again = CliRunner().invoke(main, [*args, "--quiet"])
    assert again.exit_code == 0, again.output
    assert not [path for path in ours if path.exists()]
    assert all(path.exists() for path in theirs)
    assert {str(p): r["metrics"] for p, r in results.iter_cells(out)} == before
