"""The run manifest of a results folder: configuration, environment, data, counts, failures."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from evalsuite import results
from evalsuite.backbone.cache import FeatureCache
from evalsuite.config import StudyConfig
from evalsuite.data.shift_tree import SHIFT_VERSION
from evalsuite.data.synthetic.config import GENERATOR_VERSION
from evalsuite.results.splits import shift_relpath, splits_relpath, tree_relpath
from evalsuite.runner.planning.plan import backbone_key
from evalsuite.runner.planning.study_data import StudyData
from evalsuite.runner.preparation.context import git_commit, versions
from evalsuite.runner.writing.records import CellResult
from evalsuite.runner.writing.splits_file import variant_trees


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        out: the results folder.
        cells: every cell of the run (or shard), sorted by path.
        fits: fits of the run.
        fits_cached: fits loaded from the results folder or not needed.
        forward_passes: backbone forward passes, every process together.
        distinct_inputs: distinct (image, preprocessing, backbone) inputs the run read.
        score_passes: images searched by a fitted detector, every fit together.
        distinct_fit_inputs: distinct (fit, search settings, image) triples the cells read.
        feature_cache_bytes: bytes of the feature cache folder on disk after the run.
        wall_time_s: seconds from start to manifest.
        raw_image_passes: label -> images fed to a detector that reads raw images (not
            backbone features), fit and scoring, in this run; empty when none does.
    """

    out: Path
    cells: list[CellResult] = field(default_factory=list)
    fits: int = 0
    fits_cached: int = 0
    forward_passes: int = 0
    distinct_inputs: int = 0
    score_passes: int = 0
    distinct_fit_inputs: int = 0
    feature_cache_bytes: int = 0
    wall_time_s: float = 0.0
    raw_image_passes: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[CellResult]:
        """The failed cells."""
        return [c for c in self.cells if c.status == "failed"]


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (0 when it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def cpu_model() -> str:
    """The CPU's model name: /proc/cpuinfo's `model name` on Linux (where
    `platform.processor()` is often empty), `platform.processor()` elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() == "Linux" and cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor()


def build_manifest(
    config: StudyConfig,
    data: StudyData,
    sources: dict[str, FeatureCache],
    summary: RunSummary,
    created: str,
    shard: tuple[int, int] | None,
    device: str,
    planned: list[dict[str, Any]],
) -> dict[str, Any]:
    """The manifest of a finished run (see evalsuite/schemas/manifest.schema.json); `planned`
    lists the cells of the whole study, every shard (`planning.planned.planned_entries`)."""
    labels = {}
    for spec in config.detectors:
        labels[spec.label] = sources[backbone_key(spec.backbone)].backbone.weights.to_dict()
    cells = summary.cells
    counts: dict[str, Any] = {
        "cells_total": len(cells),
        "cells_ok": sum(c.status == "ok" for c in cells),
        "cells_failed": sum(c.status == "failed" for c in cells),
        "cells_cached": sum(c.cached for c in cells),
        "fits": summary.fits,
        "fits_cached": summary.fits_cached,
        "forward_passes": summary.forward_passes,
        "distinct_inputs": summary.distinct_inputs,
        "score_passes": summary.score_passes,
        "distinct_fit_inputs": summary.distinct_fit_inputs,
        "feature_cache_bytes": summary.feature_cache_bytes,
    }
    if summary.raw_image_passes:  # only a study with a detector that reads raw images
        counts["raw_image_passes"] = dict(sorted(summary.raw_image_passes.items()))
    return {
        "schema": results.MANIFEST_SCHEMA,
        "study": config.name,
        "config": config.model_dump(mode="json"),
        "created": created,
        "wall_time_s": summary.wall_time_s,
        "versions": versions(),
        "git_commit": git_commit(),
        "platform": {
            "python": platform.python_version(),
            "system": platform.system(),
            "machine": platform.machine(),
            "processor": cpu_model(),
            "threads": torch.get_num_threads(),
            "device": device,
        },
        "seeds": list(config.seeds),
        "weights": labels,
        "dataset": {
            "fingerprint_clean": data.fingerprints["clean"],
            "fingerprint_shift": data.fingerprints.get(f"shift-s{config.shift.severity}"),
            "synthetic": data.synthetic,
            "root": str(data.clean.root),
            "generator_version": GENERATOR_VERSION if data.synthetic else None,
            "shift_version": SHIFT_VERSION if data.shifted else None,
        },
        "counts": counts,
        "failed": [{"path": str(c.relpath), "error": c.error or ""} for c in summary.failed],
        "shards": [f"{shard[0]}/{shard[1]}"] if shard else None,
        "splits": {str(seed): str(splits_relpath(seed)) for seed in sorted(data.splits)},
        "shift_parameters": {
            **{str(s): str(shift_relpath(s)) for s in sorted(data.shifted)},
            **{name: str(tree_relpath(name)) for name in variant_trees(data)},
        },
        "planned": planned,
    }
