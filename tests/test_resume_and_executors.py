"""Kill -9 at several moments then resume; the Dask and process-pool executors; shards + merge.

Every variant must end with exactly the numbers of one uninterrupted sequential run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalsuite import results

pytestmark = [pytest.mark.e2e, pytest.mark.long]  # `make test-e2e`; the slowest start first

STUDY = """
name = "resume"
kinds = ["clean/none", "shift/none", "shift/retrain"]
scopes = ["per_class", "unified"]
[data]
categories = ["carpet", "zipper"]
[data.synthetic]
size = 64
n_train = 8
n_test_good = 5
n_test_defect = 8
[[detectors]]
name = "patchcore"
backbone = { resize = 64, crop = 64 }
params = { coreset_ratio = 0.25, target_dim = "none" }
[evaluation]
bootstrap = 10
artifacts_per_cell = 1
"""


def _thumbnails(out: Path) -> dict[str, bytes]:
    """Every thumbnail file the records name (`evaluation.thumbnails`), by path."""
    found = {}
    for _, record in results.iter_cells(out):
        for key in ("images", "masks", "maps"):
            path = (record.get("thumbnails") or {}).get(key)
            if path:
                found[path] = (out / path).read_bytes()
    return found


def _numbers(out: Path) -> dict[str, object]:
    return {
        str(path): (record["status"], record["metrics"], record["scores"], record["threshold"])
        for path, record in results.iter_cells(out)
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("resume")
    config_path = base / "study.toml"
    config_path.write_text(STUDY)
    done = _cli(config_path, base / "reference", base / "cache")
    assert done.returncode == 0, done.stderr
    return base, config_path, base / "reference"


def _cli(config: Path, out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "evalsuite",
            "run",
            "--config",
            str(config),
            "--out",
            str(out),
            "--cache",
            str(cache),
            "--quiet",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_kill_9_at_several_moments_then_resume_gives_identical_numbers(reference) -> None:
    base, config, ref_out = reference
    out = base / "killed"
    command = [
        sys.executable,
        "-m",
        "evalsuite",
        "run",
        "--config",
        str(config),
        "--out",
        str(out),
        "--cache",
        str(base / "cache"),
        "--quiet",
    ]
    kills = 0
    for written in (1, 4, 8):  # of the 12 cells: kill once this many records are written
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        while process.poll() is None and len(list(out.glob("cells/**/*.json"))) < written:
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        # whatever was written is complete JSON: no half-written record
        for path in (out / "cells").rglob("*.json") if (out / "cells").exists() else []:
            json.loads(path.read_text())
    assert kills >= 1
    final = _cli(config, out, base / "cache")
    assert final.returncode == 0, final.stderr
    assert _numbers(out) == _numbers(ref_out)
    assert results.read_manifest(out)["counts"]["cells_ok"] == len(_numbers(ref_out))
    assert _thumbnails(out) == _thumbnails(ref_out) != {}  # the same files, byte for byte


def test_process_pool_gives_the_same_numbers(reference) -> None:
    base, config, ref_out = reference
    done = _cli(config, base / "pool", base / "cache", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert _numbers(base / "pool") == _numbers(ref_out)


def test_dask_local_cluster_gives_the_same_numbers(reference) -> None:
    base, config, ref_out = reference
    # a real `evalsuite run --executor dask` in its own process (a LocalCluster of 2 workers on
    # loopback), with a fresh cache: every input is extracted once, by the client, and the
    # workers only read features
    done = _cli(config, base / "dask", base / "dask-cache", "--executor", "dask", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert _numbers(base / "dask") == _numbers(ref_out)
    counts = results.read_manifest(base / "dask")["counts"]
    assert counts["forward_passes"] == counts["distinct_inputs"] == 2 * (8 + 5 + 8) * 2


def test_shards_merge_into_the_full_result(reference) -> None:
    base, config, ref_out = reference
    for index in (1, 2):
        done = _cli(config, base / f"shard{index}", base / "cache", "--shard", f"{index}/2")
        assert done.returncode == 0, done.stderr
    one, two = _numbers(base / "shard1"), _numbers(base / "shard2")
    assert one and two and not set(one) & set(two)
    merged = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalsuite",
            "merge",
            "--out",
            str(base / "merged"),
            str(base / "shard1"),
            str(base / "shard2"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert merged.returncode == 0, merged.stderr
    assert _numbers(base / "merged") == _numbers(ref_out)
    assert _thumbnails(base / "merged") == _thumbnails(ref_out) != {}  # shared ones too
    assert sorted(results.read_manifest(base / "merged")["shards"]) == ["1/2", "2/2"]
