"""The study's shift: its family (MVTec-Shift or the ImageNet-C corruptions), severities, seed
and variants (`shift` in a configuration), and the cell kinds (condition/regime pairs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from evalsuite.data.real_conditions import CONDITIONS, check_condition
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import (
    CORRUPTIONS,
    DEFAULT_CORRUPTIONS,
    MVTEC_SHIFT,
    check_name,
    check_severity,
)
from evalsuite.errors import ConfigError
from evalsuite.limits import MAX_SEED
from evalsuite.strict_model import StrictModel

CellKind = Literal["clean/none", "shift/none", "shift/threshold", "shift/retrain"]
ALL_CELL_KINDS: tuple[CellKind, ...] = (
    "clean/none",
    "shift/none",
    "shift/threshold",
    "shift/retrain",
)
SHIFT_SWEEPS = ("shift.severity", "shift.factors")
"""The sweep params that change the shifted images, not the detector."""
FACTOR_KINDS: tuple[CellKind, ...] = ("shift/none", "shift/threshold")
"""The cells of a shift variant other than `all` by default: the clean fits, reused."""
Family = Literal["mvtec_shift", "corruptions"]


class ShiftSettings(StrictModel):
    """The shift a study evaluates beside clean: its family, severities, the seed of the
    per-image draws, and its variants.

    Attributes:
        family: `mvtec_shift` (MVTec-Shift, `evalsuite.data.shift_factors`) or `corruptions`
            (ImageNet-C's corruption types, `evalsuite.data.corruption_params`).
        severity: the study's severity (1-3 for MVTec-Shift, 1-5 for the corruptions): the
            mixed shift's and every sweep's.
        severities: the severities each variant is evaluated at; empty (the default) means
            `[severity]` (see `evaluated_severities`).
        factors: the variants evaluated. MVTec-Shift: `all` (the mixed shift, every factor), a
            factor alone (`exposure`, ..., `perspective`), the groups `photometric` and
            `geometric`, or leave-one-out `all-minus:<factor>`; `all` at `severity` gets the
            study's kinds, every other (variant, severity) `factor_kinds`, from the clean fits
            (and a fit on its own shifted train images for `shift/retrain`). Corruptions:
            corruption types (default: the nine of `shift_family.DEFAULT_CORRUPTIONS`), each at
            each severity with `factor_kinds`; the family has no mixed shift.
        factor_kinds: the shifted condition/regime cells of each variant other than `all`.
        factor_scopes: the scopes those cells are evaluated in; empty (the default) means the
            study's `scopes` (each must be one of them, `StudyConfig` checks). A real
            condition's cells are evaluated in these scopes too.
        conditions: MVTec AD 2's real conditions evaluated as shifts (`data.real_conditions`),
            each with `shift/none` cells on the clean fits; None (the default) means
            `real_conditions.CONDITIONS` on an MVTec AD 2 tree and none on the other layouts,
            where a non-empty list is refused (`StudyConfig` checks; see `real_conditions`).
    """

    family: Family = "mvtec_shift"
    severity: int = 2  # checked against the family's range by `_check_severity`
    severities: tuple[int, ...] = Field(default=(), max_length=5)
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    factors: tuple[str, ...] = Field(default=(ALL,), min_length=1, max_length=64)
    factor_kinds: tuple[CellKind, ...] = Field(
        default=FACTOR_KINDS, min_length=1, max_length=len(ALL_CELL_KINDS)
    )
    factor_scopes: tuple[Literal["per_class", "unified"], ...] = Field(default=(), max_length=2)
    conditions: tuple[str, ...] | None = Field(default=None, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, data: Any) -> Any:
        """The corruption family's default `factors`: its nine types."""
        if isinstance(data, dict) and data.get("family") == CORRUPTIONS and "factors" not in data:
            return {**data, "factors": list(DEFAULT_CORRUPTIONS)}
        return data

    @field_validator("severity")
    @classmethod
    def _check_severity(cls, severity: int, info: ValidationInfo) -> int:
        return _checked(check_severity, info.data.get("family", MVTEC_SHIFT), severity)

    @field_validator("severities")
    @classmethod
    def _check_severities(cls, levels: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        return _checked_items(
            check_severity, info.data.get("family", MVTEC_SHIFT), levels, "severity"
        )

    @field_validator("factors")
    @classmethod
    def _check_factors(cls, factors: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _checked_items(check_name, info.data.get("family", MVTEC_SHIFT), factors, "variant")

    @field_validator("factor_kinds")
    @classmethod
    def _check_factor_kinds(cls, kinds: tuple[CellKind, ...]) -> tuple[CellKind, ...]:
        if "clean/none" in kinds:
            raise ValueError(
                "clean/none reads no shifted image and is the same for every variant; list "
                "only shift/none, shift/threshold or shift/retrain"
            )
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"{list(kinds)} repeats a kind; list each once")
        return kinds

    @field_validator("conditions")
    @classmethod
    def _check_conditions(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is None:
            return None
        for index, name in enumerate(names):
            try:
                check_condition(name)
            except ConfigError as error:
                raise ValueError(f"item {index}: {error}") from error
        if len(set(names)) != len(names):
            raise ValueError(f"{list(names)} repeats a condition; list each once")
        return names

    def real_conditions(self, layout: str) -> tuple[str, ...]:
        """The real conditions a study on a tree of `layout` evaluates: `conditions`, else
        every condition of `real_conditions.CONDITIONS` on MVTec AD 2 and none elsewhere."""
        if self.conditions is not None:
            return self.conditions
        return CONDITIONS if layout == "mvtec_ad2" else ()

    @property
    def evaluated_severities(self) -> tuple[int, ...]:
        """The severities the variants are evaluated at: `severities`, else `(severity,)`."""
        return self.severities or (self.severity,)

    @property
    def mixed(self) -> bool:
        """Whether the study evaluates MVTec-Shift's mixed shift (`all`) at `severity`."""
        return self.family == MVTEC_SHIFT and ALL in self.factors

    @model_serializer(mode="wrap")
    def _drop_defaults(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        """A study of the mixed shift alone at one severity dumps as it always has (manifests,
        the site's study file): `family`, `severities`, `factors`, `factor_kinds`,
        `factor_scopes` and `conditions` appear once they differ from their defaults."""
        dumped: dict[str, object] = handler(self)
        if self.family == MVTEC_SHIFT:
            dumped.pop("family", None)
        if self.evaluated_severities == (self.severity,):
            dumped.pop("severities", None)
        if self.factors == (ALL,) and self.factor_kinds == FACTOR_KINDS:
            dumped.pop("factors", None)
            dumped.pop("factor_kinds", None)
        if not self.factor_scopes:
            dumped.pop("factor_scopes", None)
        if self.conditions is None:
            dumped.pop("conditions", None)
        return dumped


def _checked(check: Any, family: str, value: Any, where: str = "") -> Any:
    """`check(family, value)` with its `ConfigError` as the `ValueError` pydantic reports under
    the key's path, prefixed by `where` (an item's index)."""
    try:
        return check(family, value)
    except ConfigError as error:
        raise ValueError(f"{where}{error}") from error


def _checked_items(check: Any, family: str, items: tuple[Any, ...], what: str) -> tuple[Any, ...]:
    """`items` when `check` takes each (its error prefixed by the item's index) and none
    repeats (`what` names an item in that message)."""
    for index, item in enumerate(items):
        _checked(check, family, item, f"item {index}: ")
    if len(set(items)) != len(items):
        raise ValueError(f"{list(items)} repeats a {what}; list each once")
    return items


def sweep_problem(shift: ShiftSettings, param: str, kinds: tuple[CellKind, ...]) -> str | None:
    """What is wrong with a sweep of `param` (with cells `kinds`) under `shift`'s family, or
    None: the corruption family has no mixed shift for a sweep's shifted cells, and its
    severities are `shift.severities`, not a sweep."""
    if shift.family != CORRUPTIONS or param == "shift.factors":
        return None
    if param == "shift.severity":
        return (
            "shift.severity sweeps MVTec-Shift's mixed shift; under shift.family = "
            '"corruptions" list the severities in shift.severities'
        )
    shifted = [kind for kind in kinds if kind != "clean/none"]
    if shifted:
        return (
            f'kinds {shifted} read the mixed shift, which shift.family = "corruptions" does '
            'not have; give this sweep kinds = ["clean/none"], or sweep shift.factors'
        )
    return None
