"""Heatmap galleries: the strips the runner wrote for each cell (image | anomaly-map overlay |
ground truth | thresholded map, the last two only where they exist) for its top-scoring
defects, hardest normals and misses.

The PNGs go into the site under the same relative path they have in the results folder
(`artifacts/...`), their overlays recoloured on the category's shared scale (`heatmaps`); a
strip whose file is absent is shown as missing, not as a broken image.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite import regular
from evalsuite.site.read.records import Artifact, Cell, Results
from evalsuite.site.views.explorer import has_explorer, image_link
from evalsuite.site.views.heatmaps import ColorScale, Recoloured

KIND_TITLES = (
    ("top_defect", "top-scoring defects"),
    ("hardest_normal", "hardest normals"),
    ("miss", "misses (defects below the image threshold)"),
)
NO_MISSES = "no misses: every defective test image scored at or above the image threshold"
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Strip:
    """One strip as shown.

    Attributes:
        sample: the test image's id.
        path: the PNG's path relative to the site root ("" when the file is absent).
        score: its image score as text ("" when unknown).
        width, height: the PNG's size in pixels (0 when absent).
        link: the image's row in its cell's explorer, from the site's root ("" without one).
    """

    sample: str
    path: str
    score: str
    width: int
    height: int
    link: str = ""


@dataclass(frozen=True)
class StripGroup:
    """The strips of one kind (top_defect, hardest_normal or miss) of a cell."""

    kind: str
    title: str
    strips: tuple[Strip, ...]


@dataclass(frozen=True)
class StripView:
    """A cell's strips as a page shows them.

    Attributes:
        groups: the strips by kind; a miss group without strips says there is no miss.
        panels: what each strip shows, left to right (only the panels that exist).
        scale: the colour scale of the overlays, shared by the category's cells (None: the
            strips use their own cell's scale, which the results do not record).
    """

    groups: tuple[StripGroup, ...]
    panels: tuple[str, ...]
    scale: ColorScale | None

    @property
    def count(self) -> int:
        """The number of strips."""
        return sum(len(g.strips) for g in self.groups)


@dataclass(frozen=True)
class GallerySection:
    """One cell's strips on a gallery page."""

    cell: Cell
    view: StripView


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
        return sum(s.view.count for s in self.sections)


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's header; None when the file is absent or not a PNG.

    Raises:
        ResultsError: the path is a link, a FIFO or a device (see `evalsuite.regular`).
    """
    try:
        with regular.open_file(path, regular.ARTIFACT, "heatmap strip") as stream:
            head = stream.read(24)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(_PNG) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def strip_groups(cell: Cell, results_dir: Path) -> tuple[StripGroup, ...]:
    """A cell's strips by kind, in the kinds' order (kinds without strips left out, except the
    misses of a finished cell with strips and defective test images: "no misses")."""
    groups = []
    for kind, title in KIND_TITLES:
        strips = tuple(_strip(a, results_dir, cell) for a in cell.artifacts if a.kind == kind)
        if strips:
            groups.append(StripGroup(kind, title, strips))
        elif kind == "miss" and cell.artifacts and _has_defects(cell):
            groups.append(StripGroup(kind, NO_MISSES, ()))
    return tuple(groups)


def panels(cell: Cell) -> tuple[str, ...]:
    """The panels of a cell's strips: ground truth and thresholded map only where the data has
    masks (then a pixel threshold was chosen on val)."""
    threshold = cell.record.get("threshold") or {}
    if threshold.get("pixel") is None:
        return ("image", "anomaly-map overlay")
    return (
        "image",
        "anomaly-map overlay",
        "ground truth",
        "map thresholded at the pixel threshold",
    )


def strip_view(cell: Cell, results_dir: Path, recoloured: Recoloured) -> StripView:
    """What a page shows of a cell's strips."""
    groups = strip_groups(cell, results_dir)
    scale = recoloured.scale_of(cell) if groups else None
    return StripView(groups, panels(cell), scale)


def _has_defects(cell: Cell) -> bool:
    return cell.ok and any(s["label"] for s in cell.record.get("scores") or ())


def _strip(artifact: Artifact, results_dir: Path, cell: Cell) -> Strip:
    size = png_size(results_dir / artifact.path)
    score = "" if artifact.score is None else f"{artifact.score:.4g}"
    link = image_link(cell, artifact.sample) if has_explorer(cell) else ""
    if size is None:
        return Strip(artifact.sample, "", score, 0, 0, link)
    return Strip(artifact.sample, artifact.path, score, *size, link)


def gallery_pages(
    results: Results, labels: Sequence[str], scopes: Sequence[str], recoloured: Recoloured
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
            sections = tuple(
                GallerySection(c, strip_view(c, results.source, recoloured)) for c in cells
            )
            if sections:
                pages.append(GalleryPage(label, scope, f"gallery/{label}--{scope}.html", sections))
    return pages


def artifact_files(results: Results) -> list[str]:
    """Every artifact path of every cell whose file exists, sorted (what the site copies,
    unless it recoloured it)."""
    paths = {a.path for cell in results.cells for a in cell.artifacts}
    return sorted(p for p in paths if (results.source / p).is_file())
