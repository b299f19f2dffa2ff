"""Factor-wise MVTec-Shift: which of the eleven changes of a drawn shift an image receives.

A variant keeps some factors of each image's recorded draw (`shift_params.draw_params`) and
sets every other factor to its identity (no exposure change, contrast and gamma 1, no colour
cast, no blur, no noise, flat illumination, no rotation, translation, scaling or perspective),
then runs the same pipeline (`shift.apply_shift`). A factor alone is therefore the very change
the image received inside the mixed shift: same draw, same order of operations, same image id.

Variant names: `all` (the mixed shift, every factor), one factor alone (`exposure`, ...,
`perspective`), the groups `photometric` and `geometric`, and leave-one-out `all-minus:<factor>`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evalsuite.data.shift_params import ShiftParams
from evalsuite.errors import ConfigError

ALL = "all"
"""The mixed shift: every factor of the draw (today's MVTec-Shift)."""
MINUS = "all-minus:"
"""Prefix of a leave-one-out variant, `all-minus:<factor>`."""

PHOTOMETRIC = ("exposure", "contrast", "gamma", "temperature", "blur", "noise", "illumination")
GEOMETRIC = ("rotation", "translation", "scale", "perspective")
FACTORS = PHOTOMETRIC + GEOMETRIC
"""The eleven factors, in the order the docs and the site list them."""
GROUPS = {"photometric": PHOTOMETRIC, "geometric": GEOMETRIC}

_IDENTITY: dict[str, dict[str, Any]] = {
    "exposure": {"exposure_stops": 0.0, "lighting": "regular"},
    "contrast": {"contrast": 1.0},
    "gamma": {"gamma": 1.0},
    "temperature": {"temperature": 0.0},
    "blur": {"blur_sigma": 0.0},
    "noise": {"noise_sigma": 0.0},
    "illumination": {"gradient": 0.0, "spot": 0.0},
    "rotation": {"rotation_deg": 0.0},
    "translation": {"translation": (0.0, 0.0)},
    "scale": {"scale": 1.0},
    "perspective": {"corners": ((0.0, 0.0),) * 4},
}
"""Each factor's parameters at their identity (the change does nothing)."""


def variant_names() -> tuple[str, ...]:
    """Every valid variant name: all, the groups, each factor, each leave-one-out."""
    return (ALL, *GROUPS, *FACTORS, *(MINUS + factor for factor in FACTORS))


def check_variant(name: str) -> str:
    """`name` when it names a variant.

    Raises:
        ConfigError: an unknown name, listing the valid ones.
    """
    if name in variant_names():
        return name
    raise ConfigError(
        f"unknown shift factor {name!r}; use one of: {ALL}, {', '.join(GROUPS)}, "
        f"{', '.join(FACTORS)}, or {MINUS}<factor>"
    )


def kept_factors(name: str) -> tuple[str, ...]:
    """The factors variant `name` keeps, in `FACTORS` order."""
    check_variant(name)
    if name == ALL:
        return FACTORS
    if name in GROUPS:
        return GROUPS[name]
    if name.startswith(MINUS):
        return tuple(f for f in FACTORS if f != name.removeprefix(MINUS))
    return (name,)


def neutralise(params: ShiftParams, name: str) -> ShiftParams:
    """The draw `params` with every factor variant `name` does not keep at its identity
    (`params` itself for `all`)."""
    kept = kept_factors(name)
    changes: dict[str, Any] = {}
    for factor in FACTORS:
        if factor not in kept:
            changes.update(_IDENTITY[factor])
    return dataclasses.replace(params, **changes) if changes else params


def path_form(name: str) -> str:
    """`name` as it can stand in a folder name (`all-minus:blur` -> `all-minus-blur`)."""
    return check_variant(name).replace(":", "-")
