"""The files of an MVTec-layout tree the reader does not read, and why: counted and reported,
so that a tree's image count never drops without a word.

The reader takes the regular files (or links to them) with an image suffix (`IMAGE_SUFFIXES`)
inside `<category>/<train|test>/<defect>/`. Everything else there is skipped, with its reason:
an unsupported suffix (`.webp`, `.gif`, `.txt`, ...), a dangling link, something that is not a
regular file (a FIFO, socket or device) or cannot be examined, a folder inside a defect folder,
or a file directly in `train/` or `test/` (outside any defect folder); in a VisA tree, an image
of `Data/Images/` that no row of the split file names. Skipped files are
warnings, not problems: a tree may well hold a README or a `.DS_Store`; `evalsuite data check`
and `evalsuite run` report them (how many, why, which) and carry on.
"""

from __future__ import annotations

import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""The suffixes (lower case) of the files the reader reads as images."""
Reason = Literal[
    "suffix", "dangling link", "not a regular file", "unreadable", "folder", "outside", "unlisted"
]
NAMED = 3
"""How many skipped files the one-line summary names (`data check` lists them all)."""


@dataclass(frozen=True)
class SkippedFile:
    """A file of a tree the reader did not read.

    Attributes:
        path: the file (or link, or folder).
        reason: why (see `Reason`).
    """

    path: Path
    reason: Reason

    def text(self) -> str:
        """e.g. `<path>: unsupported suffix .webp`."""
        return f"{self.path}: {_reason_text(self.reason, self.path)}"


def _suffix(path: Path) -> str:
    return path.suffix.lower() or "(none)"


def _reason_text(reason: Reason, path: Path, number: int = 1) -> str:
    """How a reason reads for `number` skipped files (`path`: one of them)."""
    plural = "s" if number > 1 else ""
    return {
        "suffix": f"unsupported suffix {_suffix(path)}",
        "dangling link": f"dangling link{plural}",
        "not a regular file": "not a regular file (a FIFO, socket or device)",
        "unreadable": "could not be examined (permission denied?)",
        "folder": f"folder{plural} inside a defect folder",
        "outside": "outside a defect folder (directly in train/ or test/)",
        "unlisted": "not named by the split file (VisA's split_csv/1cls.csv)",
    }[reason]


def skip_reason(path: Path) -> Reason | None:
    """Why the reader skips `path`, an entry of a defect folder; None when it reads it."""
    try:
        mode = path.stat().st_mode  # follows links: a link to an image is read
    except OSError:  # a link to nothing (or to itself), or a file that cannot be examined
        return "dangling link" if path.is_symlink() else "unreadable"
    if stat.S_ISDIR(mode):
        return "folder"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None if path.suffix.lower() in IMAGE_SUFFIXES else "suffix"


def summary(root: Path, skipped: Sequence[SkippedFile]) -> str | None:
    """One line: how many files of the tree at `root` were skipped, why, and the first few;
    None when none was.

    e.g. `skipped 3 files in data (2 with an unsupported suffix .gif/.webp, 1 dangling link):
    data/a/test/good/x.webp, ...; the reader reads .png/.jpg/... files in
    <category>/<train|test>/<defect>/: convert them, or remove them to silence this`.
    """
    if not skipped:
        return None
    ordered = sorted(skipped, key=lambda s: str(s.path))
    tally = Counter(s.reason for s in ordered)
    parts = []
    for reason, number in sorted(tally.items(), key=lambda item: (-item[1], item[0])):
        if reason == "suffix":
            suffixes = sorted({_suffix(s.path) for s in ordered if s.reason == "suffix"})
            parts.append(f"{number} with an unsupported suffix {'/'.join(suffixes)}")
        else:
            parts.append(f"{number} {_reason_text(reason, ordered[0].path, number)}")
    named = ", ".join(str(s.path) for s in ordered[:NAMED])
    more = f" and {len(ordered) - NAMED} more" if len(ordered) > NAMED else ""
    files = "file" if len(ordered) == 1 else "files"
    return (
        f"skipped {len(ordered)} {files} in {root} ({', '.join(parts)}): {named}{more}; "
        f"the reader reads {'/'.join(IMAGE_SUFFIXES)} files in "
        "<category>/<train|test>/<defect>/: convert or move them to be read, or remove them "
        f"(`evalsuite data check {root}` lists them all)"
    )
