"""The base of every configuration model: closed, frozen, strict and finite.

Values are never coerced from one kind to another: a boolean is not a number (`seeds = [true]`,
`coreset_ratio = true`, `severity = true`), a string is neither a number nor a boolean
(`seeds = ["1"]`, `pretrained = "no"`), a float is not an integer (`n_features = 100.0`); an
integer where a float is expected is taken (`sigma = 4`). NaN and infinity are refused in every
float. Unknown keys are refused and instances are frozen.

What TOML, YAML and JSON cannot write is still taken: a list where a tuple is expected, and a
string where a path is expected.
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class StrictModel(BaseModel):
    """Unknown keys refused, instances frozen, no coercion between types, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _from_file_types(cls, value: Any, info: ValidationInfo) -> Any:
        """A list for a tuple and a string for a path; a boolean refused where a literal
        number is expected (pydantic's strict mode takes `true` for `1` there)."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        return from_file_type(value, field.annotation, paths=info.mode == "python")


def from_file_type(value: Any, annotation: Any, paths: bool = True) -> Any:
    """`value` as the type `annotation` expects where a configuration file cannot write that
    type: a list as a tuple, and (with `paths`) a string as a path; strict JSON validation
    (`model_validate_json`) takes a string for a path itself.

    Raises:
        ValueError: `value` is a boolean and `annotation` a literal of other values.
    """
    choices = _literal_values(annotation)
    if isinstance(value, bool) and choices and not any(isinstance(c, bool) for c in choices):
        listed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"give one of {listed}, not the boolean {str(value).lower()}")
    kinds = _alternatives(annotation)
    if isinstance(value, list) and any(get_origin(kind) is tuple for kind in kinds):
        return tuple(value)
    if paths and isinstance(value, str) and Path in kinds:
        return Path(value)
    return value


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (`X | None` gives X and None), or the annotation alone."""
    if get_origin(annotation) in (Union, UnionType):
        return get_args(annotation)
    return (annotation,)


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    """The values of the `Literal` in `annotation` (directly or in a union), else ()."""
    return tuple(
        value
        for kind in _alternatives(annotation)
        if get_origin(kind) is Literal
        for value in get_args(kind)
    )
