"""A closed, frozen pydantic model whose validation errors become one `ConfigError`."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from evalsuite.errors import ConfigError


class ClosedModel(BaseModel):
    """Unknown keys refused, instances frozen; errors name the key, the value and the fix.

    Subclasses set `config_name` (e.g. "patchcore params"), which starts every message.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    config_name: ClassVar[str] = "config"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ConfigError(describe(error, type(self))) from error

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate `obj`; a ConfigError naming key and value instead of a ValidationError."""
        try:
            return super().model_validate(obj, **options)
        except ValidationError as error:
            raise ConfigError(describe(error, cls)) from error


def describe(error: ValidationError, model: type[ClosedModel]) -> str:
    """One clause per problem: key, what is wrong, and the allowed keys for unknown ones."""
    allowed = ", ".join(model.model_fields)
    parts = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or model.config_name
        if problem["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}; allowed keys: {allowed}")
        elif problem["type"] == "value_error":
            parts.append(f"{key}: {problem['msg'].removeprefix('Value error, ')}")
        else:
            parts.append(f"{key}: {problem['msg']} (got {problem.get('input')!r})")
    return f"{model.config_name}: " + "; ".join(parts)


def distinct_layers(layers: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a detector's backbone layer names: one or more, non-empty, no repeats."""
    if not layers or len(set(layers)) != len(layers) or not all(layers):
        raise ValueError(f"give one or more distinct layer names, got {list(layers)}")
    return layers
