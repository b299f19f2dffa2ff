"""Detectors by name: build one from a params mapping, or load a saved one.

Detector modules are imported lazily, so naming `patchcore` never imports anomalib (which
only `evalsuite.detectors.padim` imports). Every detector class is built in one step as
`Class(params, features, seed)` and loaded with `Class.load(directory, features)`; its params
class is a pydantic model that rejects unknown keys.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from evalsuite.detectors.base import Detector, FeatureSource
from evalsuite.errors import ConfigError, EvalsuiteError


@dataclass(frozen=True)
class DetectorEntry:
    """Where a detector lives.

    Attributes:
        module: the module to import.
        detector_class: the Detector class in it.
        params_class: its pydantic params class.
    """

    module: str
    detector_class: str
    params_class: str


DETECTORS: dict[str, DetectorEntry] = {
    "patchcore": DetectorEntry("evalsuite.detectors.patchcore", "PatchCore", "PatchCoreParams"),
    "padim": DetectorEntry("evalsuite.detectors.padim", "Padim", "PadimParams"),
}


def resolve_params(name: str, params: Mapping[str, Any]) -> BaseModel:
    """The validated params of detector `name`, defaults filled in.

    Raises:
        ConfigError: unknown detector, unknown key or invalid value (the message names them).
    """
    params_class = _attribute(name, "params_class")
    try:
        resolved = params_class.model_validate(dict(params))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'params'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ConfigError(f"{name} params: {problems}") from error
    if not isinstance(resolved, BaseModel):
        raise EvalsuiteError(f"{name}: params class {params_class!r} is not a pydantic model")
    return resolved


def build_detector(
    name: str, params: Mapping[str, Any], features: FeatureSource, seed: int
) -> Detector:
    """A new, unfitted detector.

    Args:
        name: a key of DETECTORS (`patchcore`, `padim`).
        params: its hyperparameters; missing keys take the defaults, unknown keys are refused.
        features: the backbone feature source it reads.
        seed: the run's seed.

    Raises:
        ConfigError: unknown detector or invalid params.
    """
    detector_class = _attribute(name, "detector_class")
    detector: Detector = detector_class(resolve_params(name, params), features, seed)
    return detector


def load_detector(name: str, directory: Path, features: FeatureSource) -> Detector:
    """A fitted detector from the files its `save` wrote to `directory`."""
    detector: Detector = _attribute(name, "detector_class").load(directory, features)
    return detector


def _attribute(name: str, which: str) -> Any:
    """Import detector `name`'s module and return its detector or params class."""
    entry = DETECTORS.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown detector {name!r}; known detectors: {', '.join(sorted(DETECTORS))}"
        )
    try:
        module = importlib.import_module(entry.module)
    except ImportError as error:
        raise EvalsuiteError(
            f"detector {name!r} is unavailable: importing {entry.module} failed ({error}); "
            "reinstall the environment (make install)"
        ) from error
    attribute = getattr(module, getattr(entry, which), None)
    if attribute is None:
        raise EvalsuiteError(
            f"{entry.module} has no {getattr(entry, which)}; the install is broken"
        )
    return attribute
