"""Detectors from outside the package: named by import path (`impl = "package.module:Class"` in
a study's `[[detectors]]` entry) or registered under the entry-point group
`evalsuite.detectors` (see docs/plugins.md).

A plug-in class implements the protocol of `evalsuite.detectors.base.Detector` and declares,
as class attributes, its params class (`params_class`, a `DetectorParams` subclass) and what it
implements beyond the protocol (`declares`, a `Declarations`; none by default). The class is
checked when it is first named: a module that does not import, a missing attribute, a method
of the protocol it lacks or a declaration it does not implement is a `ConfigError` naming it.
Nothing here imports a plug-in before a study names one, so built-in studies stay instant.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from importlib import metadata

from evalsuite.detectors.params import DetectorParams, ImageParams
from evalsuite.errors import ConfigError

GROUP = "evalsuite.detectors"
"""The entry-point group plug-in distributions register detectors under."""
IMPL = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
"""`package.module:Class` (the class may be nested: `module:Outer.Inner`)."""
INPUTS = ("features", "images")
"""What a detector may declare it reads (`Declarations.inputs`)."""
REQUIRED = ("fit", "score", "save", "load")
"""The protocol's methods every detector class has (`Detector`, `DetectorClass`)."""
UNVERSIONED = "unversioned"
"""The version of a plug-in that no installed distribution provides."""


@dataclass(frozen=True)
class Declarations:
    """What a plug-in implements beyond the protocol (a class attribute `declares`).

    Attributes:
        split: it is a `base.SplitDetector` (`search`, `scores_from`); its params'
            SEARCH_PARAMS and SCORING_PARAMS then leave the fit unchanged.
        selection_param: the param whose values select nested subsets of one selection
            (`base.NestedSelectionDetector`, `fit_shared`), or None.
        memory_bank: it is a `base.MemoryBankDetector` (nearest-neighbour provenance).
        cost_model: `module:attribute` of its `cost.CostModel`, or None.
        inputs: what it is handed: `features` (a `base.FeatureSource` over the run's feature
            cache) or `images` (a `base.ImageSource` of the preprocessed input images; its
            params class is then a `params.ImageParams`, and no feature is extracted for it).
    """

    split: bool = False
    selection_param: str | None = None
    memory_bank: bool = False
    cost_model: str | None = None
    inputs: str = "features"


@dataclass(frozen=True)
class Plugin:
    """A plug-in detector class, checked.

    Attributes:
        impl: `module:Class`.
        params_class: `module:Class` of its params class.
        declares: its declarations.
        version: the version of the distribution that provides it, or `unversioned`.
    """

    impl: str
    params_class: str
    declares: Declarations
    version: str


def is_impl(reference: str) -> bool:
    """Whether `reference` is an import path (`module:Class`) rather than a name."""
    return ":" in reference


def check_impl(impl: str) -> str:
    """`impl` if it has the form `package.module:Class`, else a ConfigError."""
    if not IMPL.fullmatch(impl):
        raise ConfigError(
            f"impl {impl!r} is not an import path; write it as 'package.module:Class'"
        )
    return impl


@functools.cache
def entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed distributions' entry points of the group, by name (none imported)."""
    return {point.name: point for point in metadata.entry_points(group=GROUP)}


def from_entry_point(name: str) -> Plugin | None:
    """The plug-in registered under `name` in the group, or None if none is."""
    point = entry_points().get(name)
    if point is None:
        return None
    version = point.dist.version if point.dist is not None else None
    return load(point.value, version, f"entry point {name!r} of {GROUP}")


@functools.cache
def load(impl: str, version: str | None = None, where: str = "impl") -> Plugin:
    """Import `impl` and check its class against the protocol and its declarations.

    Args:
        impl: `package.module:Class`.
        version: its distribution's version, if known (else looked up from the module).
        where: what named it, for messages.

    Raises:
        ConfigError: the module does not import, the attribute is missing, or the class
            lacks what the protocol or its declarations require (all of it named).
    """
    module_name, _, attribute = check_impl(impl).partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any import-time failure of the user's code
        raise ConfigError(
            f"{where} {impl!r}: module {module_name} does not import "
            f"({type(error).__name__}: {_first_line(error)}); install the package that "
            "provides it in this environment, or fix the path"
        ) from error
    found: object = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise ConfigError(
                f"{where} {impl!r}: module {module_name} has no attribute {attribute}; "
                "check the class name after the colon"
            )
    if not isinstance(found, type):
        raise ConfigError(f"{where} {impl!r}: {attribute} is not a class")
    params, declares = _check_class(found, f"{where} {impl!r}")
    return Plugin(
        impl,
        f"{params.__module__}:{params.__qualname__}",
        declares,
        version or distribution_version(module_name),
    )


def distribution_version(module_name: str) -> str:
    """The version of the installed distribution providing top-level package of
    `module_name`, or `unversioned`."""
    top = module_name.partition(".")[0]
    names = metadata.packages_distributions().get(top, [])
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - listed but gone
            continue
    return UNVERSIONED


def _check_class(cls: type, what: str) -> tuple[type[DetectorParams], Declarations]:
    """(params class, declarations) of a plug-in class, or a ConfigError naming all it lacks."""
    declares = getattr(cls, "declares", Declarations())
    if not isinstance(declares, Declarations):
        raise ConfigError(
            f"{what}: `declares` is {declares!r}; make it an "
            "evalsuite.detectors.plugins.Declarations"
        )
    params = getattr(cls, "params_class", None)
    missing = [name for name in REQUIRED if not callable(getattr(cls, name, None))]
    if not (isinstance(params, type) and issubclass(params, DetectorParams)):
        missing.append("params_class (a DetectorParams subclass)")
    if declares.split or declares.memory_bank:
        missing += [f"{m} (declared split)" for m in ("search", "scores_from") if _lacks(cls, m)]
    if declares.memory_bank and _lacks(cls, "nearest_categories_from"):
        missing.append("nearest_categories_from (declared memory_bank)")
    if declares.selection_param is not None and _lacks(cls, "fit_shared"):
        missing.append("fit_shared (declared selection_param)")
    if missing:
        raise ConfigError(
            f"{what} is not an evalsuite detector: it lacks {', '.join(missing)} "
            "(see docs/plugins.md)"
        )
    assert isinstance(params, type) and issubclass(params, DetectorParams)
    _check_inputs(declares.inputs, params, what)
    fields = set(params.model_fields)
    if declares.selection_param is not None and declares.selection_param not in fields:
        raise ConfigError(
            f"{what}: declared selection_param {declares.selection_param!r} is not a field of "
            f"{params.__qualname__}"
        )
    unknown = sorted((params.SEARCH_PARAMS | params.SCORING_PARAMS) - fields)
    if unknown:
        raise ConfigError(
            f"{what}: SEARCH_PARAMS/SCORING_PARAMS name {unknown}, which are not fields of "
            f"{params.__qualname__}"
        )
    return params, declares


def _check_inputs(inputs: str, params: type[DetectorParams], what: str) -> None:
    """A declared `inputs` that is one of INPUTS, with `images` read through an ImageParams."""
    if inputs not in INPUTS:
        raise ConfigError(
            f"{what}: declared inputs={inputs!r}; declare one of {', '.join(map(repr, INPUTS))}"
        )
    name = params.__qualname__
    if inputs == "images" and not issubclass(params, ImageParams):
        raise ConfigError(
            f"{what}: declares inputs='images' but its params_class {name} is not an "
            "ImageParams; derive it from evalsuite.detectors.params.ImageParams (a detector "
            "that reads raw images reads no backbone layers)"
        )
    if inputs == "features" and issubclass(params, ImageParams):
        raise ConfigError(
            f"{what}: its params_class {name} is an ImageParams (no backbone layers) but it "
            "does not declare inputs='images'; declare it in `declares`, or derive the params "
            "from DetectorParams"
        )


def _lacks(cls: type, method: str) -> bool:
    return not callable(getattr(cls, method, None))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
