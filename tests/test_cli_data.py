"""The `evalsuite data` commands end to end, through the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from evalsuite.cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalsuite", *args], capture_output=True, text=True, timeout=300
    )


def test_synth_shift_check_pipeline(tmp_path: Path) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    small = ["--size", "64", "--train", "3", "--test-good", "2", "--test-defect", "4"]
    result = _run("data", "synth", "--out", str(a), "--categories", "hazelnut,zipper", *small)
    assert result.returncode == 0, result.stderr
    result = _run("data", "shift", "--src", str(a), "--out", str(b), "--severity", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    result = _run("data", "check", str(b))
    assert result.returncode == 0, result.stderr
    assert "synthetic data, MVTec-Shift severity 3" in result.stdout
    assert "hazelnut" in result.stdout and "zipper" in result.stdout
    assert "ok: no problems found" in result.stdout


def test_check_reports_problems_with_exit_code_1(make_tree) -> None:
    root = make_tree()
    (root / "alpha/train/good/001.png").write_bytes(b"garbage")
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 1
    assert "alpha/train/good/001.png: unreadable or truncated image" in result.output


def test_bad_input_gives_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["data", "check", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "error:" in result.output and "dataset folder not found" in result.output
    result = CliRunner().invoke(
        main, ["data", "synth", "--out", str(tmp_path / "x"), "--categories", "teapot"]
    )
    assert result.exit_code == 2 and "teapot" in result.output
    assert not (tmp_path / "x").exists()


def test_download_offline_exit_code_3(tmp_path: Path) -> None:
    sources = tmp_path / "sources.json"
    sources.write_text(
        '{"full": {"url": "https://unreachable.invalid/m.tar.xz", "sha256": "'
        + "0" * 64
        + '"}, "categories": {}}'
    )
    result = CliRunner().invoke(
        main,
        [
            "data",
            "download",
            "--out",
            str(tmp_path / "d"),
            "--categories",
            "carpet",
            "--sources",
            str(sources),
            "--timeout",
            "3",
            "--quiet",
        ],
    )
    assert result.exit_code == 3
    assert "place the data by hand" in result.output


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["data", "--help"],
        ["data", "synth", "--help"],
        ["data", "shift", "--help"],
        ["data", "check", "--help"],
        ["data", "download", "--help"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output
