"""`--anonymous`: the records as the site sees them, without what names the machine or the
people who ran the study (double-blind supplementary material).

The site is a pure function of the records, so anonymising the records anonymises every page,
CSV, figure and shipped record. Anonymisation goes by the records' structure, never by
substring: it rewrites only the values of the fields that can name the machine (`FIELDS`):

- path fields (the data root, weight files, the weights each detector used) become
  `<path>/<last part>` (the last part with the user and host names as `<user>`, `<host>`);
- free-text fields (error messages) lose their absolute paths (`<path>/<last part>`), the
  results and home folders (`<path>`), and the user and host names as whole words;
- the git commit is dropped (a commit hash finds a public repository); evalsuite records no
  git remote.

Everything else is kept byte for byte: sample ids, cell paths, artifact paths, categories,
labels, defect names and split files are ids, and a user named `zipper` or a host named `seed`
must not rename the `zipper` category (which would lose every heatmap strip of it). A study
without a manifest (a shard, an interrupted run) is named from its configuration's `name`,
which its records carry; older records without it are called `ANONYMOUS_STUDY`, never after
the results folder. `evalsuite.site.build.leaks` then checks the built files.
"""

from __future__ import annotations

import copy
import getpass
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from evalsuite.site.read.records import Results, cell_from_record

ABSOLUTE = re.compile(
    r"(?<![\w.~-])(?:file://|[A-Za-z]:[\\/]|\\\\|~[\w.-]*[\\/]|/(?=[^\s/]))[^\s\"'<>;,()\[\]]*"
)
ASSETS = "assets/"
"""The site's assets (vendored chart libraries, CSS, JS) are the same bytes on every machine:
not scanned (`:root` in CSS is no user name)."""
TEXT_SUFFIXES = (".html", ".csv", ".json", ".svg", ".tex", ".txt", ".js", ".css")
ANONYMOUS_STUDY = "anonymous study"
"""The name of an anonymous study whose records do not say its name (no manifest, and records
written before they carried `provenance.study`)."""

Kind = Literal["path", "text", "drop"]
Field = tuple[tuple[str, ...], Kind]
"""A key path into a record (`*`: every item of a list or value of an object) and what the
field holds: a path, free text, or something dropped whole (the git commit)."""
MANIFEST_FIELDS: tuple[Field, ...] = (
    (("git_commit",), "drop"),
    (("dataset", "root"), "path"),
    (("weights", "*", "path"), "path"),
    (("config", "data", "root"), "path"),
    (("config", "detectors", "*", "backbone", "weights_file"), "path"),
    (("failed", "*", "error"), "text"),
)
"""The manifest's identifying fields (see `manifest.schema.json`)."""
CELL_FIELDS: tuple[Field, ...] = (
    (("provenance", "git_commit"), "drop"),
    (("provenance", "weights", "path"), "path"),
    (("config", "detector", "backbone", "weights_file"), "path"),
    (("config", "fit", "backbone", "weights_file"), "path"),
    (("error", "message"), "text"),
)
"""A cell record's identifying fields (see `cell.schema.json` and `runner.records`)."""


@dataclass(frozen=True)
class Identity:
    """What names the build machine.

    Attributes:
        paths: absolute paths to remove wherever they appear (the results folder, the home
            folder), longest first.
        words: (name, tag) of the user and host names.
    """

    paths: tuple[str, ...]
    words: tuple[tuple[str, str], ...]


def machine_identity(results_dir: Path) -> Identity:
    """The identity of this machine and of the results folder `results_dir`."""
    paths = {str(results_dir.resolve()), str(Path.home())}
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name anywhere (a container's bare uid)
        user = ""
    words = [(user, "<user>"), (socket.gethostname(), "<host>")]
    short = socket.gethostname().split(".")[0]
    words.append((short, "<host>"))
    return Identity(
        paths=tuple(sorted((p for p in paths if p not in ("", "/")), key=len, reverse=True)),
        words=tuple((w, tag) for w, tag in dict(words).items() if w),
    )


def word_pattern(word: str) -> re.Pattern[str]:
    """`word` as a whole word: not inside a longer run of letters and digits, nor a tag
    (a user named `path` is not the `<path>` of a scrubbed path)."""
    return re.compile(rf"(?<![A-Za-z0-9<]){re.escape(word)}(?![A-Za-z0-9>])")


def _words(text: str, identity: Identity) -> str:
    for word, tag in identity.words:
        text = word_pattern(word).sub(tag, text)
    return text


def scrub_text(text: str, identity: Identity) -> str:
    """Free text without absolute paths, the home folder, the user and the host name."""
    text = ABSOLUTE.sub(lambda match: scrub_path(match.group(0), identity), text)
    for path in identity.paths:
        text = text.replace(path, "<path>")
    return _words(text, identity)


def scrub_path(path: str, identity: Identity) -> str:
    """A path field's value as `<path>/<its last part>` (`<path>` when it has none)."""
    parts = [p for p in re.split(r"[\\/]+", path) if p and p not in ("file:", "~")]
    return "<path>/" + _words(parts[-1], identity) if parts else "<path>"


def scrub_fields(
    record: dict[str, Any], fields: tuple[Field, ...], identity: Identity
) -> dict[str, Any]:
    """A copy of `record` with each identifying field in `fields` scrubbed; nothing else
    changes."""
    scrubbed = copy.deepcopy(record)
    for keys, kind in fields:
        for node, slot in _slots(scrubbed, keys):
            node[slot] = _scrub_value(node[slot], kind, identity)
    return scrubbed


def _scrub_value(value: Any, kind: Kind, identity: Identity) -> Any:
    if kind == "drop":
        return None
    if not isinstance(value, str):
        return value
    return scrub_path(value, identity) if kind == "path" else scrub_text(value, identity)


def _slots(node: Any, keys: tuple[str, ...]) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) of every value at key path `keys` under `node`."""
    key, rest = keys[0], keys[1:]
    if key == "*" and isinstance(node, list):
        slots: list[Any] = list(range(len(node)))
    elif key == "*" and isinstance(node, dict):
        slots = list(node)
    else:
        slots = [key] if isinstance(node, dict) and key in node else []
    for slot in slots:
        if rest:
            yield from _slots(node[slot], rest)
        else:
            yield node, slot


def field_values(record: Any, fields: tuple[Field, ...]) -> list[tuple[str, Kind, Any]]:
    """(dotted key, kind, value) of every identifying field present in `record`."""
    return [
        (".".join(keys), kind, node[slot])
        for keys, kind in fields
        for node, slot in _slots(record, keys)
    ]


def anonymise(results: Results, identity: Identity) -> Results:
    """`results` with the identifying fields of the manifest and of every record scrubbed
    (see the module), and a study name that is not the results folder's."""
    manifest = results.manifest
    if manifest is not None:
        manifest = scrub_fields(manifest, MANIFEST_FIELDS, identity)
    cells = tuple(
        cell_from_record(
            PurePosixPath(cell.relpath), scrub_fields(cell.record, CELL_FIELDS, identity)
        )
        for cell in results.cells
    )
    return replace(results, manifest=manifest, cells=cells, study=results.study or ANONYMOUS_STUDY)


def scrub_source(text: str, identity: Identity) -> str:
    """Source code without what names the machine, for the anonymous bundle's source archive.

    Code is no record: its paths (`/proc/cpuinfo`) and words (a user named `zipper`) are code,
    so only the forms in which `identity` identifies are rewritten, as `leaks` finds them: its
    absolute paths (`<path>`), a home folder (`/home/<user>`), `pytest-of-<user>`,
    `<user>@<host>` and a network path (`//<host>`).
    """
    for path in identity.paths:
        text = re.sub(rf"(?<![\w.~-]){re.escape(path)}(?![\w.~-])", "<path>", text)
    end = r"(?![\w.-])"
    for word, tag in identity.words:
        name = re.escape(word)
        if tag == "<user>":
            text = re.sub(rf"([\\/](?:home|Users)[\\/]){name}{end}", rf"\1{tag}", text)
            text = re.sub(rf"pytest-of-{name}{end}", f"pytest-of-{tag}", text)
            text = re.sub(rf"(?<![\w.-]){name}@", f"{tag}@", text)
        else:
            text = re.sub(rf"@{name}{end}", f"@{tag}", text)
            text = re.sub(rf"(?<![:/\\])(//|\\\\){name}{end}", rf"\1{tag}", text)
    return text
