"""Backbones: timm `features_only` extractors, weight resolution and the feature cache.

A run describes each backbone once, `describe(BackboneConfig(...))` (weights located and
hashed, layers and preprocessing known, nothing built), and makes one `FeatureCache(
Backbone(description, device), layers=<union of the layers its fits and cells read>,
cache_dir=...)`; the network is built on the first feature the cache lacks.
`Backbone.from_config(config)` describes and builds at once. Detectors read features through
the cache's `iter_features(samples, layers)`. `resolve_device("auto" | "cpu" | "cuda")`
gives the device for `Backbone.from_config(config, device)`; CPU is the default and the
reference.

The names are imported on first use, so `evalsuite.backbone.config` (what a configuration
needs) does not import torch or timm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.backbone.cache import FeatureCache
    from evalsuite.backbone.config import (
        DEMO_BACKBONE,
        PAPER_BACKBONE,
        BackboneConfig,
        WeightsInfo,
        WeightsSource,
    )
    from evalsuite.backbone.device import configure_determinism, device_name, resolve_device
    from evalsuite.backbone.extractor import Backbone
    from evalsuite.backbone.preprocessing import Preprocessing
    from evalsuite.backbone.spec import BackboneSpec, describe

_HOMES = {
    "FeatureCache": "cache",
    "DEMO_BACKBONE": "config",
    "PAPER_BACKBONE": "config",
    "BackboneConfig": "config",
    "WeightsInfo": "config",
    "WeightsSource": "config",
    "configure_determinism": "device",
    "device_name": "device",
    "resolve_device": "device",
    "Backbone": "extractor",
    "Preprocessing": "preprocessing",
    "BackboneSpec": "spec",
    "describe": "spec",
}

__all__ = [
    "DEMO_BACKBONE",
    "PAPER_BACKBONE",
    "Backbone",
    "BackboneConfig",
    "BackboneSpec",
    "FeatureCache",
    "Preprocessing",
    "WeightsInfo",
    "WeightsSource",
    "configure_determinism",
    "describe",
    "device_name",
    "resolve_device",
]


def __getattr__(name: str) -> Any:
    """Import `name` from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
