"""Heatmap overlays for the gallery: image | ground truth | anomaly-map overlay | thresholded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from evalsuite import results
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.data.imageio import write_png
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import Scores

# A perceptually ordered colormap (dark blue -> teal -> yellow), as RGB anchors in [0, 1].
_ANCHORS = np.array(
    [
        [0.27, 0.00, 0.33],
        [0.23, 0.32, 0.55],
        [0.13, 0.57, 0.55],
        [0.37, 0.79, 0.38],
        [0.99, 0.91, 0.14],
    ]
)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (H, W) to colours (H, W, 3) uint8."""
    x = np.clip(values, 0.0, 1.0) * (len(_ANCHORS) - 1)
    low = np.floor(x).astype(int).clip(0, len(_ANCHORS) - 2)
    frac = (x - low)[..., None]
    rgb = _ANCHORS[low] * (1 - frac) + _ANCHORS[low + 1] * frac
    return (rgb * 255).round().astype(np.uint8)


def overlay_strip(
    image: np.ndarray,
    mask: np.ndarray | None,
    amap: np.ndarray,
    threshold: float,
    scale: tuple[float, float],
) -> np.ndarray:
    """Four panels side by side.

    Args:
        image: (H, W, 3) uint8, the network input as seen (resized and cropped).
        mask: (H, W) bool ground truth, or None.
        amap: (H, W) anomaly map.
        threshold: the pixel threshold (from val).
        scale: (low, high) map values mapped to the colormap's ends (shared by a cell).

    Returns:
        (H, 4W + 6, 3) uint8.
    """
    low, high = scale
    norm = (amap - low) / max(high - low, 1e-12)
    heat = colormap(norm).astype(np.float32)
    blended = (0.5 * image.astype(np.float32) + 0.5 * heat).round().astype(np.uint8)
    truth = np.zeros_like(image) if mask is None else np.repeat(mask[..., None] * 255, 3, axis=2)
    predicted = np.repeat((amap >= threshold)[..., None] * 255, 3, axis=2).astype(np.uint8)
    gap = np.full((image.shape[0], 2, 3), 255, np.uint8)
    panels: Sequence[np.ndarray] = (
        image,
        gap,
        truth.astype(np.uint8),
        gap,
        blended,
        gap,
        predicted,
    )
    return np.concatenate(panels, axis=1)


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
            threshold the maps' 0.99 quantile marks the thresholded panel.
        per_kind: examples per kind; 0 writes nothing.

    Returns:
        one entry per strip written: sample id, kind and path relative to `out`.
    """
    if per_kind == 0:
        return []
    image_t, pixel_t = thresholds
    pixel_cut = pixel_t if pixel_t is not None else float(np.quantile(test.maps, 0.99))
    scale = (float(np.quantile(test.maps, 0.01)), float(np.quantile(test.maps, 0.999)))
    written = []
    for index, kind in pick_examples(test.image, labels, image_t, per_kind):
        sample = samples[index]
        picture = _as_uint8(prep.load_image(sample.path).numpy(), prep.mean, prep.std)
        strip = overlay_strip(
            picture, None if masks is None else masks[index], test.maps[index], pixel_cut, scale
        )
        path = results.artifact_relpath(relpath, sample.id, kind)
        write_png(out / path, strip)
        written.append({"id": sample.id, "kind": kind, "path": str(path)})
    return written


def _as_uint8(tensor: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    image = tensor.transpose(1, 2, 0) * np.array(std) + np.array(mean)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
