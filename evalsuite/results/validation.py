"""Check records against the JSON Schemas in `evalsuite.schemas`, with messages naming fields.

Schemas are draft 2020-12 and loaded once with `importlib.resources`. Besides the schema, every
value must be plain JSON: finite numbers (JSON has no NaN or infinity), no numpy scalars.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # imported on first validation: `config show` and `--help` stay instant
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

SchemaName = Literal["cell", "manifest", "history"]
MAX_PROBLEMS = 5


def problems(document: Any, schema: SchemaName) -> list[str]:
    """What is wrong with `document`, one line per problem naming the field; [] when valid.

    Args:
        document: the record or manifest (dicts, lists and scalars).
        schema: "cell", "manifest" or "history".
    """
    errors = sorted(_validator(schema).iter_errors(document), key=_sort_key)
    found = list(dict.fromkeys(_describe(error) for error in errors))
    found += _non_json(document)
    if len(found) > MAX_PROBLEMS:
        found = [*found[:MAX_PROBLEMS], f"... and {len(found) - MAX_PROBLEMS} more"]
    return found


def loads_strict(text: str) -> Any:
    """`json.loads` that refuses NaN and Infinity, which are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    return json.loads(text, parse_constant=refuse)


def field_name(path: Iterator[Any] | Any) -> str:
    """`metrics.image_auroc.value` / `scores[3].label` from a jsonschema path; `(top level)`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


@cache
def _validator(schema: SchemaName) -> Draft202012Validator:
    text = resources.files("evalsuite.schemas").joinpath(f"{schema}.schema.json").read_text()
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(text), format_checker=_formats())


def _formats() -> FormatChecker:
    """Only the formats the schemas use, checked the same way whatever is installed."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("it has no UTC offset")
        return True

    return checker


def _describe(error: ValidationError) -> str:
    """One line: the field at fault and what is wrong with it."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [key for key in error.validator_value if key not in error.instance]
        return "; ".join(f"field `{field_name([*path, key])}` is missing" for key in missing)
    message = error.message
    if error.validator == "format" and error.cause is not None:
        message += f" ({error.cause})"
    leaf = isinstance(error.schema, dict) and "properties" not in error.schema
    if leaf and error.schema.get("description"):
        message += f" ({error.schema['description']})"
    return f"field `{field_name(path)}`: {message}"


def _sort_key(error: ValidationError) -> tuple[list[str], str]:
    return [str(part) for part in error.absolute_path], error.message


def _non_json(value: Any, path: tuple[Any, ...] = ()) -> Iterator[str]:
    """A problem line for every value inside `value` that JSON cannot hold exactly: NaN,
    infinities, and types other than dict (str keys), list, tuple, str, int, float, bool, None
    (e.g. numpy scalars, which the schema's type checks may also flag)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield f"field `{field_name(path)}`: {value!r} is not a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield f"field `{field_name(path)}`: key {key!r} is not a string"
            yield from _non_json(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _non_json(item, (*path, index))
    elif not isinstance(value, str | int | float | type(None)):
        kind = type(value).__name__
        yield f"field `{field_name(path)}`: {value!r} ({kind}) is not a JSON value; convert it"
