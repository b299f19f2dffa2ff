"""Heatmap strips for the gallery: image | overlay | ground truth | thresholded (see
`evalsuite.results.heatmap`), each with its raw map beside it for the site's shared scales."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from evalsuite import results
from evalsuite.atomic import write_bytes
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.data.imageio import write_png
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import Scores
from evalsuite.results.heatmap import GAP_PX, encode_map, map_relpath, overlay


def overlay_strip(
    image: np.ndarray,
    mask: np.ndarray | None,
    amap: np.ndarray,
    threshold: float | None,
    scale: tuple[float, float],
) -> np.ndarray:
    """The panels of one strip side by side: image | overlay | ground truth | thresholded.

    Args:
        image: (H, W, 3) uint8, the network input as seen (resized and cropped).
        mask: (H, W) bool ground truth, or None: then the strip has no ground-truth panel (a
            dataset without masks is not shown as one whose images are all defect-free).
        amap: (H, W) anomaly map.
        threshold: the pixel threshold (from val), or None: then no thresholded panel (no
            threshold is made up from the test maps).
        scale: (low, high) map values mapped to the colormap's ends.

    Returns:
        (H, k W + 2 (k - 1), 3) uint8 with k = 2, 3 or 4 panels.
    """
    panels = [image, overlay(image, amap, scale)]
    if mask is not None:
        panels.append(np.repeat(mask[..., None] * 255, 3, axis=2).astype(np.uint8))
    if threshold is not None:
        panels.append(np.repeat((amap >= threshold)[..., None] * 255, 3, axis=2).astype(np.uint8))
    gap = np.full((image.shape[0], GAP_PX, 3), 255, np.uint8)
    spaced: list[np.ndarray] = []
    for panel in panels:
        spaced.extend([gap, panel] if spaced else [panel])
    return np.concatenate(spaced, axis=1)


def pick_examples(
    scores: np.ndarray, labels: np.ndarray, threshold: float, per_kind: int
) -> list[tuple[int, str]]:
    """Indices to show: top-scoring defects, hardest normals (highest scores), misses
    (defects below the threshold, lowest first)."""
    order = np.argsort(-scores, kind="stable")
    defects = [int(i) for i in order if labels[i] == 1][:per_kind]
    normals = [int(i) for i in order if labels[i] == 0][:per_kind]
    misses = [int(i) for i in order[::-1] if labels[i] == 1 and scores[i] < threshold][:per_kind]
    return (
        [(i, "top_defect") for i in defects]
        + [(i, "hardest_normal") for i in normals]
        + [(i, "miss") for i in misses]
    )


def render_artifacts(
    out: Path,
    relpath: PurePosixPath,
    prep: Preprocessing,
    samples: Sequence[Sample],
    test: Scores,
    masks: np.ndarray | None,
    labels: np.ndarray,
    thresholds: tuple[float, float | None],
    per_kind: int,
) -> list[dict[str, str]]:
    """Write the heatmap strips of one cell's chosen examples (see `pick_examples`).

    Args:
        out: the results folder.
        relpath: the cell's record path.
        prep: the preprocessing the detector saw (images are shown as the network saw them).
        samples: the test samples, (N,).
        test: their scores: image (N,) and maps (N, H, W).
        masks: (N, H, W) ground truth, or None.
        labels: (N,) 0 normal, 1 anomalous.
        thresholds: (image threshold, pixel threshold or None) from val; without a pixel
            threshold (a dataset without masks) the strips have no thresholded panel.
        per_kind: examples per kind; 0 writes nothing.

    Returns:
        one entry per strip written: sample id, kind and path relative to `out`. Beside each
        strip its raw map (`heatmap.map_relpath`), which the site colours on a scale shared by
        the category's cells; the strip's own overlay uses this cell's scale.
    """
    if per_kind == 0:
        return []
    image_t, pixel_t = thresholds
    scale = (float(np.quantile(test.maps, 0.01)), float(np.quantile(test.maps, 0.999)))
    written = []
    for index, kind in pick_examples(test.image, labels, image_t, per_kind):
        sample = samples[index]
        picture = as_uint8(prep.load_image(sample.path).numpy(), prep.mean, prep.std)
        strip = overlay_strip(
            picture, None if masks is None else masks[index], test.maps[index], pixel_t, scale
        )
        path = results.artifact_relpath(relpath, sample.id, kind)
        write_bytes(out / map_relpath(path), encode_map(test.maps[index]), durable=False)
        write_png(out / path, strip)
        written.append({"id": sample.id, "kind": kind, "path": str(path)})
    return written


def as_uint8(tensor: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised (3, H, W) network input as the (H, W, 3) uint8 picture it came from."""
    image = tensor.transpose(1, 2, 0) * np.array(std) + np.array(mean)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
