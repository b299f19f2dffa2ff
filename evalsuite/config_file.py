"""Reading a study configuration file (TOML or YAML) within bounds.

A file is read only when it is a regular file of at most `MAX_CONFIG_BYTES` (checked unread by
`evalsuite.regular`, so a FIFO or device never blocks); YAML aliases
(`*name`) are refused, so a few hundred bytes cannot expand into gigabytes ("billion laughs"),
and nesting deeper than the parsers can follow is refused too. A key given twice in one mapping
is refused in both formats (neither value silently wins), naming the key and its line. YAML
reads `1e-3` as a number, as TOML and YAML 1.2 do (YAML 1.1 reads it as a string). Every refusal
is a `ConfigError` naming the file and the fix.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from evalsuite import regular
from evalsuite.errors import ConfigError

MAX_DEPTH = 32
"""Nesting depth of a configuration (a study needs 4)."""


class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses every alias (and so every anchor's reuse), nesting
    deeper than `MAX_DEPTH` and a key given twice in one mapping."""

    depth = 0

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        """The mapping of `node`, after checking that no key occurs twice in it."""
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    earlier = first.get(key)
                except TypeError:  # not hashable: the constructor refuses it below
                    continue
                if earlier is not None:
                    raise ConfigError(
                        f"line {line}: key {key!r} is given twice in one mapping (first on "
                        f"line {earlier}); keep one of them"
                    )
                first[key] = line
        return super().construct_mapping(node, deep)

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose the next node, refusing an alias event before it is expanded."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                "allowed; write the value out in full"
            )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RecursionError(f"deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)  # `1e-3`, a float in YAML 1.2 and TOML (YAML 1.1 needs a dot); PyYAML's float reads it


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping held by the TOML (`.toml`) or YAML (any other suffix) file `path`.

    Raises:
        ConfigError: missing, not a regular file, larger than 1 MiB, unreadable, YAML aliases,
            nested too deeply, or not a mapping; the message names `path`.
    """
    text = _read_text(path)
    try:
        content = tomllib.loads(text) if path.suffix == ".toml" else _load_yaml(text)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
    except RecursionError as error:
        raise ConfigError(
            f"{path}: the configuration is nested too deeply (a study needs a few levels)"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {_toml_problem(text, error)}") from error
    except (ValueError, yaml.YAMLError) as error:
        problem = " ".join(str(error).split())  # one line
        raise ConfigError(f"{path}: unreadable configuration ({problem})") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys to values")
    return content


def _toml_problem(text: str, error: tomllib.TOMLDecodeError) -> str:
    """What is wrong with a TOML text: a key given twice is named (tomllib says only "Cannot
    overwrite a value"), anything else is tomllib's message with its line."""
    found = re.search(r"Cannot overwrite a value \(at line (\d+), column (\d+)", str(error))
    lines = text.splitlines()
    if found is None or not 0 < int(found.group(1)) <= len(lines):
        return f"unreadable configuration ({error})"
    number, column = int(found.group(1)), int(found.group(2))
    line = lines[number - 1].strip()
    keys = re.findall(r"([^{},=\[\]]+)=", lines[number - 1][: column - 1])  # the last is it
    key = line.strip("[] ") if line.startswith("[") or not keys else keys[-1].strip()
    return f"line {number}: key {key!r} is already defined (a key is given once); keep one"


def _load_yaml(text: str) -> Any:
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    """The file's text, after checking (unread) that it is a regular file within the limit."""
    try:
        return regular.read_text(path, regular.CONFIG, "configuration file")
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: configuration file not found") from error
    except OSError as error:
        raise ConfigError(f"{path}: unreadable configuration ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: unreadable configuration ({error})") from error
