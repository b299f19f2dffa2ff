"""What the layout readers share: the tree's markers, the category choice, the finished report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalsuite.data.samples import Dataset, Layout, Sample
from evalsuite.data.skipped import SkippedFile
from evalsuite.data.synthetic.writer import SYNTHETIC_MARKER
from evalsuite.data.tree_parts import SHIFT_MARKER, CheckReport, name_clashes, read_marker_file
from evalsuite.errors import DatasetError


class Markers:
    """The marker files at a tree's root: synthetic (the generator's), shift (MVTec-Shift's or
    a corruption's, without its per-image parameters) and the ids the shift relabelled."""

    def __init__(self, root: Path) -> None:
        self.synthetic = read_marker_file(root / SYNTHETIC_MARKER)
        shift = read_marker_file(root / SHIFT_MARKER)
        relabelled = shift.get("relabelled", {}) if shift else {}
        self.relabelled: dict[str, str] = dict(relabelled) if isinstance(relabelled, dict) else {}
        self.shift = {k: v for k, v in shift.items() if k != "images"} if shift else None
        source = shift.get("source") if shift else None
        self.source = Path(source) if isinstance(source, str) else None
        """The tree a shifted copy was written from (its own files are not all copied)."""


def chosen(root: Path, found: Sequence[str], categories: Sequence[str] | None) -> list[str]:
    """The categories to read: `categories` (each must be among `found`), else all found.

    Raises:
        DatasetError: a category the tree lacks, listing those it holds.
    """
    if categories is None:
        return sorted(found)
    missing = [name for name in categories if name not in found]
    if missing:
        raise DatasetError(
            f"{root}: unknown categor{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}; "
            f"this tree holds: {', '.join(sorted(found)) or 'none'}"
        )
    return list(categories)


def finish(
    root: Path,
    layout: Layout,
    markers: Markers,
    samples: list[Sample],
    categories: Sequence[str],
    skipped: list[SkippedFile],
    problems: list[str],
) -> CheckReport:
    """The report of a read tree: its `Dataset` (samples sorted by id) and every problem, with
    the images that would share a sample id or file name added."""
    problems.extend(name_clashes(samples))
    dataset = Dataset(
        root=root,
        samples=tuple(sorted(samples, key=lambda s: s.id)),
        categories=tuple(categories),
        has_masks=any(s.mask_path is not None for s in samples),
        synthetic=markers.synthetic,
        shift=markers.shift,
        skipped=tuple(sorted(skipped, key=lambda s: str(s.path))),
        layout=layout,
    )
    return CheckReport(dataset, problems)
