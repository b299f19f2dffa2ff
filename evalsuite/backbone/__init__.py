"""Backbones: timm `features_only` extractors, weight resolution and the feature cache.

A run builds one `Backbone.from_config(BackboneConfig(...))` and one `FeatureCache(backbone,
layers=<union of the layers its fits and cells read>, cache_dir=...)`; detectors read features
through the cache's `iter_features(samples, layers)`. `resolve_device("auto" | "cpu" | "cuda")`
gives the device for `Backbone.from_config(config, device)`; CPU is the default and the
reference.
"""

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

__all__ = [
    "DEMO_BACKBONE",
    "PAPER_BACKBONE",
    "Backbone",
    "BackboneConfig",
    "FeatureCache",
    "Preprocessing",
    "WeightsInfo",
    "WeightsSource",
    "configure_determinism",
    "device_name",
    "resolve_device",
]
