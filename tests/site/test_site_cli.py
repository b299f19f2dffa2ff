"""`evalsuite site` and the site's import boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from site_helpers import copy_results

from evalsuite.cli import main

pytestmark = pytest.mark.long  # among the slowest files: started first (tests/conftest.py)

HEAVY = ("torch", "torchvision", "faiss", "anomalib", "lightning", "timm")


def test_site_command_prints_the_index(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["site", "--results", str(results_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out / "index.html") in result.output
    assert (out / "index.html").is_file()


def test_corrupt_cell_fails_naming_the_file_and_keeps_the_old_site(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "out")
    out = tmp_path / "site"
    arguments = ["site", "--results", str(root), "--out", str(out)]
    assert CliRunner().invoke(main, arguments).exit_code == 0
    before = (out / "index.html").read_bytes()
    corrupt = root / "cells" / "padim" / "unified" / "none" / "clean" / "zipper.json"
    corrupt.write_text('{"schema": "evalsuite.cell/1", "id": ')
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and str(corrupt) in result.output
    assert "not valid JSON" in result.output
    assert (out / "index.html").read_bytes() == before


def test_missing_results_folder_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    result = CliRunner().invoke(
        main, ["site", "--results", str(missing), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2 and str(missing) in result.output


def test_another_process_builds_the_same_bytes_without_model_code(
    results_dir: Path, site_dir: Path, tmp_path: Path
) -> None:
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from evalsuite.site import build_site\n"
        f"build_site(Path({str(results_dir)!r}), Path({str(tmp_path / 'site')!r}))\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # another set order than this process's
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    other = tmp_path / "site"
    files = sorted(p.relative_to(site_dir) for p in site_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    for relative in files:
        assert (site_dir / relative).read_bytes() == (other / relative).read_bytes(), relative
