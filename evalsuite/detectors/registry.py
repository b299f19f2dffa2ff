"""Detectors by name: what each declares, its params, and building, loading and pricing one.

A `DetectorEntry` says where a detector lives and what it declares beyond the required
protocol (`evalsuite.detectors.base.Detector`): the split into search and scoring, nested
selections, a memory bank, a cost model, and what it reads (backbone features, or raw images).
The runner reads these declarations, never guesses them from the objects, and checks each
against the detector it builds (a declaration the class does not implement is an error naming
it). Modules are imported lazily, so naming `patchcore` never imports anomalib (which only
`evalsuite.detectors.padim` imports), and params are validated from their own modules without
importing torch (`config show` stays instant).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from evalsuite.detectors import plugins
from evalsuite.detectors.params import DetectorParams
from evalsuite.errors import ConfigError, EvalsuiteError

if TYPE_CHECKING:
    import torch

    from evalsuite.detectors.base import (
        Detector,
        DetectorClass,
        FeatureSource,
        ImageDetectorClass,
        ImageSource,
        MemoryBankDetector,
        NestedSelectionDetector,
        Source,
        SplitDetector,
    )
    from evalsuite.detectors.cost import CostModel


@dataclass(frozen=True)
class DetectorEntry:
    """Where a detector lives and what it declares.

    Attributes:
        module: the module of the detector class.
        detector_class: the class in it (see `base.Detector` and `base.DetectorClass`).
        params_module: the module of its params class (importing neither torch nor anomalib).
        params_class: its `DetectorParams` subclass.
        split: it implements `base.SplitDetector` (search, then scores from the evidence);
            its params' SEARCH_PARAMS and SCORING_PARAMS then leave the fit unchanged.
        selection_param: the param whose values select nested subsets of one selection
            (`base.NestedSelectionDetector`), or None.
        memory_bank: it implements `base.MemoryBankDetector` (nearest-neighbour provenance).
        cost_model: `module:attribute` of its `cost.CostModel`, or None (the estimate then says
            it has none).
        impl: `module:Class` of a plug-in (`detectors.plugins`), None for a built-in.
        version: a plug-in's distribution version (or `unversioned`), None for a built-in.
        inputs: what it is handed: `features` (the run's `base.FeatureSource`) or `images`
            (a `base.ImageSource`: no backbone feature is extracted or cached for it, and the
            manifest counts the images it was fed, `counts.raw_image_passes`).
    """

    module: str
    detector_class: str
    params_module: str
    params_class: str
    split: bool = False
    selection_param: str | None = None
    memory_bank: bool = False
    cost_model: str | None = None
    impl: str | None = None
    version: str | None = None
    inputs: str = "features"


DETECTORS: dict[str, DetectorEntry] = {
    "patchcore": DetectorEntry(
        "evalsuite.detectors.patchcore.model",
        "PatchCore",
        "evalsuite.detectors.patchcore.params",
        "PatchCoreParams",
        split=True,
        selection_param="coreset_ratio",
        memory_bank=True,
        cost_model="evalsuite.detectors.patchcore.cost:COST_MODEL",
    ),
    "padim": DetectorEntry(
        "evalsuite.detectors.padim",
        "Padim",
        "evalsuite.detectors.padim_params",
        "PadimParams",
        split=True,
        cost_model="evalsuite.detectors.padim_cost:COST_MODEL",
    ),
    "anomalib": DetectorEntry(
        "evalsuite.detectors.anomalib_models.model",
        "AnomalibDetector",
        "evalsuite.detectors.anomalib_models.params",
        "AnomalibParams",
    ),
}


def entry(name: str) -> DetectorEntry:
    """The registry entry of detector `name`: a built-in, a plug-in's import path
    (`module:Class`) or the name of a plug-in's entry point (`detectors.plugins`).

    Raises:
        ConfigError: no detector has that name (the message lists those there are), or the
            plug-in does not import or does not satisfy the protocol.
    """
    found = DETECTORS.get(name)
    if found is not None:
        return found
    plugin = plugins.load(name) if plugins.is_impl(name) else plugins.from_entry_point(name)
    if plugin is None:
        known = [repr(known) for known in [*DETECTORS, *plugins.entry_points()]]
        listed = ", ".join(known[:-1]) + " or " + known[-1] if len(known) > 1 else known[0]
        raise ConfigError(
            f"unknown detector {name!r}; use {listed}; or name your own class with "
            "impl = 'package.module:Class' (see docs/plugins.md)"
        )
    return _plugin_entry(plugin)


def check_builtin_name(name: str) -> None:
    """Refuse a plug-in (an `impl`, or an installed entry point) that takes the name of a
    built-in detector `name`.

    Raises:
        ConfigError: naming the clash and what to do.
    """
    point = plugins.entry_points().get(name)
    if name in DETECTORS and point is not None:
        where = point.dist.name if point.dist is not None else point.value
        raise ConfigError(
            f"the entry point {name!r} of {where} ({plugins.GROUP}) takes the name of a "
            "built-in detector; rename it in that distribution's entry points"
        )


def _plugin_entry(plugin: plugins.Plugin) -> DetectorEntry:
    module, _, cls = plugin.impl.partition(":")
    params_module, _, params_cls = plugin.params_class.partition(":")
    declares = plugin.declares
    return DetectorEntry(
        module,
        cls,
        params_module,
        params_cls,
        split=declares.split or declares.memory_bank,
        selection_param=declares.selection_param,
        memory_bank=declares.memory_bank,
        cost_model=declares.cost_model,
        impl=plugin.impl,
        version=plugin.version,
        inputs=declares.inputs,
    )


def reads_images(name: str) -> bool:
    """Whether detector `name` declares that it reads raw images (`inputs="images"`), not
    backbone features."""
    return entry(name).inputs == "images"


def params_class(name: str) -> type[DetectorParams]:
    """The params class of detector `name` (imports no model library)."""
    found = _import(name, entry(name).params_module, entry(name).params_class)
    if not (isinstance(found, type) and issubclass(found, DetectorParams)):
        raise EvalsuiteError(
            f"detector {name!r}: params class {found!r} is not a DetectorParams subclass; "
            "derive it from evalsuite.detectors.params.DetectorParams"
        )
    return found


def fit_free_params(name: str) -> frozenset[str]:
    """The params of detector `name` that change only its search or scoring, not the fit
    (none unless it declares the split)."""
    return _search_only(name) | _scoring_only(name)


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
    search = _search_only(name)
    return {key: value for key, value in params.items() if key in search}


def provenance(name: str) -> dict[str, str] | None:
    """A plug-in's class (`module:Class`) and distribution version, for fit keys and records;
    None for a built-in (its code is the package's own)."""
    found = entry(name)
    if found.impl is None:
        return None
    return {"class": found.impl, "version": found.version or plugins.UNVERSIONED}


def selection_param(name: str) -> str | None:
    """The param whose values share one nested selection (see DetectorEntry), or None."""
    return entry(name).selection_param


def resolve_params(name: str, params: Mapping[str, Any]) -> DetectorParams:
    """The validated params of detector `name`, defaults filled in.

    Raises:
        ConfigError: unknown detector, unknown key or invalid value (the message names them).
    """
    params_model = params_class(name)
    try:
        return params_model.model_validate(dict(params))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'params'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ConfigError(f"{name} params: {problems}") from error


def build_detector(
    name: str,
    params: Mapping[str, Any],
    features: Source,
    seed: int,
    device: torch.device | None = None,
) -> Detector:
    """A new, unfitted detector.

    Args:
        name: a key of DETECTORS.
        params: its hyperparameters; missing keys take the defaults, unknown keys are refused.
        features: what it reads: the backbone feature source, or the image source of a
            detector that declares `inputs="images"` (`reads_images`).
        seed: the run's seed.
        device: where its tensors live; None is the CPU.

    Raises:
        ConfigError: unknown detector or invalid params.
    """
    resolved = resolve_params(name, params)
    if reads_images(name):
        images = cast("ImageSource", features)
        return _image_class(name)(resolved, images, seed, device=device)
    return _detector_class(name)(resolved, cast("FeatureSource", features), seed, device=device)


def load_detector(
    name: str, directory: Path, features: Source, device: torch.device | None = None
) -> Detector:
    """A fitted detector from the files its `save` wrote to `directory`, reading `features`
    (as `build_detector`), on `device`."""
    if reads_images(name):
        return _image_class(name).load(directory, cast("ImageSource", features), device=device)
    return _detector_class(name).load(directory, cast("FeatureSource", features), device=device)


def as_split(name: str, detector: Detector) -> SplitDetector[object, DetectorParams] | None:
    """`detector` as a split detector when detector `name` declares the split, else None.

    Raises:
        EvalsuiteError: it declares the split but does not implement it.
    """
    from evalsuite.detectors.base import SplitDetector

    if not entry(name).split:
        return None
    if not isinstance(detector, SplitDetector):
        raise _undeclared(name, "split", "search and scores_from")
    return cast("SplitDetector[object, DetectorParams]", detector)


def as_memory_bank(
    name: str, detector: Detector
) -> MemoryBankDetector[object, DetectorParams] | None:
    """`detector` as a memory-bank detector when detector `name` declares one, else None."""
    from evalsuite.detectors.base import MemoryBankDetector

    if not entry(name).memory_bank:
        return None
    if not isinstance(detector, MemoryBankDetector):
        raise _undeclared(name, "memory_bank", "search, categories and nearest_categories_from")
    return cast("MemoryBankDetector[object, DetectorParams]", detector)


def as_nested_selection(name: str, detector: Detector) -> NestedSelectionDetector | None:
    """`detector` as a nested-selection detector when detector `name` declares a selection
    param, else None."""
    from evalsuite.detectors.base import NestedSelectionDetector

    if entry(name).selection_param is None:
        return None
    if not isinstance(detector, NestedSelectionDetector):
        raise _undeclared(name, "selection_param", "fit_shared")
    return detector


def cost_model(name: str) -> CostModel[DetectorParams] | None:
    """The cost model detector `name` declares, or None when it declares none."""
    where = entry(name).cost_model
    if where is None:
        return None
    module, _, attribute = where.partition(":")
    return cast("CostModel[DetectorParams]", _import(name, module, attribute))


def _detector_class(name: str) -> DetectorClass[DetectorParams]:
    found = entry(name)
    return cast("DetectorClass[DetectorParams]", _import(name, found.module, found.detector_class))


def _image_class(name: str) -> ImageDetectorClass[DetectorParams]:
    found = entry(name)
    return cast(
        "ImageDetectorClass[DetectorParams]", _import(name, found.module, found.detector_class)
    )


def _search_only(name: str) -> frozenset[str]:
    return params_class(name).SEARCH_PARAMS if entry(name).split else frozenset()


def _scoring_only(name: str) -> frozenset[str]:
    return params_class(name).SCORING_PARAMS if entry(name).split else frozenset()


def _undeclared(name: str, declared: str, missing: str) -> EvalsuiteError:
    return EvalsuiteError(
        f"detector {name!r} declares {declared} but does not implement {missing}; "
        "implement them or drop the declaration from its registry entry"
    )


def _import(name: str, module_name: str, attribute: str) -> object:
    """`attribute` of `module_name`, imported for detector `name`."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise EvalsuiteError(
            f"detector {name!r} is unavailable: importing {module_name} failed ({error}); "
            "reinstall the environment (make install)"
        ) from error
    found: object = module
    for part in attribute.split("."):  # a nested class: `Outer.Inner`
        found = getattr(found, part, None)
    if found is None:
        raise EvalsuiteError(f"{module_name} has no {attribute}; the install is broken")
    return cast(object, found)
