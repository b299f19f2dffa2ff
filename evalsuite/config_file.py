"""Reading a study configuration file (TOML or YAML) within bounds.

A file is read only when it is a regular file of at most `MAX_CONFIG_BYTES` (checked unread by
`evalsuite.regular`, so a FIFO or device never blocks); YAML aliases
(`*name`) are refused, so a few hundred bytes cannot expand into gigabytes ("billion laughs"),
and nesting deeper than the parsers can follow is refused too. Every refusal is a `ConfigError`
naming the file and the fix.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from evalsuite import regular
from evalsuite.errors import ConfigError

MAX_DEPTH = 32
"""Nesting depth of a configuration (a study needs 4)."""


class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses every alias (and so every anchor's reuse) and nesting
    deeper than `MAX_DEPTH`."""

    depth = 0

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
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: unreadable configuration ({error})") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys to values")
    return content


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
