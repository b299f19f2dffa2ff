"""`--anonymous`: the records as the site sees them, without what names the machine or the
people who ran the study (double-blind supplementary material).

The site is a pure function of the records, so anonymising the records anonymises every page,
CSV, figure and shipped record: in every string of the manifest, the cell records and the split
files, an absolute path becomes `<path>/<its last part>`, and the build machine's home folder,
user name and host name (whole words) become `<home>`, `<user>`, `<host>`; the git commit is
dropped (a commit hash finds a public repository). evalsuite records no git remote. `leaks`
then checks the built files, so a leak is an error, not a silent miss.
"""

from __future__ import annotations

import getpass
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite.errors import EvalsuiteError
from evalsuite.site.records import Results, cell_from_record

_ABSOLUTE = re.compile(
    r"(?<![\w.~-])(?:file://|[A-Za-z]:[\\/]|\\\\|/(?=[^\s/]))[^\s\"'<>;,()\[\]]*"
)
ASSETS = "assets/"
"""The site's assets (vendored chart libraries, CSS, JS) are the same bytes on every machine:
not scanned (`:root` in CSS is no user name)."""
TEXT_SUFFIXES = (".html", ".csv", ".json", ".svg", ".tex", ".txt", ".js", ".css")


@dataclass(frozen=True)
class Identity:
    """What names the build machine.

    Attributes:
        paths: absolute paths to remove wherever they appear (the results folder, the home
            folder), longest first.
        words: the user and host names, removed as whole words.
    """

    paths: tuple[str, ...]
    words: tuple[tuple[str, str], ...]


def machine_identity(results_dir: Path) -> Identity:
    """The identity of this machine and of the results folder `results_dir`."""
    paths = {str(results_dir.resolve()), str(Path.home())}
    words = [(getpass.getuser(), "<user>"), (socket.gethostname(), "<host>")]
    short = socket.gethostname().split(".")[0]
    words.append((short, "<host>"))
    return Identity(
        paths=tuple(sorted((p for p in paths if p not in ("", "/")), key=len, reverse=True)),
        words=tuple((w, tag) for w, tag in dict(words).items() if w),
    )


def _word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])")


def scrub_text(text: str, identity: Identity) -> str:
    """`text` without absolute paths, the home folder, the user and the host name."""
    text = _ABSOLUTE.sub(_last_part, text)
    for path in identity.paths:
        text = text.replace(path, "<path>")
    for word, tag in identity.words:
        text = _word(word).sub(tag, text)
    return text


def _last_part(match: re.Match[str]) -> str:
    parts = [p for p in re.split(r"[\\/]+", match.group(0)) if p and p != "file:"]
    return "<path>/" + parts[-1] if parts else "<path>"


def scrub(value: Any, identity: Identity) -> Any:
    """A copy of JSON-like `value` with every string value scrubbed (keys are the schema's
    names, categories and sample ids: a user named `root` must not rename `dataset.root`)."""
    if isinstance(value, str):
        return scrub_text(value, identity)
    if isinstance(value, Mapping):
        return {k: scrub(v, identity) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, identity) for item in value]
    return value


def anonymise(results: Results, identity: Identity) -> Results:
    """`results` with every record, the manifest and the split files scrubbed, and no git
    commit."""
    manifest = results.manifest
    if manifest is not None:
        manifest = {**scrub(manifest, identity), "git_commit": None}
    cells = []
    for cell in results.cells:
        record = scrub(cell.record, identity)
        record["provenance"]["git_commit"] = None
        cells.append(cell_from_record(PurePosixPath(cell.relpath), record))
    splits = {path: scrub(content, identity) for path, content in results.splits.items()}
    return replace(results, manifest=manifest, cells=tuple(cells), splits=splits)


def leaks(files: Mapping[str, bytes], identity: Identity) -> list[str]:
    """`<file>: <path>` for each text file (not an asset) that still holds the results folder's
    or the home folder's path. User and host names are not searched here: a short name is often
    a word of the page text; every string that came from the records has been scrubbed."""
    found = []
    for path, content in sorted(files.items()):
        if path.startswith(ASSETS) or not path.endswith(TEXT_SUFFIXES):
            continue
        text = content.decode("utf-8", errors="replace")
        found += [f"{path}: {needle}" for needle in identity.paths if needle in text]
    return found


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
