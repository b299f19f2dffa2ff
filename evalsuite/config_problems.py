"""A configuration's validation errors in words: each problem named by its key's path
(`detectors.0.params.coreset_ratio: ...`), unknown keys with the keys allowed beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


def problems(error: ValidationError) -> str:
    """The problems of `error`, each as `key: what is wrong`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'value'}: "
        f"{problem['msg'].removeprefix('Value error, ')}"
        for problem in error.errors()
    )


def describe(error: ValidationError, root: type[BaseModel], path: Path | None = None) -> str:
    """One line naming every problem of `error` by its key's path, unknown keys with the keys
    allowed beside them.

    Args:
        error: from validating a configuration with `root`.
        root: the model validated (`StudyConfig`), to find the allowed keys.
        path: the file the configuration came from, named first; None for a preset.
    """
    where = f"{path}: " if path else ""
    lines = []
    locations = [tuple(problem["loc"]) for problem in error.errors()]
    for problem in error.errors():
        loc = tuple(problem["loc"])
        if any(other[: len(loc)] == loc and other != loc for other in locations):
            continue  # a container's error that only repeats the errors of its items
        key = ".".join(str(part) for part in loc) or "(top level)"
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(root, loc)
            hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
            lines.append(f"unknown key {key!r}{hint} (`evalsuite config show` prints them all)")
        elif problem["type"] == "literal_error":
            lines.append(f"{key}: {problem['msg']} (got {problem.get('input')!r})")
        elif problem["type"] == "value_error":  # our own validators name the values at fault
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {message}" if loc else message)  # the study as a whole
        else:
            lines.append(f"{key}: {problem['msg']} (got {problem.get('input')!r})")
    return where + "invalid configuration: " + "; ".join(lines)


def _allowed_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    """The keys of the model under `root` that holds the unknown key at `loc`, or None if not
    found."""
    model = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return None
        model = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `tuple[DetectorSpec, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
