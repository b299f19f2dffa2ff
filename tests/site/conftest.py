"""Site fixtures: one real small results folder (a tiny study run once per session), hand-edited
copies of it for the edge cases, and the sites built from them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from headless import FLAGS, SKIP, chromium_executable
from playwright.sync_api import Browser, sync_playwright
from real_shift_fixture import add_real_conditions
from site_helpers import (
    DEFECT_CELL,
    FAILED_CELL,
    MISSING_CELL,
    XSS,
    copy_results,
    read_json,
    write_json,
)
from studies import SMALL, made_once

from evalsuite.config import StudyConfig
from evalsuite.runner import run_study
from evalsuite.site import build_site


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results folder of the tiny study (ran once per test run, for every xdist worker)."""

    def run(base: Path) -> None:
        base.mkdir()
        config = StudyConfig.model_validate(SMALL)
        run_study(config, base / "out", cache_dir=base / "cache", progress=False)

    return made_once(tmp_path_factory, "site-run", run) / "out"


@pytest.fixture(scope="session")
def site_dir(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of the tiny study (built once per test run, for every xdist worker)."""
    return made_once(tmp_path_factory, "site", lambda out: build_site(results_dir, out))


@pytest.fixture(scope="session")
def real_results(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny study with real conditions beside MVTec-Shift (`real_shift_fixture`)."""
    return (
        made_once(
            tmp_path_factory,
            "real-shift",
            lambda base: add_real_conditions(copy_results(results_dir, base / "out")),
        )
        / "out"
    )


@pytest.fixture(scope="session")
def real_site(real_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of `real_results` (built once per test run, for every xdist worker)."""
    return made_once(tmp_path_factory, "real-shift-site", lambda out: build_site(real_results, out))


@pytest.fixture(scope="session")
def edge_results(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy with a failed cell, a missing cell and a category named like a script tag.

    The schema keeps names in records to safe characters, so the hostile name enters where
    free text is allowed: the manifest's configured categories and planned cells (its cells are
    then missing), a test image's defect type and a failed cell's error message.
    """
    return made_once(tmp_path_factory, "edge", partial(_edit, results_dir)) / "out"


def _edit(results_dir: Path, base: Path) -> None:
    """Copy `results_dir` to `base`/out and edit it as `edge_results` says."""
    root = copy_results(results_dir, base / "out")
    cells = root / "cells"
    failed = read_json(cells / FAILED_CELL)
    message = f"out of memory while scoring {XSS} & co"
    failed.update(
        status="failed",
        error={"type": "MemoryError", "message": message},
        metrics=None,
        threshold=None,
        scores=None,
        roc=None,
        shortcut=None,
        artifacts=[],
    )
    write_json(cells / FAILED_CELL, failed)
    (cells / MISSING_CELL).unlink()
    record = read_json(cells / DEFECT_CELL)
    record["scores"][-1]["defect"] = XSS
    write_json(cells / DEFECT_CELL, record)
    manifest = read_json(root / "manifest.json")
    categories = manifest["config"]["data"]["categories"]
    first = [entry for entry in manifest["planned"] if entry["category"] == categories[0]]
    manifest["planned"] += [_renamed(entry, XSS) for entry in first]
    categories.append(XSS)
    manifest["counts"]["cells_ok"] -= 1
    manifest["counts"]["cells_failed"] += 1
    manifest["failed"].append({"path": FAILED_CELL, "error": message})
    write_json(root / "manifest.json", manifest)


@pytest.fixture(scope="session")
def edge_site(edge_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of the edge-case copy (built once per test run, for every xdist worker)."""

    def build(base: Path) -> None:
        build_site(edge_results, base / "site")

    return made_once(tmp_path_factory, "edge-site", build) / "site"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium under Playwright (skipped, with the reason, where absent)."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip(SKIP)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield browser
        browser.close()


def _renamed(entry: dict[str, Any], category: str) -> dict[str, Any]:
    """The same planned cell in another category (its path's file name renamed likewise)."""
    folder, name = entry["path"].rsplit("/", 1)
    rest = name[len(entry["category"]) :]
    return entry | {"category": category, "path": f"{folder}/{category}{rest}"}
