"""The two shift families a study can evaluate, their variant names, severities and tree names.

- `mvtec_shift` (the default): MVTec-Shift's factors (`shift_factors`), severities 1-3.
- `corruptions`: ImageNet-C's corruption types (`corruption_params.TABLE`), severities 1-5.

A study names one family (`shift.family`); its `shift.factors` are that family's variant names.
Each (severity, variant) is one shifted tree, named by `tree_name`: `shift-s2` (the mixed shift,
as it always was), `shift-s2-exposure`, `corruptions-s3-fog`.

A third family, `real`, is no setting of `shift.family`: it names MVTec AD 2's real acquisition
conditions (`shift.conditions`, see `data.real_conditions`), each read from the tree itself
(`real-overexposed`), beside the study's family.
"""

from __future__ import annotations

from evalsuite.data.corruption_params import CORRUPTIONS as TYPES
from evalsuite.data.corruption_params import SEVERITIES as CORRUPTION_SEVERITIES
from evalsuite.data.shift_factors import ALL, check_variant, path_form, variant_names
from evalsuite.data.shift_params import SEVERITIES as SHIFT_SEVERITIES
from evalsuite.errors import ConfigError

MVTEC_SHIFT = "mvtec_shift"
CORRUPTIONS = "corruptions"
REAL = "real"
"""The family of MVTec AD 2's real conditions (`shift.conditions`), beside `shift.family`'s."""
FAMILIES = (MVTEC_SHIFT, CORRUPTIONS)
DEFAULT_CORRUPTIONS = (
    "brightness",
    "contrast",
    "defocus_blur",
    "motion_blur",
    "gaussian_noise",
    "shot_noise",
    "jpeg_compression",
    "fog",
    "pixelate",
)
"""The corruption types a study of the family evaluates by default (issue 23's list)."""
_NAMES = {MVTEC_SHIFT: "MVTec-Shift", CORRUPTIONS: "the corruption family"}
_TITLES = {
    MVTEC_SHIFT: "MVTec-Shift",
    CORRUPTIONS: "ImageNet-C corruption",
    REAL: "MVTec AD 2 real condition",
}


def title(family: str) -> str:
    """The family as the site and `plan --estimate` name its trees and severities:
    `MVTec-Shift`, `ImageNet-C corruption`."""
    return _TITLES.get(family, family)


def severities(family: str) -> tuple[int, ...]:
    """The severities of `family`: 1-3 for MVTec-Shift, 1-5 for the corruptions."""
    return tuple(CORRUPTION_SEVERITIES if family == CORRUPTIONS else SHIFT_SEVERITIES)


def check_severity(family: str, severity: int) -> int:
    """`severity` when `family` has it.

    Raises:
        ConfigError: a severity outside the family's range, naming it.
    """
    allowed = severities(family)
    if severity not in allowed:
        raise ConfigError(
            f"severity {severity!r} is not one of {_NAMES[family]}'s severities "
            f"{', '.join(map(str, allowed))}"
        )
    return severity


def check_name(family: str, name: str) -> str:
    """`name` when it names a variant of `family`.

    Raises:
        ConfigError: an unknown name, listing the family's valid ones; a name of the other
            family, saying which family takes it.
    """
    if family == CORRUPTIONS:
        if name in TYPES:
            return name
        if name in variant_names() or name.startswith("all-minus:"):
            raise ConfigError(
                f"{name!r} is an MVTec-Shift variant, not a corruption type; set "
                f'shift.family = "{MVTEC_SHIFT}" to evaluate it, or use one of: '
                f"{', '.join(TYPES)}"
            )
        raise ConfigError(f"unknown corruption type {name!r}; use one of: {', '.join(TYPES)}")
    if name in TYPES and name not in variant_names():
        raise ConfigError(
            f"{name!r} is a corruption type, not an MVTec-Shift variant; set "
            f'shift.family = "{CORRUPTIONS}" to evaluate it'
        )
    return check_variant(name)


def tree_name(severity: int, factors: str = ALL, family: str = MVTEC_SHIFT) -> str:
    """How a study names the shifted tree of `severity` and variant `factors` (the key of its
    fingerprint and of its per-image parameters in the results folder): `shift-s2` for the
    mixed shift, `shift-s2-exposure`, `shift-s2-all-minus-blur`, `corruptions-s3-fog`; a real
    condition of MVTec AD 2 (`severity` ignored): `real-overexposed`."""
    if family == REAL:
        return f"{REAL}-{factors}"
    if family == CORRUPTIONS:
        return f"{CORRUPTIONS}-s{severity}-{check_name(family, factors)}"
    base = f"shift-s{severity}"
    return base if factors == ALL else f"{base}-{path_form(factors)}"


def folder_suffix(factors: str, family: str = MVTEC_SHIFT) -> str:
    """What the cache folder of a variant's tree adds to the mixed shift's folder name: ``
    for the mixed shift, `-exposure`, `-corruptions-fog`."""
    if family == CORRUPTIONS:
        return f"-{CORRUPTIONS}-{check_name(family, factors)}"
    return "" if factors == ALL else f"-{path_form(factors)}"
