"""Heatmap galleries: the strips the runner wrote for each cell (image | ground truth |
anomaly-map overlay | thresholded mask) for its top-scoring defects, hardest normals and misses.

The PNGs are copied into the site under the same relative path they have in the results folder
(`artifacts/...`); a strip whose file is absent is shown as missing, not as a broken image.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite.site.records import Artifact, Cell, Results

KIND_TITLES = (
    ("top_defect", "top-scoring defects"),
    ("hardest_normal", "hardest normals"),
    ("miss", "misses (defects below the threshold)"),
)
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Strip:
    """One strip as shown.

    Attributes:
        sample: the test image's id.
        path: the PNG's path relative to the site root ("" when the file is absent).
        score: its image score as text ("" when unknown).
        width, height: the PNG's size in pixels (0 when absent).
    """

    sample: str
    path: str
    score: str
    width: int
    height: int


@dataclass(frozen=True)
class StripGroup:
    """The strips of one kind (top_defect, hardest_normal or miss) of a cell."""

    kind: str
    title: str
    strips: tuple[Strip, ...]


@dataclass(frozen=True)
class GallerySection:
    """One cell's strips on a gallery page."""

    cell: Cell
    groups: tuple[StripGroup, ...]


@dataclass(frozen=True)
class GalleryPage:
    """The gallery of one detector and scope (baseline cells)."""

    label: str
    scope: str
    path: str
    sections: tuple[GallerySection, ...]

    @property
    def count(self) -> int:
        """The number of strips shown."""
        return sum(len(g.strips) for s in self.sections for g in s.groups)


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's header; None when the file is absent or not a PNG."""
    try:
        with path.open("rb") as stream:
            head = stream.read(24)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(_PNG) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def strip_groups(cell: Cell, results_dir: Path) -> tuple[StripGroup, ...]:
    """A cell's strips by kind, in the kinds' order (kinds without strips left out)."""
    groups = []
    for kind, title in KIND_TITLES:
        strips = tuple(_strip(a, results_dir) for a in cell.artifacts if a.kind == kind)
        if strips:
            groups.append(StripGroup(kind, title, strips))
    return tuple(groups)


def _strip(artifact: Artifact, results_dir: Path) -> Strip:
    size = png_size(results_dir / artifact.path)
    score = "" if artifact.score is None else f"{artifact.score:.4g}"
    if size is None:
        return Strip(artifact.sample, "", score, 0, 0)
    return Strip(artifact.sample, artifact.path, score, *size)


def gallery_pages(
    results: Results, labels: Sequence[str], scopes: Sequence[str]
) -> list[GalleryPage]:
    """One page per detector and scope holding every baseline cell with strips, by category,
    then condition/regime and seed."""
    pages = []
    for label in labels:
        for scope in scopes:
            cells = [
                cell
                for cell in results.cells
                if cell.key.group.label == label
                and cell.key.group.scope == scope
                and cell.key.group.sweep is None
                and cell.artifacts
            ]
            cells.sort(key=lambda cell: (cell.key.group.category, cell.key.order()))
            sections = tuple(GallerySection(c, strip_groups(c, results.source)) for c in cells)
            if sections:
                pages.append(GalleryPage(label, scope, f"gallery/{label}--{scope}.html", sections))
    return pages


def artifact_files(results: Results) -> list[str]:
    """Every artifact path of every cell whose file exists, sorted (what the site copies)."""
    paths = {a.path for cell in results.cells for a in cell.artifacts}
    return sorted(p for p in paths if (results.source / p).is_file())
