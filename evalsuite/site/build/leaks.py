"""The check after an anonymous build: does any built file still name the machine?

`evalsuite.site.read.anonymise` scrubs the identifying fields of the records; this module checks the
built files, so that a path or name that reached a page some other way is an error, not a
silent miss. It is scoped so that it reports no false leaks: a user or host name is as often as
not an ordinary word (a user `zipper`, a host `seed`) that the ids legitimately hold.

- The results folder's and the home folder's absolute paths are searched in every text file
  (not the assets, which are the same bytes everywhere), as paths: not where they continue a
  longer path (`shift/root/...` is no home `/root`).
- The user and host names are searched in every text file only where they identify: as a home
  folder (`/home/<user>`, `/Users/<user>`), a pytest temporary folder (`pytest-of-<user>`),
  `<user>@<host>`, or a network path (`//<host>`, `\\\\<host>`).
- The shipped records (`downloads/records/`) are checked by structure: each identifying field
  (`anonymise.MANIFEST_FIELDS`, `CELL_FIELDS`) must hold a scrubbed value (no git commit, a path
  as `<path>/<last part>`, free text without absolute paths) with no user or host name in it,
  and no string value anywhere in them may be an absolute path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from evalsuite.errors import EvalsuiteError
from evalsuite.site.downloads.data_csv import RECORDS
from evalsuite.site.read.anonymise import (
    ABSOLUTE,
    ASSETS,
    CELL_FIELDS,
    MANIFEST_FIELDS,
    TEXT_SUFFIXES,
    Field,
    Identity,
    field_values,
    word_pattern,
)

_UNSCRUBBED = re.compile(r"(?<!<path>)" + ABSOLUTE.pattern)
_SCRUBBED_PATH = re.compile(r"<path>(/[^/\\]*)?")
_STARTSABSOLUTE = re.compile(r"(?:file://|[A-Za-z]:[\\/]|\\\\|~[\w.-]*[\\/]|/)")


def leaks(files: Mapping[str, bytes], identity: Identity) -> list[str]:
    """`<file>: <what>` for each way a text file (not an asset) still names the machine (see
    the module)."""
    found = []
    patterns = _patterns(identity)
    for path, content in sorted(files.items()):
        if path.startswith(ASSETS) or not path.endswith(TEXT_SUFFIXES):
            continue
        text = content.decode("utf-8", errors="replace")
        found += [f"{path}: {what}" for what, pattern in patterns if pattern.search(text)]
        fields = _fields_of(path)
        if fields is not None:
            found += [f"{path}: {what}" for what in _record_leaks(text, fields, identity)]
    return found


def _patterns(identity: Identity) -> list[tuple[str, re.Pattern[str]]]:
    """(what it names, pattern) for the paths and the addressing forms of the names."""
    found = [
        (path, re.compile(rf"(?<![\w.~-]){re.escape(path)}(?![\w.~-])")) for path in identity.paths
    ]
    users = [word for word, tag in identity.words if tag == "<user>"]
    hosts = [word for word, tag in identity.words if tag == "<host>"]
    end = r"(?![\w.-])"
    for user in users:
        name = re.escape(user)
        found += [
            (f"the home folder of {user}", re.compile(rf"[\\/](?:home|Users)[\\/]{name}{end}")),
            (f"pytest-of-{user}", re.compile(rf"pytest-of-{name}{end}")),
        ]
        found += [
            (f"{user}@{host}", re.compile(rf"(?<![\w.-]){name}@{re.escape(host)}{end}"))
            for host in hosts
        ]
    for host in hosts:
        network = rf"(?<![:/\\])(?://|\\\\){re.escape(host)}{end}"
        found.append((f"a network path of {host}", re.compile(network)))
    return found


def _fields_of(path: str) -> tuple[Field, ...] | None:
    """The identifying fields of a shipped record at site path `path`, None for other files."""
    if path == f"{RECORDS}/manifest.json":
        return MANIFEST_FIELDS
    if path.startswith(f"{RECORDS}/cells/") and path.endswith(".json"):
        return CELL_FIELDS
    if path.startswith(f"{RECORDS}/") and path.endswith(".json"):
        return ()
    return None


def _record_leaks(text: str, fields: tuple[Field, ...], identity: Identity) -> list[str]:
    """What a shipped record's identifying fields and path-like values still hold."""
    record = json.loads(text)
    found = [
        f"{key} = {value!r}" for key, value in _strings(record) if _STARTSABSOLUTE.match(value)
    ]
    words = [(word, word_pattern(word)) for word, _ in identity.words]
    for key, kind, value in field_values(record, fields):
        if value is None:
            continue
        if kind == "drop" or not isinstance(value, str):
            found.append(f"{key} = {value!r}")
            continue
        if kind == "path" and not _SCRUBBED_PATH.fullmatch(value):
            found.append(f"{key} = {value!r}")
        elif kind == "text" and _UNSCRUBBED.search(value):
            found.append(f"{key} holds a path")
        found += [f"{key} holds {word}" for word, pattern in words if pattern.search(value)]
    return sorted(set(found))


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, value) of every string value under `value`."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{key}[{index}]")


def check_no_leaks(files: Mapping[str, bytes], identity: Identity) -> None:
    """Raise when an anonymous build still names the machine.

    Raises:
        EvalsuiteError: listing the files and what they hold.
    """
    found = leaks(files, identity)
    if found:
        raise EvalsuiteError(
            "the anonymous build still names this machine in "
            + "; ".join(found[:5])
            + "; nothing was written: report this as an evalsuite bug, and build without "
            "--anonymous meanwhile"
        )
