"""Detectors by name: build one from a params mapping, or load a saved one.

Detector modules are imported lazily, so naming `patchcore` never imports anomalib (which
only `evalsuite.detectors.padim` imports). Every detector class is built in one step as
`Class(params, features, seed, device=...)` and loaded with `Class.load(directory, features,
device=...)`; its params class is a pydantic model that rejects unknown keys. A detector class
names the params that change only its search (`SEARCH_PARAMS`) or only its scoring
(`SCORING_PARAMS`): they are not part of what a fit is keyed by.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from evalsuite.detectors.base import Detector, FeatureSource
from evalsuite.errors import ConfigError, EvalsuiteError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DetectorEntry:
    """Where a detector lives.

    Attributes:
        module: the module to import.
        detector_class: the Detector class in it.
        params_class: its pydantic params class.
        selection_param: the param whose values select nested subsets of one greedy selection
            (PatchCore's coreset_ratio: smaller coresets are prefixes of larger ones), or None.
    """

    module: str
    detector_class: str
    params_class: str
    selection_param: str | None = None


DETECTORS: dict[str, DetectorEntry] = {
    "patchcore": DetectorEntry(
        "evalsuite.detectors.patchcore", "PatchCore", "PatchCoreParams", "coreset_ratio"
    ),
    "padim": DetectorEntry("evalsuite.detectors.padim", "Padim", "PadimParams"),
}


def fit_free_params(name: str) -> frozenset[str]:
    """The params of detector `name` that change only its search or scoring, not the fit."""
    detector_class = _attribute(name, "detector_class")
    search: frozenset[str] = getattr(detector_class, "SEARCH_PARAMS", frozenset())
    scoring: frozenset[str] = getattr(detector_class, "SCORING_PARAMS", frozenset())
    return search | scoring


def fit_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` without those that leave the fitted model unchanged (its fit key's params)."""
    free = fit_free_params(name)
    return {key: value for key, value in params.items() if key not in free}


def scoring_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params of `params` that change detector `name`'s search or scoring but not its
    fit: what tells apart cells that share a fit (e.g. exact and HNSW search)."""
    free = fit_free_params(name)
    return {key: value for key, value in params.items() if key in free}


def search_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params of `params` that change the search evidence of detector `name`."""
    search: frozenset[str] = getattr(
        _attribute(name, "detector_class"), "SEARCH_PARAMS", frozenset()
    )
    return {key: value for key, value in params.items() if key in search}


def selection_param(name: str) -> str | None:
    """The param whose values share one greedy selection (see DetectorEntry), or None."""
    entry = DETECTORS.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown detector {name!r}; known detectors: {', '.join(sorted(DETECTORS))}"
        )
    return entry.selection_param


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
    name: str,
    params: Mapping[str, Any],
    features: FeatureSource,
    seed: int,
    device: torch.device | None = None,
) -> Detector:
    """A new, unfitted detector.

    Args:
        name: a key of DETECTORS (`patchcore`, `padim`).
        params: its hyperparameters; missing keys take the defaults, unknown keys are refused.
        features: the backbone feature source it reads.
        seed: the run's seed.
        device: where its tensors live; None is the CPU.

    Raises:
        ConfigError: unknown detector or invalid params.
    """
    detector_class = _attribute(name, "detector_class")
    detector: Detector = detector_class(resolve_params(name, params), features, seed, device=device)
    return detector


def load_detector(
    name: str, directory: Path, features: FeatureSource, device: torch.device | None = None
) -> Detector:
    """A fitted detector from the files its `save` wrote to `directory`, on `device`."""
    detector: Detector = _attribute(name, "detector_class").load(directory, features, device=device)
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
