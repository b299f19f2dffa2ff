"""A closed, frozen, strict pydantic model whose validation errors become one `ConfigError`."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import ValidationError

from evalsuite.errors import ConfigError
from evalsuite.strict_model import StrictModel


class ClosedModel(StrictModel):
    """Unknown keys refused, instances frozen, no type coercion, no NaN or infinity (see
    `StrictModel`); errors name the key, the value and the fix.

    Subclasses set `config_name` (e.g. "patchcore params"), which starts every message.
    """

    config_name: ClassVar[str] = "config"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ClosedModelError(type(self), problems(error, type(self))) from error

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate `obj`; a ConfigError naming key and value instead of a ValidationError."""
        try:
            return super().model_validate(obj, **options)
        except ValidationError as error:
            raise ClosedModelError(cls, problems(error, cls)) from error


class ClosedModelError(ConfigError):
    """A `ClosedModel`'s values are invalid.

    Attributes:
        problems: what is wrong, key by key, without the model's name (for a model that holds
            this one and names the key it sits at).
    """

    def __init__(self, model: type[ClosedModel], problems: str) -> None:
        super().__init__(f"{model.config_name}: {problems}")
        self.problems = problems


def problems(error: ValidationError, model: type[ClosedModel]) -> str:
    """One clause per problem: key, what is wrong, and the allowed keys for unknown ones."""
    allowed = ", ".join(model.model_fields)
    parts = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        where = f"{key}: " if key else ""  # no key: the model as a whole
        if problem["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}; allowed keys: {allowed}")
        elif problem["type"] == "value_error":
            parts.append(where + problem["msg"].removeprefix("Value error, "))
        else:
            parts.append(f"{where}{problem['msg']} (got {problem.get('input')!r})")
    return "; ".join(parts)


def distinct_layers(layers: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a detector's backbone layer names: one or more, non-empty, no repeats."""
    if not layers or len(set(layers)) != len(layers) or not all(layers):
        raise ValueError(f"give one or more distinct layer names, got {list(layers)}")
    return layers
