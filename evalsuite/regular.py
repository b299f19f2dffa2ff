"""Reading files safely: regular files of bounded size only, and no link inside a results folder.

Every file evalsuite reads from a results folder, shard or baseline (cell records, manifest,
split files, heatmap strips, raw maps, `evidence.npz`), every configuration file and every
weights file goes through `open_file` (or `read_bytes`, `read_text`, `sha256`):

- the path is checked with `lstat` (`stat` where a link may be followed, see `Rule.follow`)
  before it is opened, so a FIFO, socket or device is refused unopened: nothing blocks on a
  FIFO or reads `/dev/zero` for ever;
- it is opened with `O_NONBLOCK` (and `O_NOFOLLOW` where no link is followed), and the open
  file's `fstat` must be the regular file that was checked;
- its size must be within its kind's bound (`evalsuite.limits`), also while it is read;
- given the results folder it lies in (`root`), no folder between that and the file may be a
  link.

`walk_files` lists the regular files under a folder without ever descending into a linked
folder, and refuses any link, FIFO, socket or device it meets. Every refusal is the rule's
error class (exit 2 for a results folder or configuration, 3 for weights), one line naming the
path, what it is and what to do. A missing file is not refused here: `open_file` raises
`FileNotFoundError` (an `OSError`), which each caller turns into its own message.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from evalsuite.errors import ConfigError, EvalsuiteError, ResultsError, WeightsError
from evalsuite.limits import (
    MAX_ARTIFACT_BYTES,
    MAX_CONFIG_BYTES,
    MAX_RECORD_BYTES,
    MAX_WEIGHTS_BYTES,
)

CHUNK = 1 << 20
"""Bytes read at a time when hashing."""


@dataclass(frozen=True)
class Rule:
    """How one kind of file is read.

    Attributes:
        limit: its largest size, in bytes.
        error: the error class of every refusal.
        follow: follow a link at the path itself (a file the user names: a configuration,
            weights in a hub cache, whose snapshots are links); never inside a results folder.
        fix: what to do about a file that is not regular, ending the refusal's message.
        too_large: what to do about a file over the limit.
    """

    limit: int
    error: type[EvalsuiteError]
    follow: bool
    fix: str
    too_large: str


_NOT_OURS = (
    "a results folder holds only regular files and folders, never links, FIFOs or devices, "
    "and evalsuite follows none: replace it with the file itself or delete it"
)
RESULTS = Rule(
    MAX_RECORD_BYTES,
    ResultsError,
    False,
    _NOT_OURS,
    "evalsuite never writes one this large: delete it and rerun the command that wrote it",
)
"""The JSON files of a results folder: cell records, the manifest, split files."""
ARTIFACT = Rule(
    MAX_ARTIFACT_BYTES,
    ResultsError,
    False,
    _NOT_OURS,
    "evalsuite never writes one this large: delete it and rerun the cell with --force",
)
"""The files under a results folder's `artifacts/`: strips, raw maps, `evidence.npz`."""
CONFIG = Rule(
    MAX_CONFIG_BYTES,
    ConfigError,
    True,
    "give the path of a .toml or .yaml file",
    "a study needs a few hundred bytes",
)
"""A study configuration file."""
WEIGHTS = Rule(
    MAX_WEIGHTS_BYTES,
    WeightsError,
    True,
    "give the path of the .safetensors/.pth file",
    "give the path of a backbone's state dict",
)
"""A backbone weights file."""


def kind_of(mode: int) -> str | None:
    """What a file of mode `mode` is, in words ("a symlink", "a FIFO"...); None when regular."""
    if stat.S_ISREG(mode):
        return None
    for test, words in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def open_file(path: Path, rule: Rule, what: str, *, root: Path | None = None) -> BinaryIO:
    """`path` opened for reading (binary), once checked to be a regular file within the limit.

    Args:
        path: the file.
        rule: how this kind of file is read (`RESULTS`, `ARTIFACT`, `CONFIG`, `WEIGHTS`).
        what: what the file is, for messages, e.g. "cell file".
        root: the folder `path` lies in (a results folder): no folder between the two may be a
            link or anything but a folder.

    Raises:
        EvalsuiteError: of `rule.error`: a link (unless followed), a FIFO, socket, device or
            folder, a linked folder on the way from `root`, or more than `rule.limit` bytes.
        OSError: the file is missing (`FileNotFoundError`) or cannot be opened.
    """
    label = f"{what} {path}"
    if root is not None:
        _check_folders(path, root, rule)
    checked = path.stat() if rule.follow else path.lstat()
    _check(label, checked, rule)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not rule.follow:
        flags |= os.O_NOFOLLOW
    try:
        handle = os.open(path, flags)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link put there since
            raise rule.error(f"{label} is a symlink, not a regular file; {rule.fix}") from None
        raise
    try:
        opened = os.fstat(handle)
        _check(label, opened, rule)
        if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
            raise rule.error(f"{label} was replaced while being opened; run the command again")
        os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def read_bytes(path: Path, rule: Rule, what: str, *, root: Path | None = None) -> bytes:
    """The content of `path`, read as `open_file` opens it (same arguments and errors); a file
    that grows past the limit while read is refused too."""
    with open_file(path, rule, what, root=root) as stream:
        data = stream.read(rule.limit + 1)
    if len(data) > rule.limit:
        raise rule.error(f"{what} {path} grew beyond {_size(rule.limit)} while being read")
    return data


def read_text(path: Path, rule: Rule, what: str, *, root: Path | None = None) -> str:
    """The UTF-8 text of `path` (see `read_bytes`).

    Raises:
        UnicodeDecodeError: the file is not UTF-8 text; and those of `read_bytes`.
    """
    return read_bytes(path, rule, what, root=root).decode("utf-8")


def sha256(path: Path, rule: Rule, what: str) -> str:
    """Hex SHA-256 of `path`, read in 1 MiB chunks as `open_file` opens it (same errors)."""
    digest = hashlib.sha256()
    read = 0
    with open_file(path, rule, what) as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            read += len(chunk)
            if read > rule.limit:
                raise rule.error(f"{what} {path} grew beyond {_size(rule.limit)} while being read")
            digest.update(chunk)
    return digest.hexdigest()


def walk_files(folder: Path, rule: Rule) -> list[Path]:
    """Every regular file under `folder`, at any depth, sorted; [] when `folder` is absent.

    No linked folder is entered: a link anywhere under `folder` (or `folder` itself, or a
    FIFO, socket or device) is refused.

    Raises:
        EvalsuiteError: of `rule.error`, naming the first such entry.
    """
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(info.st_mode):
        raise rule.error(
            f"{folder} is {kind_of(info.st_mode) or 'a file'}, not a folder; {rule.fix}"
        )
    found: list[Path] = []
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    found.append(Path(entry.path))
                else:
                    kind = kind_of(entry.stat(follow_symlinks=False).st_mode)
                    raise rule.error(f"{entry.path} is {kind}, not a regular file; {rule.fix}")
    return sorted(found)


def _check(label: str, info: os.stat_result, rule: Rule) -> None:
    """Refuse what `info` describes unless it is a regular file within the limit."""
    kind = kind_of(info.st_mode)
    if kind is not None:
        raise rule.error(f"{label} is {kind}, not a regular file; {rule.fix}")
    if info.st_size > rule.limit:
        raise rule.error(
            f"{label} is {_size(info.st_size)}, larger than the limit of {_size(rule.limit)}; "
            f"{rule.too_large}"
        )


def _check_folders(path: Path, root: Path, rule: Rule) -> None:
    """Refuse a link (or anything but a folder) between `root` and `path`'s folder."""
    folder = root
    for part in path.relative_to(root).parts[:-1]:
        folder = folder / part
        mode = folder.lstat().st_mode
        if not stat.S_ISDIR(mode):
            raise rule.error(f"{folder} is {kind_of(mode) or 'a file'}, not a folder; {rule.fix}")


def _size(n: int) -> str:
    """A byte count in words: "64 MiB" when a whole number of units, else "67108865 bytes"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"
