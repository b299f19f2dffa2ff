"""A command writes only inside its own output (`evalsuite.outputs`): every command that writes
refuses an output inside one of its inputs and an input inside its output (links resolved),
replaces a single output file only when it is its own earlier output (or `--force`), takes
names that become paths only when they cannot leave their folder, and removes the staging
folders of killed processes (exactly those) where it writes next."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from studies import tiny_toml

from evalsuite.cli import main
from evalsuite.data.download import download
from evalsuite.errors import ConfigError
from evalsuite.runner.planning.study_data import default_cache_dir

SMALL_SYNTH = "--categories hazelnut --size 64 --train 1 --test-good 1 --test-defect 1"


def _invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """The CLI on `args`: a string is split into words, a path is one word."""
    words = [w for a in args for w in (a.split() if isinstance(a, str) else [str(a)])]
    return CliRunner().invoke(main, words, env=env)


def _refused(result: Result, *says: str | Path, code: int = 2) -> None:
    """Exit `code` with one error line naming every item of `says`, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for text in says:
        assert str(text) in result.output, f"{text} not in {result.output!r}"


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> content)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished one-cell results folder, its configuration and its cache."""
    root = tmp_path_factory.mktemp("outputs")
    config = root / "tiny.toml"
    config.write_text(tiny_toml("outputs", ["clean/none"], ["hazelnut"], bootstrap=10))
    places = {"config": config, "results": root / "results", "cache": root / "cache"}
    done = _invoke(
        "run", "--config", config, "--out", places["results"], "--cache", places["cache"], "--quiet"
    )
    assert done.exit_code == 0, done.output
    return places


@pytest.fixture
def results(study: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the study's results folder that a test may see broken."""
    return Path(shutil.copytree(study["results"], tmp_path / "results"))


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The id of a running process (until the test ends)."""
    process = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    yield process.pid
    process.kill()
    process.wait()


# --- an output inside an input, an input inside an output ------------------------------------


def test_merge_into_a_folder_inside_its_source_is_refused(results: Path) -> None:
    before = _snapshot(results)
    _refused(
        _invoke("merge", "--out", results / "merged", results),
        f"--out {results / 'merged'} lies inside the results folder {results}",
    )
    assert _snapshot(results) == before and not (results / "merged").exists()


def test_merge_into_a_folder_holding_its_source_is_refused(results: Path, tmp_path: Path) -> None:
    holder = tmp_path / "all"
    shard = Path(shutil.move(results, holder / "shard"))
    before = _snapshot(shard)
    _refused(
        _invoke("merge", "--out", holder, shard),
        f"the results folder {shard} (an input) lies inside --out {holder}",
    )
    assert _snapshot(shard) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all"]  # nothing moved aside


def test_a_site_inside_the_results_or_baseline_folder_is_refused(
    results: Path, study: dict[str, Path], tmp_path: Path
) -> None:
    before = _snapshot(results)
    _refused(
        _invoke("site", "--results", results, "--out", results / "site"),
        f"--out {results / 'site'} lies inside --results {results}",
    )
    link = tmp_path / "link"
    link.symlink_to(results, target_is_directory=True)  # a link counts by its target
    _refused(
        _invoke("site", "--results", results, "--out", link / "site"),
        f"--out {link / 'site'} (a link to {results / 'site'}) lies inside --results",
    )
    _refused(
        _invoke(
            "site --results", study["results"], "--baseline", results, "--out", results / "site"
        ),
        f"lies inside --baseline {results}",
    )
    _refused(
        _invoke(
            "site --results", results, "--out", tmp_path / "site", "--bundle", results / "site.zip"
        ),
        f"--bundle {results / 'site.zip'} lies inside --results {results}",
    )
    assert _snapshot(results) == before


def test_diff_json_never_lands_in_a_results_folder(results: Path, study: dict[str, Path]) -> None:
    before = _snapshot(results)
    manifest = results / "manifest.json"
    for extra in ((), ("--force",)):
        _refused(
            _invoke("diff", study["results"], results, "--json", manifest, *extra),
            f"--json {manifest} lies inside NEW {results}",
        )
    assert _snapshot(results) == before


def test_run_and_all_refuse_overlapping_places_before_any_work(
    study: dict[str, Path], tmp_path: Path
) -> None:
    out, config = tmp_path / "out", study["config"]
    _refused(
        _invoke("run", "--config", config, "--out", out, "--cache", out / "cache"),
        f"--cache {out / 'cache'} (another output) lies inside --out {out}",
    )
    _refused(
        _invoke(
            "all --config", config, "--out", out, "--cache", study["cache"], "--site", out / "site"
        ),
        f"--site {out / 'site'} (another output) lies inside --out {out}",
    )
    assert not out.exists()  # refused before the run made anything
    inside = tmp_path / "kept" / "study.toml"
    inside.parent.mkdir()
    shutil.copyfile(config, inside)
    _refused(
        _invoke("run", "--config", inside, "--out", inside.parent, "--cache", study["cache"]),
        f"--config {inside} (an input) lies inside --out {inside.parent}",
    )
    assert sorted(p.name for p in inside.parent.iterdir()) == ["study.toml"]


def test_data_shift_into_its_source_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "data"
    made = _invoke("data synth --out", source, SMALL_SYNTH)
    assert made.exit_code == 0, made.output
    before = _snapshot(source)
    _refused(
        _invoke("data", "shift", "--src", source, "--out", source / "shifted", "--quiet"),
        f"--out {source / 'shifted'} lies inside --src {source}",
    )
    assert _snapshot(source) == before


# --- never replace a file the command did not write -------------------------------------------


def test_diff_json_replaces_only_its_own_file_unless_forced(
    results: Path, study: dict[str, Path], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    _refused(
        _invoke("diff", study["results"], results, "--json", notes),
        f"--json {notes} exists and is a file, not a diff JSON",
        "--force",
    )
    assert notes.read_text() == '{"mine": true}\n'
    forced = _invoke("diff", study["results"], results, "--json", notes, "--force")
    assert forced.exit_code == 0, forced.output
    written = json.loads(notes.read_text())
    assert written["schema"].startswith("evalsuite.diff/") and "cells" in written
    again = _invoke("diff", study["results"], results, "--json", notes)  # its own: replaced
    assert again.exit_code == 0, again.output
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # never opened: a FIFO would block a reader for ever
    _refused(_invoke("diff", study["results"], results, "--json", fifo), "a link or special file")
    folder = tmp_path / "reports"
    folder.mkdir()
    _refused(_invoke("diff", study["results"], results, "--json", folder), "is a folder")


def test_an_unwritable_diff_json_is_an_environment_error(
    results: Path, study: dict[str, Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    target = blocker / "diff.json"
    _refused(_invoke("diff", study["results"], results, "--json", target), target, code=3)


def test_a_bundle_replaces_only_an_evalsuite_bundle(study: dict[str, Path], tmp_path: Path) -> None:
    bundle, site = tmp_path / "paper.zip", tmp_path / "site"
    with zipfile.ZipFile(bundle, "w") as archive:  # someone's zip, no bundle mark
        archive.writestr("thesis.tex", "precious")
    before = bundle.read_bytes()
    for force in ((), ("--force",)):  # site's --force keeps foreign files: it covers no zip
        _refused(
            _invoke(
                "site", "--results", study["results"], "--out", site, "--bundle", bundle, *force
            ),
            f"--bundle {bundle} exists and is a file, not an evalsuite bundle",
        )
    assert bundle.read_bytes() == before and not site.exists()
    bundle.unlink()
    for _ in range(2):  # the second build recognises the first one's zip and replaces it
        built = _invoke("site", "--results", study["results"], "--out", site, "--bundle", bundle)
        assert built.exit_code == 0, built.output
    with zipfile.ZipFile(bundle) as archive:
        assert "paper/index.html" in archive.namelist()


# --- names that become paths -------------------------------------------------------------------


def _archive_in_place(out: Path, tree: Path) -> Path:
    """An MVTec-like archive of `tree` already downloaded into `out`, and its sources file."""
    archive = out / ".downloads" / "mvtec.tar"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w") as tar:
        tar.add(tree / "alpha", arcname="alpha")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    sources = out.parent / "sources.json"
    full = {"url": (out.parent / "nowhere" / "mvtec.tar").as_uri(), "sha256": digest}
    sources.write_text(json.dumps({"full": full, "categories": {}}))
    return sources


@pytest.mark.parametrize("name", ["..", "ABSOLUTE", "a/../..", ".hidden"])
def test_download_categories_cannot_name_a_folder_outside_out(
    make_tree, tmp_path: Path, name: str
) -> None:
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    (victim / "keep" / "notes.txt").write_text("precious")
    out = victim / "mvtec"
    sources = _archive_in_place(out, make_tree("src", categories=("alpha",)))
    category = str(victim) if name == "ABSOLUTE" else name
    _refused(
        _invoke("data", "download", "--out", out, "--categories", category, "--sources", sources),
        "Invalid value for '--categories'",
        "cannot name a category folder",
    )
    assert (victim / "keep" / "notes.txt").read_text() == "precious"
    with pytest.raises(ConfigError, match="cannot name a folder"):
        download(out, [category], progress=False)
    assert (victim / "keep" / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize("command", ["synth", "check"])
def test_every_categories_option_is_checked(command: str, tmp_path: Path) -> None:
    where = ["--out", tmp_path / "x"] if command == "synth" else [tmp_path]
    _refused(
        _invoke("data", command, *where, "--categories", "hazelnut,../etc"),
        "Invalid value for '--categories'",
        "'../etc' cannot name a category folder",
    )


# --- leftovers and silence ---------------------------------------------------------------------


def _plant(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "partial.bin").write_bytes(b"partial")
    return folder


def test_merge_and_site_remove_exactly_dead_staging_folders(
    results: Path, tmp_path: Path, dead_pid: int, live_pid: int
) -> None:
    for out, command in (
        (tmp_path / "merged", ["merge", "--out", tmp_path / "merged", results]),
        (tmp_path / "site", ["site", "--results", results, "--out", tmp_path / "site"]),
    ):
        dead = _plant(tmp_path / f".{out.name}.staging-{dead_pid}-0a1b2c3d")
        kept = [
            _plant(tmp_path / f".{out.name}.staging-{live_pid}-0a1b2c3d"),  # still running
            _plant(tmp_path / f".other-{out.name}.staging-{dead_pid}-0a1b2c3d"),  # another output's
            _plant(tmp_path / f".{out.name}.staging-{dead_pid}-notatag"),  # not our name
        ]
        done = _invoke(*command)
        assert done.exit_code == 0, done.output
        assert not dead.exists()
        assert all((folder / "partial.bin").exists() for folder in kept)
    inner = _plant(tmp_path / "site" / f".evalsuite-staging-{dead_pid}-0a1b2c3d")
    rebuilt = _invoke("site", "--results", results, "--out", tmp_path / "site")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert not inner.exists()


def test_a_site_build_removes_the_previous_tree_a_killed_build_left(
    results: Path, tmp_path: Path, dead_pid: int, live_pid: int
) -> None:
    """A build killed (SIGKILL) between or after the swap's renames leaves the previous site as
    `.<out>.old-<pid>-<tag>`: the next build removes it when its process is gone and every file
    there is the build's own (in its ledger); anything else is kept."""
    out = tmp_path / "site"
    assert _invoke("site", "--results", results, "--out", out).exit_code == 0
    dead = Path(shutil.copytree(out, tmp_path / f".site.old-{dead_pid}-0a1b2c3d"))
    running = Path(shutil.copytree(out, tmp_path / f".site.old-{live_pid}-0a1b2c3d"))
    foreign = Path(shutil.copytree(out, tmp_path / f".site.old-{dead_pid}-0a1b2c3e"))
    (foreign / "mine.txt").write_text("mine")
    other = Path(shutil.copytree(out, tmp_path / f".other.old-{dead_pid}-0a1b2c3d"))
    rebuilt = _invoke("site", "--results", results, "--out", out)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert not dead.exists()
    assert running.is_dir() and other.is_dir() and (foreign / "mine.txt").read_text() == "mine"


def test_data_generation_removes_dead_staging_folders(
    study: dict[str, Path], tmp_path: Path, dead_pid: int, live_pid: int
) -> None:
    out = tmp_path / "synth"
    dead = _plant(tmp_path / f".synth.staging-{dead_pid}-0a1b2c3d")
    live = _plant(tmp_path / f".synth.staging-{live_pid}-0a1b2c3d")
    made = _invoke("data synth --out", out, SMALL_SYNTH)
    assert made.exit_code == 0, made.output
    assert not dead.exists() and live.exists()
    cache = Path(shutil.copytree(study["cache"], tmp_path / "cache"))
    planted = [
        _plant(cache / "synthetic" / f".0123abcd.staging-{dead_pid}-0a1b2c3d"),
        _plant(cache / "shift" / f".0123abcd-s2-seed0.staging-{dead_pid}-0a1b2c3d"),
    ]
    live = _plant(cache / "synthetic" / f".4567abcd.staging-{live_pid}-0a1b2c3d")
    planned = _invoke("plan", "--config", study["config"], "--cache", cache)
    assert planned.exit_code == 0, planned.output
    assert not any(folder.exists() for folder in planted) and live.exists()


STALL = """
import sys
from pathlib import Path
from evalsuite import atomic
from evalsuite.results import merge

def stall(path, payload):  # the manifest, the last file of the staged tree
    Path(sys.argv[3]).write_text("staged")
    sys.stdin.read()  # until the test kills it

atomic.write_json = stall
merge([Path(sys.argv[1])], Path(sys.argv[2]))
"""


def test_a_merge_killed_mid_way_is_cleaned_up_by_the_next(results: Path, tmp_path: Path) -> None:
    out, ready = tmp_path / "merged", tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, "-c", STALL, str(results), str(out), str(ready)], stdin=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert process.poll() is None, "the merge ended before it staged its tree"
            assert time.monotonic() < deadline, "the merge never staged its tree"
            time.sleep(0.01)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    left = list(tmp_path.glob(f".merged.staging-{process.pid}-*"))
    assert len(left) == 1 and not out.exists()  # what kill -9 leaves
    done = _invoke("merge", "--out", out, results)
    assert done.exit_code == 0, done.output
    assert not left[0].exists() and (out / "manifest.json").is_file()


def test_an_empty_evalsuite_cache_is_refused(
    study: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALSUITE_CACHE", "")
    with pytest.raises(ConfigError, match="EVALSUITE_CACHE is set but empty"):
        default_cache_dir()
    for command in ("plan", "run"):
        _refused(
            _invoke(command, "--config", study["config"], env={"EVALSUITE_CACHE": ""}),
            "EVALSUITE_CACHE is set but empty",
        )
    assert list(tmp_path.iterdir()) == []  # nothing written in the working directory


def test_a_failed_download_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    sources = tmp_path / "sources.json"
    full = {"url": (tmp_path / "nowhere.tar").as_uri(), "sha256": "ab" * 32}
    sources.write_text(json.dumps({"full": full, "categories": {}}))
    for where in (out, tmp_path / "new" / "data"):
        failed = _invoke("data download --out", where, "--categories alpha --sources", sources)
        _refused(failed, "download failed", code=3)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert not (tmp_path / "new").exists()


def test_remove_dead_staging_touches_no_link(tmp_path: Path, dead_pid: int) -> None:
    from evalsuite.outputs import remove_dead_staging

    target = _plant(tmp_path / "target")
    (tmp_path / f".out.staging-{dead_pid}-0a1b2c3d").symlink_to(target)
    assert remove_dead_staging(tmp_path, "out") == 0
    assert (target / "partial.bin").exists()
