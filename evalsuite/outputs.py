"""A command writes only inside its own outputs: the one rule, checked before any work.

Every command that writes calls `check_places` with what it writes and what it reads: an
output inside one of its inputs, an input inside one of its outputs, or two outputs inside
each other are refused (paths compared resolved, so a link counts by its target), exit 2,
naming both paths. A single output file that exists (a `diff --json` file, a `--bundle` zip) is
replaced only when it is recognisably this command's own earlier output or the user passed
`--force` (`check_replaceable`). Staging folders of a process that died without unwinding (kill
-9) are removed by the next command that writes the same place (`remove_dead_staging`),
exactly those and nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from evalsuite.errors import ConfigError, OutputError

log = logging.getLogger(__name__)

Place = tuple[str, Path | None]
"""What a path is to the command (an option or key, e.g. "--out", "data.root") and the path;
None for an option not given."""

MAX_OWN_BYTES = 256 << 20
"""The largest file read to decide whether it is a command's own earlier output."""
MAX_PID = 1 << 22
"""Linux's largest process id (`pid_max` at most 2**22)."""
_STAGING = re.compile(r"\.(?P<name>.+)\.staging-(?P<pid>\d{1,7})-[0-9a-f]{8}")
"""`.<out name>.staging-<pid>-<8 hex>`: a staging folder beside an output (`owned._staging`,
`data.tree.staged_tree`)."""
_INNER_STAGING = re.compile(r"\.evalsuite-staging-(?P<pid>\d{1,7})-[0-9a-f]{8}")
"""`.evalsuite-staging-<pid>-<8 hex>`: a staging folder inside an output that cannot be swapped
by renames (`owned._staging`)."""


def check_places(outputs: Sequence[Place], inputs: Sequence[Place] = ()) -> None:
    """Refuse outputs that overlap inputs or each other, before any work.

    Args:
        outputs: what the command writes (folders or files).
        inputs: what it reads (folders or files).

    Raises:
        OutputError: an output is, or lies inside, an input; an input lies inside an output; or
            one output lies inside another. One line naming both paths and what to do.
    """
    written = [(what, path) for what, path in outputs if path is not None]
    read = [(what, path) for what, path in inputs if path is not None]
    for index, (what, path) in enumerate(written):
        for other, other_path in read:
            _refuse_overlap(what, path, other, other_path, "an input")
        for other, other_path in written[index + 1 :]:
            _refuse_overlap(what, path, other, other_path, "another output")


def _refuse_overlap(what: str, path: Path, other: str, other_path: Path, kind: str) -> None:
    """Raise when the output `path` and `other_path` are the same or nested."""
    mine, theirs = real_path(path), real_path(other_path)
    named = f"{what} {path}{_via(path, mine)}"
    other_named = f"{other} {other_path}{_via(other_path, theirs)}"
    if mine == theirs:
        raise OutputError(
            f"{named} is also {other_named} ({kind}); give the output a path of its own"
        )
    if mine.is_relative_to(theirs):
        raise OutputError(
            f"{named} lies inside {other_named} ({kind}), which it would change; give the "
            f"output a path outside {other_path}"
        )
    if theirs.is_relative_to(mine):
        raise OutputError(
            f"{other_named} ({kind}) lies inside {named}, which this command writes; give the "
            f"output a path that holds none of its inputs"
        )


def real_path(path: Path) -> Path:
    """`path` absolute, with every link resolved (as far as it exists)."""
    return Path(os.path.realpath(os.path.abspath(path)))


def _via(path: Path, real: Path) -> str:
    return "" if Path(os.path.abspath(path)) == real else f" (a link to {real})"


def check_replaceable(
    path: Path,
    option: str,
    ours: Callable[[Path], bool],
    what: str,
    force: bool | None = None,
) -> None:
    """Refuse to replace an existing `path` the command did not write.

    Args:
        path: the output file.
        option: its option, for messages, e.g. "--json".
        ours: whether an existing regular file is this command's own earlier output (it is
            given regular files only, so it never blocks on a FIFO).
        what: what the command writes there, for messages, e.g. "an evalsuite diff JSON".
        force: replace any existing file but a folder (the user passed `--force`); None when
            the command has no such option (then the message does not offer it).

    Raises:
        OutputError: `path` is a folder, or exists and is not `ours` (without `force`).
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # absent, or an unusable parent: then the write fails, naming it (exit 3)
        return
    if stat.S_ISDIR(mode):
        raise OutputError(f"{option} {path} is a folder; give a file name")
    if force or (stat.S_ISREG(mode) and ours(path)):
        return
    kind = "a file" if stat.S_ISREG(mode) else "a link or special file"
    offer = "" if force is None else ", or pass --force to replace it"
    raise OutputError(
        f"{option} {path} exists and is {kind}, not {what}; it is not replaced: delete it or "
        f"choose another file{offer}"
    )


def json_with_schema(prefix: str) -> Callable[[Path], bool]:
    """A test for `check_replaceable`: the file is a JSON object (of at most `MAX_OWN_BYTES`)
    whose `schema` starts with `prefix`, e.g. "evalsuite.diff/"."""

    def test(path: Path) -> bool:
        try:
            with _open_regular(path, MAX_OWN_BYTES) as stream:
                data = json.loads(stream.read())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return False
        return isinstance(data, dict) and str(data.get("schema", "")).startswith(prefix)

    return test


def zip_with_comment(mark: bytes) -> Callable[[Path], bool]:
    """A test for `check_replaceable`: the file is a zip archive whose comment is `mark` (read
    from the archive's end record; the members are not read)."""

    def test(path: Path) -> bool:
        try:
            with _open_regular(path, None) as stream, zipfile.ZipFile(stream) as archive:
                return archive.comment == mark
        except (OSError, zipfile.BadZipFile, ValueError, EOFError):
            return False

    return test


def _open_regular(path: Path, limit: int | None) -> BinaryIO:
    """`path` opened for binary reading when it is a regular file (of at most `limit` bytes):
    a link is not followed and a FIFO does not block.

    Raises:
        OSError: it is not.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or (limit is not None and info.st_size > limit):
            raise OSError(f"{path} is not a regular file of at most {limit} bytes")
    except BaseException:
        os.close(handle)
        raise
    return os.fdopen(handle, "rb")


def remove_dead_staging(parent: Path, name: str | None = None) -> int:
    """Remove the staging folders of dead processes: beside an output and inside it.

    Args:
        parent: the folder holding the output(s).
        name: the output's name: its `.<name>.staging-<pid>-<tag>` folders in `parent` and the
            `.evalsuite-staging-<pid>-<tag>` folders in `parent/<name>` are removed; None: every
            `.<any name>.staging-<pid>-<tag>` folder in `parent` (a cache folder evalsuite owns).

    Returns:
        the number of folders removed. Only real folders (not links) whose process id names no
        running process of this machine are removed; nothing else is touched.
    """
    candidates: list[tuple[Path, int]] = []
    for entry in _entries(parent):
        match = _STAGING.fullmatch(entry.name)
        if match and (name is None or match["name"] == name):
            candidates.append((entry, int(match["pid"])))
    if name is not None:
        for entry in _entries(parent / name):
            match = _INNER_STAGING.fullmatch(entry.name)
            if match:
                candidates.append((entry, int(match["pid"])))
    removed = 0
    for entry, pid in candidates:
        if entry.is_dir() and not entry.is_symlink() and not running(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed += not entry.exists()
    if removed:
        log.warning("removed %d staging folder(s) left in %s by a killed command", removed, parent)
    return removed


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
    except OSError:
        return []


def running(pid: int) -> bool:
    """Whether `pid` may be a running process (unknown counts as running)."""
    if pid <= 0 or pid > MAX_PID:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process
        return True
    return True


def cache_from_environment(variable: str, default: Path) -> Path:
    """The folder named by the environment variable `variable`, else `default`.

    Raises:
        ConfigError: the variable is set but empty (it would put the cache in the working
            directory).
    """
    value = os.environ.get(variable)
    if value is None:
        return default
    if not value.strip():
        raise ConfigError(
            f"{variable} is set but empty; unset it (the default is {default}) or set it to a "
            "folder, or pass --cache"
        )
    return Path(value)
