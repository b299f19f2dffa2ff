"""The folders a study's run writes (results, cache and, for `evalsuite all`, the site) and the
check, before any work, that they overlap nothing the study reads nor one another."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalsuite.outputs import check_places
from evalsuite.runner.planning.study_data import default_cache_dir

if TYPE_CHECKING:
    from evalsuite.config import StudyConfig

RESULTS_ROOT = Path("results")
"""Where a run without `--out` writes: `results/<study name>`."""


def results_folder(config: StudyConfig, out: Path | None) -> Path:
    """The results folder of a run: `out`, else `results/<study name>`."""
    return out or RESULTS_ROOT / config.name


def cache_folder(cache_dir: Path | None) -> Path:
    """The cache of a run: `cache_dir`, else `$EVALSUITE_CACHE` or `~/.cache/evalsuite`."""
    return cache_dir or default_cache_dir()


def check_study_places(
    config: StudyConfig,
    config_path: Path | None,
    out: Path | None,
    cache_dir: Path | None,
    site_dir: Path | None = None,
    baseline: Path | None = None,
) -> None:
    """Refuse, before any work, a results folder, cache or site that overlaps what the study
    reads (configuration, data root, weights files, baseline) or one another.

    Args:
        config: the study.
        config_path: its configuration file (None for a preset).
        out: `--out` (None: the default results folder).
        cache_dir: `--cache` (None: the default cache).
        site_dir: `--site` of `evalsuite all` (None: no site).
        baseline: `--baseline` of `evalsuite all`.

    Raises:
        OutputError: two of them overlap (exit 2), naming both.
    """
    weights = [("weights_file", d.backbone.weights_file) for d in config.detectors]
    check_places(
        [
            ("--out", results_folder(config, out)),
            ("--cache", cache_folder(cache_dir)),
            ("--site", site_dir),
        ],
        [
            ("--config", config_path),
            ("data.root", config.data.root),
            *weights,
            ("--baseline", baseline),
        ],
    )
