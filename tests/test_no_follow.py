"""Nothing followed, nothing hangs: every file evalsuite reads is a regular file of bounded size.

A link planted anywhere a results folder, shard or baseline is read (manifest, `cells/`,
`artifacts/`, `splits/`) is refused by `diff`, `site` (and `--bundle`), `merge` and `run`,
naming it, so nothing outside the folder is read, copied or shipped. A FIFO there, or given as
weights, or `/dev/zero` as weights, is refused unread instead of blocking for ever (those run
in a subprocess with a generous timeout: a hang fails the test instead of stalling it). A link
or FIFO at the run's lock path is refused (exit 3), never written through, never deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from studies import tiny_toml

from evalsuite import regular
from evalsuite.cli import main
from evalsuite.errors import BusyError, ConfigError, ResultsError
from evalsuite.runner.guard.lock import LOCK_NAME, results_lock

HANG_TIMEOUT_S = 120
"""Seconds a command may take before it counts as hanging (a loaded machine needs seconds)."""
NOT_REGULAR = "not a regular file"
LITE0 = "backbone = { resize = 64, crop = 64 }"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished one-cell results folder (with strips, raw maps and evidence) and its config."""
    base = tmp_path_factory.mktemp("no_follow")
    config = base / "study.toml"
    config.write_text(tiny_toml("nofollow", ["clean/none"], ["carpet"]))
    done = invoke("run", "--config", config, "--out", base / "results", "--cache", base / "cache")
    assert done.exit_code == 0, done.output
    return base


@pytest.fixture
def out(study: Path, tmp_path: Path) -> Path:
    """A fresh copy of the study's results folder."""
    copy = tmp_path / "results"
    shutil.copytree(study / "results", copy, symlinks=True)
    return copy


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(p for p in folder.rglob(pattern) if not p.name.endswith(".map.png"))
    assert found, f"no {pattern} under {folder}"
    return found[0]


def _link_to_copy(path: Path, elsewhere: Path) -> Path:
    """Move `path` (file or folder) out to `elsewhere` and leave a link to it: the content
    stays valid, so only following the link can tell."""
    target = elsewhere / f"outside-{path.name}"
    shutil.move(path, target)
    path.symlink_to(target, target_is_directory=target.is_dir())
    return path


PLACES: dict[str, Callable[[Path], Path]] = {
    "manifest": lambda out: out / "manifest.json",
    "cell": lambda out: _one(out / "cells", "*.json"),
    "split": lambda out: _one(out / "splits", "*.json"),
    "strip": lambda out: _one(out / "artifacts", "*.png"),
    "evidence": lambda out: _one(out / "artifacts", "evidence.npz"),
    "cells folder": lambda out: next((out / "cells").iterdir()),
    "artifacts folder": lambda out: next((out / "artifacts").iterdir()),
}


def _command(name: str, out: Path, study: Path, tmp_path: Path) -> list[str | Path]:
    """The command line of `name` reading the results folder `out` (plus a clean baseline)."""
    if name == "diff":
        return ["diff", study / "results", out, "--json", tmp_path / "changes.json"]
    if name == "merge":
        return ["merge", "--out", tmp_path / "merged", out]
    return ["site", "--results", out, "--out", tmp_path / "site", "--bundle", tmp_path / "s.zip"]


def _nothing_written(tmp_path: Path) -> None:
    for name in ("changes.json", "merged", "site", "s.zip"):
        assert not (tmp_path / name).exists(), name


@pytest.mark.parametrize("command", ["diff", "site", "merge"])
@pytest.mark.parametrize("place", list(PLACES))
def test_a_link_in_a_results_folder_is_refused_naming_it(
    place: str, command: str, out: Path, study: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = _link_to_copy(PLACES[place](out), elsewhere)
    result = invoke(*_command(command, out, study, tmp_path))
    assert result.exit_code == 2, result.output
    assert f"{planted} is a symlink, not a " in result.output
    assert "Traceback" not in result.output
    _nothing_written(tmp_path)


def test_a_link_in_the_baseline_is_refused(out: Path, study: Path, tmp_path: Path) -> None:
    planted = _link_to_copy(PLACES["cell"](out), tmp_path)
    site = tmp_path / "site"
    result = invoke("site", "--results", study / "results", "--out", site, "--baseline", out)
    assert result.exit_code == 2, result.output
    assert f"{planted} is a symlink, not a regular file" in result.output
    assert not site.exists()


def test_merge_and_the_bundle_never_copy_a_linked_file_from_outside(
    out: Path, study: Path, tmp_path: Path
) -> None:
    """The probe of the issue: a strip replaced by a link to a private file. Without the rule
    the file's bytes were copied into the merged folder and shipped inside the zip."""
    secret = tmp_path / "private.png"
    shutil.copyfile(PLACES["strip"](out), secret)
    secret.write_bytes(secret.read_bytes() + b"PRIVATE-BYTES")
    strip = PLACES["strip"](out)
    strip.unlink()
    strip.symlink_to(secret)
    for command in ("merge", "site"):
        result = invoke(*_command(command, out, study, tmp_path))
        assert result.exit_code == 2, result.output
        assert f"{strip} is a symlink" in result.output
    _nothing_written(tmp_path)
    strip.unlink()
    shutil.copyfile(study / "results" / strip.relative_to(out), strip)  # restored: both work
    for command in ("merge", "site"):
        assert invoke(*_command(command, out, study, tmp_path)).exit_code == 0
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        assert not any(b"PRIVATE-BYTES" in archive.read(name) for name in archive.namelist())


def test_run_refuses_a_link_among_its_records(out: Path, study: Path, tmp_path: Path) -> None:
    """`run` reads the records already in `--out` (to resume, or remove with --force): a link
    there is refused, so --force can never delete a file elsewhere."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    planted = _link_to_copy(PLACES["cells folder"](out), target)
    config, cache = study / "study.toml", study / "cache"
    result = invoke("run", "--config", config, "--out", out, "--cache", cache, "--force")
    assert result.exit_code == 2, result.output
    assert f"{planted} is a symlink, not a regular file" in result.output
    assert any(target.rglob("*.json"))  # the linked records are still there


def _run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m evalsuite ARGS` in a fresh interpreter; a hang fails the test."""
    command = [sys.executable, "-m", "evalsuite", *map(str, args)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=HANG_TIMEOUT_S, env=env
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} still running after {HANG_TIMEOUT_S} s: it hangs")


FIFO_PLACES: dict[str, Callable[[Path], Path]] = {
    "manifest": lambda out: out / "manifest.json",
    "extra cell": lambda out: _one(out / "cells", "*.json").with_name("extra.json"),
    "strip": lambda out: _one(out / "artifacts", "*.png"),
    "raw map": lambda out: _one(out / "artifacts", "*.png").with_suffix(".map.png"),
}


@pytest.mark.parametrize("command", ["diff", "site", "merge"])
@pytest.mark.parametrize("place", list(FIFO_PLACES))
def test_a_fifo_in_a_results_folder_is_refused_without_blocking(
    place: str, command: str, out: Path, study: Path, tmp_path: Path
) -> None:
    fifo = FIFO_PLACES[place](out)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    done = _run_cli(*_command(command, out, study, tmp_path))
    assert done.returncode == 2, done.stderr
    assert f"{fifo} is a FIFO, not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
    assert fifo.exists()  # refused, not removed
    _nothing_written(tmp_path)


def test_an_oversized_record_is_refused_unread(out: Path, study: Path, tmp_path: Path) -> None:
    cell = PLACES["cell"](out)
    os.truncate(cell, regular.RESULTS.limit + 1)  # sparse: no disk used
    result = invoke("diff", study / "results", out)
    assert result.exit_code == 2, result.output
    size = regular.RESULTS.limit + 1
    assert f"cell file {cell} is {size} bytes, larger than the limit of 64 MiB" in result.output


def _weights_study(tmp_path: Path, weights: Path) -> Path:
    config = tmp_path / "weights.toml"
    backbone = (
        f'backbone = {{ name = "resnet18", weights_file = "{weights}", resize = 64, crop = 64 }}'
    )
    text = tiny_toml("weights", ["clean/none"], ["carpet"]).replace(LITE0, backbone)
    # resnet18's own layers: the weights are then the only fault (layers are checked first)
    config.write_text(
        text.replace('target_dim = "none"', 'target_dim = "none", layers = ["layer2"]')
    )
    return config


@pytest.mark.parametrize("kind", ["/dev/zero", "FIFO"])
def test_plan_refuses_weights_that_are_not_a_regular_file_unread(
    kind: str, study: Path, tmp_path: Path
) -> None:
    """`plan` hashes the weights file: `/dev/zero` never ended, a FIFO blocked for ever."""
    weights = Path("/dev/zero") if kind == "/dev/zero" else tmp_path / "weights.pth"
    if kind == "FIFO":
        os.mkfifo(weights)
    words = "a character device" if kind == "/dev/zero" else "a FIFO"
    done = _run_cli(
        "plan", "--config", _weights_study(tmp_path, weights), "--cache", study / "cache"
    )
    assert done.returncode == 3, done.stderr
    assert f"weights file {weights} is {words}, not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [("plan", "--estimate"), ("run", "--quiet")])
def test_a_text_file_as_weights_is_one_line_naming_it(
    command: tuple[str, str], study: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.pth"
    weights.write_text("these are not weights\n" * 40)
    config = _weights_study(tmp_path, weights)
    args = ["--config", config, "--cache", study / "cache", "--out", tmp_path / "results"]
    result = invoke(command[0], *args, command[1])
    assert result.exit_code == 3, result.output
    assert f"weights file {weights} cannot be read as tensors only" in result.output
    assert "give a state dict saved with torch.save" in result.output
    assert not (tmp_path / "results").exists()


def test_the_lock_never_writes_through_a_link(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(precious)
    refusal = re.escape(f"lock file {out / LOCK_NAME} is a symlink, not a regular file")
    with pytest.raises(BusyError, match=refusal), results_lock(out):
        pass
    assert precious.read_text() == "keep me\n"
    assert (out / LOCK_NAME).is_symlink()  # refused, not removed


def test_run_refuses_a_linked_lock_with_exit_3(study: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(precious)
    config, cache = study / "study.toml", study / "cache"
    result = invoke("run", "--config", config, "--out", out, "--cache", cache, "--quiet")
    assert result.exit_code == 3, result.output
    assert f"lock file {out / LOCK_NAME} is a symlink, not a regular file" in result.output
    assert precious.read_text() == "keep me\n"
    assert not (out / "cells").exists()


def test_a_fifo_lock_is_refused_naming_it_and_kept(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_NAME
    os.mkfifo(lock)
    refusal = re.escape(f"lock file {lock} is a FIFO, not a regular file")
    with pytest.raises(BusyError, match=refusal), results_lock(tmp_path):
        pass
    assert lock.exists() and not lock.is_file()  # the FIFO is not deleted


def test_a_lock_replaced_by_a_link_while_held_is_not_removed(tmp_path: Path) -> None:
    """Only the file the run locked is removed at its end, never what took its place."""
    lock = tmp_path / LOCK_NAME
    with results_lock(tmp_path):
        assert lock.is_file() and not lock.is_symlink()
        lock.unlink()
        lock.symlink_to(tmp_path / "elsewhere")
    assert lock.is_symlink()


def test_the_regular_reader_refuses_what_it_must_and_reads_the_rest(tmp_path: Path) -> None:
    """The one module every read goes through, on each kind of path."""
    small = regular.Rule(10, ResultsError, False, "do X", "do Y")
    text = tmp_path / "text.json"
    text.write_text("0123456789")
    assert regular.read_text(text, small, "record") == "0123456789"
    text.write_text("0123456789A")
    with pytest.raises(ResultsError, match=r"record .* is 11 bytes, larger than the limit of 10"):
        regular.read_text(text, small, "record")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "short.json")
    (tmp_path / "short.json").write_text("{}")
    with pytest.raises(ResultsError, match="is a symlink, not a regular file; do X"):
        regular.read_text(link, small, "record")
    assert regular.read_text(link, regular.CONFIG, "configuration file") == "{}"  # followed
    with pytest.raises(ConfigError, match="/dev/zero is a character device"):
        regular.read_text(Path("/dev/zero"), regular.CONFIG, "configuration file")
    with pytest.raises(FileNotFoundError):
        regular.read_text(tmp_path / "absent.json", small, "record")
    folder = tmp_path / "tree"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "a.json").write_text("{}")
    (folder / "b.json").write_text("{}")
    assert regular.walk_files(folder, small) == [folder / "b.json", folder / "deep" / "a.json"]
    assert regular.walk_files(tmp_path / "absent", small) == []
    with pytest.raises(ResultsError, match=re.escape(f"{text} is a file, not a folder; do X")):
        regular.walk_files(text, small)
    (folder / "linked").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ResultsError, match=re.escape(f"{folder / 'linked'} is a symlink")):
        regular.walk_files(folder, small)
    linked = re.escape(f"{folder / 'linked'} is a symlink, not a folder")
    with pytest.raises(ResultsError, match=linked):
        regular.read_text(folder / "linked" / "text.json", small, "record", root=folder)


@pytest.mark.parametrize("kind", ["FIFO", "symlink"])
def test_a_cached_fit_holding_a_fifo_or_link_is_fitted_again(
    out: Path, study: Path, tmp_path: Path, kind: str
) -> None:
    """A fitted model is read from regular files only: a FIFO or link planted in `fits/` makes
    the cached fit unreadable, so it is fitted again, never blocked on or followed."""
    fit = next(path for path in sorted((out / "fits").iterdir()) if path.is_dir())
    planted = next(path for path in sorted(fit.iterdir()) if path.suffix == ".npy")
    outside = tmp_path / "outside.npy"
    shutil.copyfile(planted, outside)
    kept = outside.read_bytes()
    planted.unlink()
    if kind == "FIFO":
        os.mkfifo(planted)
    else:
        planted.symlink_to(outside)
    _one(out / "cells", "*.json").unlink()  # the cell to redo needs the cached fit
    config, cache = study / "study.toml", study / "cache"
    result = _run_cli("run", "--config", config, "--out", out, "--cache", cache, "--quiet")
    assert result.returncode == 0, result.stderr
    assert re.search(r"1 fits? \(0 cached\)", result.stdout), result.stdout
    assert planted.is_file() and not planted.is_symlink()  # fitted again, in place
    assert outside.read_bytes() == kept
