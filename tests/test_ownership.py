"""One run per results folder (an OS lock released when its holder dies, SIGKILL included), a
results folder holding another configuration's records refused or replaced with --force, and
`merge` writing its folder all or nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from click.testing import CliRunner
from studies import tiny_toml

from evalsuite import atomic, results, signals
from evalsuite.cli import main
from evalsuite.errors import BusyError, OwnershipError
from evalsuite.owned import owned_tree
from evalsuite.runner.guard.lock import LOCK_NAME, results_lock

HOLDER = """
import sys
from pathlib import Path
from evalsuite.runner.guard.lock import results_lock
with results_lock(Path(sys.argv[1])):
    Path(sys.argv[2]).write_text("held")
    sys.stdin.read()  # until the test kills it
"""


def _config(
    folder: Path, name: str, categories: str, bootstrap: int = 20, kinds: str = '"clean/none"'
) -> Path:
    path = folder / f"{name}.toml"
    kinds_list, categories_list = json.loads(f"[{kinds}]"), json.loads(f"[{categories}]")
    path.write_text(tiny_toml("owned", kinds_list, categories_list, bootstrap=bootstrap))
    return path


def _run(config: Path, out: Path, cache: Path, *extra: str) -> Any:
    arguments = ["run", "--config", str(config), "--out", str(out), "--cache", str(cache)]
    return CliRunner().invoke(main, [*arguments, "--quiet", *extra])


def _cells(out: Path) -> dict[str, str]:
    return {str(relpath): record["id"] for relpath, record in results.iter_cells(out)}


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, "the lock holder ended early"
        assert time.monotonic() < deadline, "the lock holder never took the lock"
        time.sleep(0.01)


def test_a_second_run_exits_at_once_and_a_killed_holder_frees_the_folder(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    out.mkdir()
    config = _config(tmp_path, "a", '"carpet"')
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), str(ready)], stdin=subprocess.PIPE
    )
    try:
        _wait_for(ready, holder)
        busy = _run(config, out, cache)
        assert busy.exit_code == 3, busy.output
        assert f"results folder {out} is in use by another evalsuite run " in busy.output
        assert f"(process {holder.pid})" in busy.output
        assert not (out / "cells").exists()  # it stopped before any work
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        holder.wait()
    assert (out / LOCK_NAME).exists()  # left behind by the killed holder, and harmless:
    done = _run(config, out, cache)
    assert done.exit_code == 0, done.output
    assert not (out / LOCK_NAME).exists()
    assert len(_cells(out)) == 1


def test_the_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    with (
        results_lock(tmp_path),
        pytest.raises(BusyError, match="is in use"),
        results_lock(tmp_path),
    ):
        pass
    with results_lock(tmp_path):  # released: free again
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_records_of_another_configuration_are_refused_or_replaced_with_force(
    tmp_path: Path,
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = _run(_config(tmp_path, "carpet", '"carpet"'), out, cache)
    assert first.exit_code == 0, first.output
    before = _cells(out)
    carpet = "patchcore/per_class/none/clean/carpet.json"
    assert list(before) == [carpet]
    for config in (
        _config(tmp_path, "zipper", '"zipper"'),  # a cell at another path
        _config(tmp_path, "bootstrap", '"carpet"', bootstrap=30),  # same path, another cell id
    ):
        refused = _run(config, out, cache)
        assert refused.exit_code == 2, refused.output
        assert f"--out {out} holds 1 cell record(s) of another configuration" in refused.output
        assert f"(cells/{carpet}); choose another --out, or pass --force" in refused.output
        assert _cells(out) == before
        assert results.read_manifest(out)["config"]["data"]["categories"] == ["carpet"]
    kinds = '"clean/none", "shift/none"'
    wider = _run(_config(tmp_path, "wider", '"carpet"', kinds=kinds), out, cache)
    assert wider.exit_code == 0, wider.output  # it plans the record present: resumed, not refused
    assert "1 cached" in wider.output and len(_cells(out)) == 2
    replaced = _run(_config(tmp_path, "zipper", '"zipper"'), out, cache, "--force")
    assert replaced.exit_code == 0, replaced.output
    assert list(_cells(out)) == ["patchcore/per_class/none/clean/zipper.json"]
    assert not (out / "artifacts" / "patchcore/per_class/none/clean/carpet").exists()
    assert results.read_manifest(out)["config"]["data"]["categories"] == ["zipper"]


def test_force_removes_nothing_when_the_weights_are_then_refused(tmp_path: Path) -> None:
    """`--force` over another study's records with weights that do not fit: exit 3, and the
    records it would have replaced are all still there (the weights load before removal)."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = _run(_config(tmp_path, "carpet", '"carpet"'), out, cache)
    assert first.exit_code == 0, first.output
    before = _cells(out)
    weights = tmp_path / "small.pth"
    torch.save(timm.create_model("mobilenetv3_small_050", pretrained=False).state_dict(), weights)
    backbone = (
        f'backbone = {{ name = "mobilenetv3_small_075", weights_file = "{weights}", '
        "resize = 64, crop = 64 }"
    )
    config = _config(tmp_path, "zipper", '"zipper"')
    text = config.read_text().replace("backbone = { resize = 64, crop = 64 }", backbone)
    config.write_text(
        text.replace(
            'target_dim = "none"', 'target_dim = "none", layers = ["blocks.1", "blocks.3"]'
        )
    )
    refused = _run(config, out, cache, "--force")
    assert refused.exit_code == 3, refused.output
    assert "does not fit backbone 'mobilenetv3_small_075'" in refused.output
    assert _cells(out) == before
    assert (out / "artifacts" / "patchcore/per_class/none/clean/carpet").is_dir()


def test_a_run_killed_while_holding_the_lock_leaves_no_stale_refusal(tmp_path: Path) -> None:
    """The lock file of a SIGKILLed `evalsuite run` names a dead process; the next run takes it."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    config = _config(tmp_path, "a", '"carpet"', bootstrap=2000)
    command = [sys.executable, "-m", "evalsuite", "run", "--config", str(config)]
    command += ["--out", str(out), "--cache", str(cache), "--quiet"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(out / LOCK_NAME, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = _run(_config(tmp_path, "b", '"carpet"'), out, cache, "--force")
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize(
    ("interrupt", "code"), [(KeyboardInterrupt, 130), (signals.Terminated, 143)]
)
def test_an_interrupted_merge_leaves_no_partial_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt: type[BaseException], code: int
) -> None:
    """Ctrl-C or SIGTERM as the last file (the manifest) is written: no `--out` at all."""
    source, cache = tmp_path / "shard", tmp_path / "cache"
    assert _run(_config(tmp_path, "a", '"carpet"'), source, cache).exit_code == 0
    out = tmp_path / "merged"
    real = atomic.write_json

    def stop_at_the_manifest(path: Path, payload: Any) -> None:
        if path.name == "manifest.json":
            raise interrupt()
        real(path, payload)

    monkeypatch.setattr(atomic, "write_json", stop_at_the_manifest)
    stopped = CliRunner().invoke(main, ["merge", "--out", str(out), str(source)])
    assert stopped.exit_code == code, stopped.output
    assert "nothing half-written was left in place" in stopped.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "cache", "shard"]
    monkeypatch.undo()
    merged = CliRunner().invoke(main, ["merge", "--out", str(out), str(source)])
    assert merged.exit_code == 0, merged.output
    assert _cells(out) == _cells(source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "cache", "merged", "shard"]


# --- evalsuite.owned, the staged tree behind `site` and `merge` ----------------------------------


def _build(out: Path, files: dict[str, str], force: bool = False) -> None:
    with owned_tree(out, ".ledger.json", "the test", force) as staging:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)


def test_a_tree_replaces_its_own_files_only(tmp_path: Path) -> None:
    out = tmp_path / "tree"
    _build(out, {"a.html": "1", "sub/b.html": "1"})
    _build(out, {"a.html": "2"})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        ".ledger.json",
        "a.html",
    ]
    assert (out / "a.html").read_text() == "2"
    (out / ".ledger.json").write_text('{"schema": "evalsuite.owned/1", "files": ["../x", "/y"]}')
    (tmp_path / "x").write_text("not in the tree")
    with pytest.raises(OwnershipError, match=r"holds 1 file\(s\) the test did not write"):
        _build(out, {"a.html": "3"})  # a.html is no longer listed: foreign now
    _build(out, {"b.html": "3"}, force=True)
    assert (tmp_path / "x").read_text() == "not in the tree"  # a listed "../x" is never owned
    assert (out / "a.html").read_text() == "2"


def test_a_tree_never_writes_through_a_foreign_link(tmp_path: Path) -> None:
    outside, out = tmp_path / "outside", tmp_path / "tree"
    outside.mkdir()
    out.mkdir()
    (out / "cells").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OwnershipError, match=rf"would overwrite {out / 'cells'} in --out"):
        _build(out, {"cells/page.html": "x"}, force=True)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["cells"]


def test_a_file_written_during_the_build_is_kept(tmp_path: Path) -> None:
    """A file that appears in the old tree after the check is never deleted with it."""
    out = tmp_path / "tree"
    _build(out, {"a.html": "1"})
    with owned_tree(out, ".ledger.json", "the test") as staging:
        (staging / "a.html").write_text("2")
        (out / "late.txt").write_text("mine")
    assert (out / "a.html").read_text() == "2"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".tree.old-")]
    assert len(kept) == 1 and (kept[0] / "late.txt").read_text() == "mine"


def test_a_tree_behind_a_link_is_updated_where_the_link_points(tmp_path: Path) -> None:
    """`--out` a link to the published folder: the link stays, its target gets the new files."""
    target, out = tmp_path / "published", tmp_path / "tree"
    _build(target, {"a.html": "1"})
    out.symlink_to(target, target_is_directory=True)
    _build(out, {"a.html": "2"})
    assert out.is_symlink() and (target / "a.html").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published", "tree"]
