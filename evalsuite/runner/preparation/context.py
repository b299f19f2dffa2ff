"""What every unit of work of a run shares: the data, the feature sources, the device, the
plan and the provenance every record carries."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from evalsuite import __version__
from evalsuite.backbone.cache import FeatureCache
from evalsuite.backbone.config import BackboneConfig
from evalsuite.backbone.device import device_name, resolve_device
from evalsuite.backbone.extractor import Backbone
from evalsuite.backbone.images import ImageStream
from evalsuite.backbone.spec import BackboneSpec, describe
from evalsuite.config import DetectorSpec, StudyConfig
from evalsuite.detectors.registry import reads_images, resolve_params
from evalsuite.runner.planning.plan import (
    RESULTS_VERSION,
    Plan,
    backbone_key,
    backbone_layers,
    check_channels,
    make_plan,
)
from evalsuite.runner.planning.study_data import StudyData, prepare_data

PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "anomalib",
    "faiss-cpu",
    "numpy",
    "scipy",
    "scikit-learn",
    "pillow",
)
GIB = 1 << 30


@dataclass
class RunContext:
    """What every unit of work of a run shares.

    Attributes:
        config: the study.
        data: its datasets and splits.
        out: the results folder.
        features: backbone key -> the feature source of that backbone configuration.
        device: where fits and scores run.
        provenance: what every record's provenance holds besides the weights.
        force: recompute cached fits and cells.
        multi_seed: whether cell paths carry the seed.
    """

    config: StudyConfig
    data: StudyData
    out: Path
    features: dict[str, FeatureCache]
    device: torch.device
    provenance: dict[str, Any]
    force: bool = False
    multi_seed: bool = False

    def features_of(self, spec: DetectorSpec) -> FeatureCache:
        """The feature source of a detector configuration's backbone (its preprocessing and
        input size serve a detector that reads raw images too)."""
        return self.features[backbone_key(spec.backbone)]

    def source_of(self, spec: DetectorSpec) -> FeatureCache | ImageStream:
        """What a detector configuration is handed: its backbone's feature cache, or, when it
        declares `inputs="images"`, a new image stream at that backbone's preprocessing (one
        per fit; it counts the images it feeds)."""
        features = self.features_of(spec)
        if reads_images(spec.ref):
            return ImageStream(features.backbone.preprocessing)
        return features


def versions() -> dict[str, str]:
    """Versions of the packages that determine results."""
    found = {"evalsuite": __version__}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def git_commit() -> str | None:
    """The commit of the source tree evalsuite runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def feature_sources(
    config: StudyConfig,
    cache_dir: Path,
    device: torch.device,
    described: Mapping[str, BackboneSpec] | None = None,
) -> dict[str, FeatureCache]:
    """One feature cache per backbone configuration, over the union of its detectors' layers.

    Only the layers some detector reads are extracted and stored (a backbone that only
    detectors reading raw images use has none, and never runs: it gives their preprocessing and
    weights digest); with
    `config.feature_cache_budget_gb` the on-disk store of each is bounded (see FeatureCache).
    No backbone is built here: each is described (weights located and digested, layers and
    channels from timm's architecture on the `meta` device) and builds its network on the
    first feature it computes.

    Args:
        config: the study.
        cache_dir: the cache folder (features under `features/`).
        device: where the backbones run.
        described: backbone key -> the description another process made of that backbone
            (a pool worker gets its run's): used as is, the weights not located again.
    """
    backbones = backbone_layers(config)
    budget = config.feature_cache_budget_gb
    return {
        key: FeatureCache(
            Backbone(_description(backbone, (described or {}).get(key)), device=device),
            layers,
            cache_dir=cache_dir / "features",
            disk_budget_bytes=None if budget is None else int(budget * GIB),
            storage=config.feature_cache_storage,
        )
        for key, (backbone, layers) in backbones.items()
    }


def _description(config: BackboneConfig, handed: BackboneSpec | None) -> BackboneSpec:
    """`handed` when it describes `config`, else a description made here."""
    return handed if handed is not None and handed.config == config else describe(config)


def prepare(
    config: StudyConfig,
    cache_dir: Path,
    progress: bool,
    data: StudyData | None = None,
    workers: int = 1,
    described: Mapping[str, BackboneSpec] | None = None,
) -> tuple[StudyData, dict[str, FeatureCache], Plan, torch.device]:
    """Data, feature sources, plan and device of a study (shifted trees written on `workers`
    processes).

    `data` and `described`, when given, are the study's data and backbone descriptions as
    another process already prepared them (data read, fingerprinted, validated, split;
    weights located and digested): they are used as is, not made again.
    """
    device = resolve_device(config.device)
    if data is None:
        data = prepare_data(config, cache_dir, progress=progress, workers=workers)
    sources = feature_sources(config, cache_dir, device, described)
    check_channels(  # before any feature is extracted
        config, {key: s.backbone.channels(s.backbone.layer_names) for key, s in sources.items()}
    )
    weights = {s.backbone.config.name: s.backbone.weights.sha256 for s in sources.values()}
    plan = make_plan(config, data.key(), weights, device.type, data.factor_fingerprints)
    return data, sources, plan, device


def make_context(
    config: StudyConfig,
    data: StudyData,
    sources: dict[str, FeatureCache],
    device: torch.device,
    out: Path,
    force: bool,
) -> RunContext:
    """The state every unit of a run shares."""
    return RunContext(
        config=config,
        data=data,
        out=out,
        features=sources,
        device=device,
        provenance={
            "evalsuite": __version__,
            "study": config.name,
            "versions": versions(),
            "dataset_fingerprint": data.fingerprints["clean"],
            "synthetic": data.synthetic,
            "git_commit": git_commit(),
            "code_version": RESULTS_VERSION,
            "device": device_name(device),
        },
        force=force,
        multi_seed=len(config.seeds) > 1,
    )


def approximations(
    spec: DetectorSpec, scope: str = "per_class", cache_storage: str = "float32"
) -> list[str]:
    """The opt-in approximations a detector configuration uses in `scope`, with features
    stored at `cache_storage` precision ([] when exact): the cache's, the backbone's, then
    those its params declare (`DetectorParams.approximations`). A detector that reads raw
    images reads neither the cache nor the backbone."""
    found = []
    if not reads_images(spec.ref):
        if cache_storage != "float32":
            found.append(f"{cache_storage} feature cache")
        if spec.backbone.precision != "float32":
            found.append(f"backbone {spec.backbone.precision} autocast")
    return found + resolve_params(spec.ref, spec.params).approximations(scope)
