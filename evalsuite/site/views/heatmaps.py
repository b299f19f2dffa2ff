"""One colour scale per category: the site recolours the overlay panel of every heatmap strip.

The runner colours each strip on its own cell's scale and keeps the raw map beside it (see
`evalsuite.results.heatmap`). Here the strips of one detector, scope, category and
hyperparameter value — every condition, regime and seed — get one scale, the 1st to 99.9th
percentile of all their maps' values, so a colour means the same anomaly score on every strip
of the category, and each gallery section shows that scale as a colour bar. A strip without its
raw map (results written before maps were kept) is copied as it is and has no colour bar.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from evalsuite import regular
from evalsuite.results import heatmap
from evalsuite.site.read.records import Cell, Results

ScaleKey = tuple[str, str, str, tuple[str, str] | None]
"""(label, scope, category, sweep): the cells that share one scale."""
LOW_QUANTILE, HIGH_QUANTILE = 0.01, 0.999


@dataclass(frozen=True)
class ColorScale:
    """The scale of a category's overlays.

    Attributes:
        low, high: the map values at the colormap's two ends (anomaly scores).
        cells: how many cells' strips share it.
    """

    low: float
    high: float
    cells: int


def scale_key(cell: Cell) -> ScaleKey:
    """What a cell shares its colour scale with: everything but condition, regime and seed."""
    group = cell.key.group
    return (group.label, group.scope, group.category, group.sweep)


@dataclass(frozen=True)
class Recoloured:
    """The recoloured strips and the scales behind them.

    Attributes:
        files: site path -> PNG bytes of every strip recoloured.
        scales: the scale of each group of cells that has raw maps.
    """

    files: dict[str, bytes]
    scales: dict[ScaleKey, ColorScale]

    def scale_of(self, cell: Cell) -> ColorScale | None:
        """The scale a cell's strips are shown on (None: shown on their own cell's scale)."""
        return self.scales.get(scale_key(cell))


def recolour(results: Results) -> Recoloured:
    """Recolour every strip that has its raw map on its category's shared scale."""
    groups: dict[ScaleKey, list[Cell]] = {}
    for cell in results.cells:
        if cell.artifacts:
            groups.setdefault(scale_key(cell), []).append(cell)
    files: dict[str, bytes] = {}
    scales: dict[ScaleKey, ColorScale] = {}
    for key, cells in sorted(groups.items(), key=lambda item: repr(item[0])):
        maps = _maps(results.source, cells)
        if not maps:
            continue
        values = np.concatenate([m.ravel() for m in maps.values()])
        low, high = np.quantile(values, [LOW_QUANTILE, HIGH_QUANTILE])
        scale = ColorScale(float(low), float(high), len(cells))
        scales[key] = scale
        for path, amap in maps.items():
            strip = _recoloured(results.source / path, amap, (scale.low, scale.high))
            if strip is not None:
                files[path] = strip
    return Recoloured(files, scales)


def _maps(source: Path, cells: list[Cell]) -> dict[str, np.ndarray]:
    """Strip path -> its raw map (H, W), for the strips of `cells` whose map is readable."""
    found: dict[str, np.ndarray] = {}
    for cell in cells:
        for artifact in cell.artifacts:
            amap = heatmap.decode_map(source / heatmap.map_relpath(artifact.path))
            if amap is not None and np.isfinite(amap).all():
                found[artifact.path] = amap
    return found


def _recoloured(path: Path, amap: np.ndarray, scale: tuple[float, float]) -> bytes | None:
    """The strip at `path` with its overlay drawn on `scale`; None when it cannot be read or
    does not match its map."""
    try:
        stream = regular.open_file(path, regular.ARTIFACT, "heatmap strip")
        with stream, Image.open(stream) as picture:
            strip = np.array(picture.convert("RGB"))
    except (OSError, ValueError):
        return None
    width = amap.shape[1]
    try:
        image = heatmap.first_panel(strip, width)
        out = heatmap.replace_overlay(strip, heatmap.overlay(image, amap, scale))
    except ValueError:
        return None
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, format="PNG")
    return buffer.getvalue()
