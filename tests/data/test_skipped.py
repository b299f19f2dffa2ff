"""Files an MVTec-layout tree holds but the reader does not read are counted and reported, by
reason, by `evalsuite data check` (a warning, exit 0) and by the run."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.data.reader import read_dataset
from evalsuite.runner.planning.study_data import prepare_data

IMAGES = 5 + 3 + 4  # train, test/good, test/scratch of the one category


def _tree(make_tree) -> Path:
    return make_tree(
        categories=("alpha",), size=48, n_train=5, n_good=3, defects=("scratch",), n_defect=4
    )


def _damage(root: Path) -> dict[str, str]:
    """Put one file of each kind the reader skips into the tree: relative path -> reason."""
    good = root / "alpha" / "test" / "good"
    pixels = np.full((48, 48, 3), 90, np.uint8)
    Image.fromarray(pixels).save(good / "100.webp")
    Image.fromarray(pixels).save(good / "101.gif")
    (good / "102.png").symlink_to(root / "moved-away.png")
    os.mkfifo(good / "103.png")
    (root / "alpha" / "test" / "scratch" / "more").mkdir()
    Image.fromarray(pixels).save(root / "alpha" / "train" / "104.png")
    return {
        "alpha/test/good/100.webp": "suffix",
        "alpha/test/good/101.gif": "suffix",
        "alpha/test/good/102.png": "dangling link",
        "alpha/test/good/103.png": "not a regular file",
        "alpha/test/scratch/more": "folder",
        "alpha/train/104.png": "outside",
    }


def test_reader_lists_every_skipped_file_with_its_reason(make_tree) -> None:
    root = _tree(make_tree)
    assert read_dataset(root).skipped == ()
    expected = _damage(root)
    dataset = read_dataset(root)
    assert len(dataset.samples) == IMAGES
    found = {s.path.relative_to(root).as_posix(): s.reason for s in dataset.skipped}
    assert found == expected


def test_data_check_warns_how_many_were_skipped_and_why(make_tree) -> None:
    root = _tree(make_tree)
    clean = CliRunner().invoke(main, ["data", "check", str(root)])
    assert clean.exit_code == 0 and clean.stderr == "", clean.output
    skipped = _damage(root)
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 0, result.output  # warnings, not problems
    assert f"{IMAGES} images" in result.stdout
    assert "ok: no problems found (6 skipped: see the warning)" in result.stdout
    warning, *listed = result.stderr.splitlines()
    assert warning.startswith(
        f"warning: skipped 6 files in {root} (2 with an unsupported suffix .gif/.webp, "
        "1 dangling link, 1 folder inside a defect folder, 1 not a regular file (a FIFO, "
        "socket or device), 1 outside a defect folder (directly in train/ or test/)): "
    )
    assert "and 3 more" in warning and "evalsuite data check" in warning
    assert len(listed) == len(skipped)
    for relpath in skipped:
        assert any(line.startswith(f"  - {root / relpath}: ") for line in listed), relpath
    assert f"  - {root / 'alpha/test/good/100.webp'}: unsupported suffix .webp" in listed


def test_skipped_files_do_not_hide_a_problem(make_tree) -> None:
    root = _tree(make_tree)
    _damage(root)
    (root / "alpha" / "test" / "scratch" / "000.png").write_bytes(b"not a png")
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 1
    assert "warning: skipped 6 files" in result.stderr and "1 problem(s):" in result.stderr


def test_run_warns_about_skipped_files(
    make_tree, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _tree(make_tree)
    _damage(root)
    config = StudyConfig.model_validate(
        {
            "name": "skips",
            "kinds": ["clean/none"],
            "data": {"source": "mvtec", "root": str(root), "categories": ["alpha"]},
            "detectors": [{"name": "patchcore"}],
        }
    )
    with caplog.at_level(logging.WARNING, logger="evalsuite"):
        data = prepare_data(config, tmp_path / "cache", progress=False)
    assert len(data.clean.samples) == IMAGES
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        m.startswith(f"skipped 6 files in {root} (2 with an unsupported suffix .gif/.webp")
        for m in warnings
    ), warnings
