"""A study configuration as TOML text: what the bundle ships as `reproduce/study.toml`.

The manifest holds the resolved configuration as JSON (`StudyConfig.model_dump(mode="json")`);
written back as TOML it loads with `evalsuite config show --config` into the same
configuration. TOML has no null: a key whose value is null is left out, which gives it its
default; where that default is not null (a detector parameter such as PatchCore's
`target_dim`), the value is written as `"none"`, the spelling detector parameters take for it
(`runnable_toml` checks the reload). Tables follow the key-value pairs of their parent; a list
of tables becomes an array of tables (`[[detectors]]`).
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from evalsuite.config import StudyConfig

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def runnable_toml(config: Mapping[str, Any]) -> str:
    """The configuration `config` (a manifest's `config`) as TOML that reloads into it: a null
    that reloads as something else is written `"none"` instead of left out."""
    text = toml_text(config)
    try:
        reloaded = StudyConfig.model_validate(tomllib.loads(text)).model_dump(mode="json")
    except ValidationError:
        return text  # a configuration this evalsuite no longer reads: as written
    patched = copy.deepcopy(dict(config))
    for node, key in _lost_nulls(patched, reloaded):
        node[key] = "none"
    return toml_text(patched)


def _lost_nulls(wanted: Any, got: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every null in `wanted` that `got` holds as something else."""
    if isinstance(wanted, dict) and isinstance(got, dict):
        slots: list[Any] = list(wanted)
    elif isinstance(wanted, list) and isinstance(got, list) and len(wanted) == len(got):
        slots = list(range(len(wanted)))
    else:
        return
    for slot in slots:
        value = wanted[slot]
        other = got.get(slot) if isinstance(got, dict) else got[slot]
        if value is None and other is not None:
            yield wanted, slot
        else:
            yield from _lost_nulls(value, other)


def toml_text(config: Mapping[str, Any]) -> str:
    """`config` (JSON values: objects, arrays, strings, numbers, booleans, null) as TOML."""
    return "\n".join(_table(config, ())) + "\n"


def _key(name: str) -> str:
    return name if _BARE.fullmatch(name) else json.dumps(name)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(table: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[str]:
    """The lines of one table: its key-value pairs, then its sub-tables and arrays of tables."""
    nested = []
    for name, value in table.items():
        if value is None:
            continue
        if isinstance(value, dict) or _is_tables(value):
            nested.append((name, value))
        else:
            yield f"{_key(name)} = {_inline(value)}"
    for name, value in nested:
        path = (*prefix, name)
        header = ".".join(_key(part) for part in path)
        for item in value if isinstance(value, list) else [value]:
            yield ""
            yield f"[[{header}]]" if isinstance(value, list) else f"[{header}]"
            yield from _table(item, path)


def _inline(value: Any) -> str:
    """One value written inline (a string, number, boolean, array or inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_key(k)} = {_inline(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"{value!r} has no TOML form")
