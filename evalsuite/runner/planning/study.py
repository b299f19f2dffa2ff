"""A study's plan without a model library: what `evalsuite plan` shows.

Fit ids hold the weights' SHA-256 and the device kind. Both are found here without importing
torch, timm, faiss or anomalib when this machine allows it (see `backbone.locate` and
`backbone.device_kind`); otherwise the backbone is described as a run describes it (weights
located and digested, never loaded; see `backbone.spec`), so the plan's ids are always the
run's (tests/test_planning.py compares them with `context.prepare`).
"""

from __future__ import annotations

from pathlib import Path

from evalsuite.backbone.device_kind import device_kind
from evalsuite.backbone.layers import FEATURE_CHANNELS, check_layers
from evalsuite.backbone.locate import NeedsTimm, local_digest
from evalsuite.config import StudyConfig
from evalsuite.runner.planning.plan import Plan, backbone_layers, check_channels, make_plan
from evalsuite.runner.planning.study_data import StudyData, prepare_data


def weights_digests(config: StudyConfig) -> dict[str, str | None]:
    """Backbone name -> SHA-256 of the weights a run loads (None: random weights), with every
    detector's `layers` checked against its backbone's feature layers and its params against
    their channels (`DetectorParams.check_channels`).

    Raises:
        ConfigError: a layer the backbone does not have, params that do not fit the layers'
            channels; an unknown timm model.
        WeightsError: weights missing (only when timm had to be asked; a file that does not
            fit is refused when a run loads it).
    """
    digests: dict[str, str | None] = {}
    channels: dict[str, dict[str, int]] = {}
    for key, (backbone, layers) in backbone_layers(config).items():
        known = FEATURE_CHANNELS.get(backbone.name)
        try:
            digests[backbone.name] = local_digest(backbone)
        except (NeedsTimm, OSError):
            known = None
        if known is None:
            from evalsuite.backbone.spec import describe

            described = describe(backbone)  # located and digested; neither loaded nor built
            digests[backbone.name] = described.weights.sha256
            known = dict(described.layer_channels)
        if layers:  # none: only detectors that read raw images use this backbone
            check_layers(backbone.name, layers, tuple(known))
        channels[key] = known
    check_channels(config, channels)
    return digests


def study_plan(
    config: StudyConfig, cache_dir: Path, workers: int = 1
) -> tuple[StudyData, Plan, str]:
    """The data, plan and device kind (`cpu` or `cuda`) of a study, as a run would make them
    (the shifted trees it lacks written on `workers` processes).

    Raises:
        ConfigError: an unknown device name.
        DatasetError, WeightsError: as `context.prepare`.
    """
    kind = device_kind(config.device)
    data = prepare_data(config, cache_dir, progress=False, workers=workers)
    weights = weights_digests(config)
    return data, make_plan(config, data.key(), weights, kind, data.factor_fingerprints), kind
