"""Which layout a tree has, and reading it in that layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalsuite.data.layouts.mvtec_ad2 import read_ad2
from evalsuite.data.layouts.visa import VISA_SPLIT, read_visa
from evalsuite.data.samples import Layout
from evalsuite.data.tree_parts import CheckReport

AD2_MARKS = ("test_public",)
"""Folders only an MVTec AD 2 category holds."""


def detect_layout(root: Path) -> Layout:
    """The layout of the tree at `root`: `visa`, `mvtec_ad2`, or `mvtec` (also for a root that
    is missing or holds nothing recognisable: the MVTec reader then says what it expected)."""
    root = Path(root)
    if not root.is_dir():
        return "mvtec"
    if (root / VISA_SPLIT).is_file() or (root / "Data" / "Images").is_dir():
        return "visa"
    if any((root / mark).is_dir() for mark in AD2_MARKS):
        return "mvtec_ad2"  # a single category folder: the reader names it
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            continue
        if (child / "Data" / "Images").is_dir():
            return "visa"
        if any((child / mark).is_dir() for mark in AD2_MARKS):
            return "mvtec_ad2"
    return "mvtec"


def read_layout(root: Path, categories: Sequence[str] | None, layout: Layout) -> CheckReport:
    """Read the tree at `root` in `layout` (`mvtec_ad2` or `visa`): the dataset and every
    structural problem found (see `reader.CheckReport`).

    Raises:
        DatasetError: a missing root, category or split file (nothing could be read).
    """
    if layout == "mvtec_ad2":
        return read_ad2(root, categories)
    if layout == "visa":
        return read_visa(root, categories)
    raise ValueError(f"layout {layout!r} is read by evalsuite.data.reader")
