"""The site owns only what it wrote: a ledger of its files, refusal of foreign folders, a staged
build swapped in at the end (a crash, Ctrl-C or SIGTERM leaves the previous site whole)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from site_helpers import copy_results

from evalsuite import signals
from evalsuite.cli import main
from evalsuite.errors import OwnershipError
from evalsuite.site import build_site
from evalsuite.site.build import assemble as build_module
from evalsuite.site.build.assemble import LEDGER


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _siblings(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.parent.iterdir() if path != folder)


def test_the_ledger_lists_every_file_written(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(results_dir, out)
    ledger = json.loads((out / LEDGER).read_text(encoding="utf-8"))
    assert ledger["files"] == sorted(set(_snapshot(out)) - {LEDGER})
    assert "index.html" in ledger["files"]
    assert _siblings(out) == []  # the staging folder was renamed into place, nothing left


def test_a_rebuild_removes_only_files_an_earlier_build_wrote(
    results_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build_site(results_dir, out)
    ledger = json.loads((out / LEDGER).read_text(encoding="utf-8"))
    (out / "cells" / "old").mkdir()
    (out / "cells" / "old" / "gone.html").write_text("a page of an earlier build")
    ledger["files"].append("cells/old/gone.html")
    (out / LEDGER).write_text(json.dumps(ledger))
    (out / "notes.md").write_text("mine")
    with pytest.raises(OwnershipError, match=r"holds 1 file\(s\) evalsuite site did not write"):
        build_site(results_dir, out)
    assert (out / "cells" / "old" / "gone.html").is_file()  # refused: nothing touched
    build_site(results_dir, out, force=True)
    assert (out / "notes.md").read_text() == "mine"  # foreign: kept
    assert not (out / "cells" / "old").exists()  # owned and no longer built: removed
    assert "cells/old/gone.html" not in (out / LEDGER).read_text(encoding="utf-8")
    assert _siblings(out) == []
    assert not [p for p in out.iterdir() if p.name.startswith(".evalsuite-staging")]


def test_a_folder_of_another_tool_is_refused_naming_its_files(
    results_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    (out / "cells").mkdir(parents=True)
    (out / "index.html").write_text("my own page")
    (out / "cells" / "stale.html").write_text("old")
    before = _snapshot(out)
    arguments = ["site", "--results", str(results_dir), "--out", str(out)]
    refused = CliRunner().invoke(main, arguments)
    assert refused.exit_code == 2, refused.output
    assert f"{out / 'cells' / 'stale.html'}, {out / 'index.html'}" in refused.output
    assert "--force" in refused.output and "Traceback" not in refused.output
    assert _snapshot(out) == before
    clash = CliRunner().invoke(main, [*arguments, "--force"])  # never overwrites them
    assert clash.exit_code == 2, clash.output
    assert f"would overwrite {out / 'index.html'}" in clash.output
    assert _snapshot(out) == before and _siblings(out) == []


def test_a_results_folder_is_refused_even_one_of_another_run(
    results_dir: Path, tmp_path: Path
) -> None:
    other = copy_results(results_dir, tmp_path / "other-results")
    before = _snapshot(other)
    with pytest.raises(OwnershipError, match=r"holds a results folder \(.*manifest.json"):
        build_site(results_dir, other)
    assert _snapshot(other) == before


@pytest.fixture(scope="module")
def first_build(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site built once from `results_dir`; tests copy it (its ledger names files relative
    to the folder, so a copy is a site `evalsuite site` wrote there)."""
    out = tmp_path_factory.mktemp("first-build") / "site"
    build_site(results_dir, out)
    return out


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, signals.Terminated, OSError])
@pytest.mark.parametrize("foreign", [False, True], ids=["swap", "in-place"])
def test_an_interrupted_build_leaves_the_previous_site_whole(
    results_dir: Path,
    first_build: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt: type[BaseException],
    foreign: bool,
) -> None:
    """Ctrl-C (130), SIGTERM (143) or a full disk (3) while the site's files are written."""
    out = tmp_path / "site"
    shutil.copytree(first_build, out, symlinks=True)
    if foreign:
        (out / "notes.md").write_text("mine")
    before = _snapshot(out)
    copies: list[str] = []

    write = build_module._put

    def write_then_stop(target: Path, content: bytes | Path) -> None:
        copies.append(str(target))
        if len(copies) == 3:
            raise interrupt(28, "No space left on device") if interrupt is OSError else interrupt()
        write(target, content)

    monkeypatch.setattr(build_module, "_put", write_then_stop)
    arguments = ["site", "--results", str(results_dir), "--out", str(out), "--force"]
    result = CliRunner().invoke(main, arguments)
    expected = {KeyboardInterrupt: 130, signals.Terminated: 143}.get(interrupt)
    assert len(copies) == 3
    assert result.exit_code == expected if expected else result.exit_code != 0, result.output
    assert _snapshot(out) == before
    assert _siblings(out) == []
    assert not [p for p in out.iterdir() if p.name.startswith(".evalsuite-staging")]


def test_clean_removes_only_what_a_build_wrote(first_build: Path, tmp_path: Path) -> None:
    """`site --clean` (what `make clean` runs) deletes the ledger's files, keeps the others."""
    out = tmp_path / "site"
    shutil.copytree(first_build, out, symlinks=True)
    (out / "cells" / "mine.txt").write_text("mine")
    runner = CliRunner()
    result = runner.invoke(main, ["site", "--clean", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "kept 1 file(s) no build wrote" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "cells",
        "cells/mine.txt",
    ]
    again = runner.invoke(main, ["site", "--clean", "--out", str(out)])  # no ledger: refused
    assert again.exit_code == 2
    assert f"{out} holds no {LEDGER}" in again.output
    assert (out / "cells" / "mine.txt").read_text() == "mine"
    whole = tmp_path / "whole"
    shutil.copytree(first_build, whole, symlinks=True)
    assert runner.invoke(main, ["site", "--clean", "--out", str(whole)]).exit_code == 0
    assert not whole.exists()  # nothing foreign: the folder goes too
