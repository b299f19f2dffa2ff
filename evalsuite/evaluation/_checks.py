"""Input checks shared by the evaluation functions: shapes, dtypes, finiteness, both classes."""

from __future__ import annotations

import numpy as np

from evalsuite.errors import EvaluationError


def scores_and_labels(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check image scores and labels and return them as float64 / bool vectors.

    Args:
        scores: (N,) anomaly scores, higher = more anomalous.
        labels: (N,) 0/1 or bool, 1 = anomalous.

    Returns:
        scores: (N,) float64; labels: (N,) bool.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = as_bool(labels, "labels")
    if s.ndim != 1 or y.shape != s.shape:
        raise EvaluationError(
            f"scores {s.shape} and labels {y.shape} must be two vectors of the same length; "
            "pass one score and one label per image"
        )
    if s.size == 0:
        raise EvaluationError("scores are empty; evaluate at least one image")
    finite(s, "scores")
    return s, y


def maps_and_masks(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check anomaly maps and ground-truth masks.

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 0/1 or bool, 1 = defect pixel.

    Returns:
        maps: (N, H, W) float32 or float64 (unchanged when already floating); masks: (N, H, W) bool.
    """
    m = np.asarray(maps)
    if not np.issubdtype(m.dtype, np.floating):
        m = m.astype(np.float64)
    g = as_bool(masks, "masks")
    if m.ndim != 3 or g.shape != m.shape:
        raise EvaluationError(
            f"maps {m.shape} and masks {g.shape} must both be (N, H, W) with the same shape; "
            "resize the masks to the map size before evaluating"
        )
    if m.size == 0:
        raise EvaluationError("maps are empty; evaluate at least one image")
    finite(m, "maps")
    return m, g


def as_bool(values: np.ndarray, name: str) -> np.ndarray:
    """Return `values` as bool, refusing anything but 0/1 (or bool) entries."""
    v = np.asarray(values)
    if v.dtype == np.bool_:
        return v
    if v.size and not np.isin(v, (0, 1)).all():
        raise EvaluationError(
            f"{name} must hold only 0/1 (or bool) values, got {np.unique(v)[:5].tolist()}...; "
            "binarise them first (mask > 0)"
        )
    return v.astype(bool)


def finite(values: np.ndarray, name: str) -> None:
    """Raise when `values` holds NaN or infinite entries."""
    bad = int(values.size - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise EvaluationError(
            f"{name} hold {bad} non-finite value(s) (NaN or inf); the detector output is "
            "broken, fix it before evaluating"
        )


def both_classes(labels: np.ndarray, what: str) -> None:
    """Raise unless `labels` (bool) holds both normal and anomalous entries."""
    n_pos = int(np.count_nonzero(labels))
    if n_pos == 0 or n_pos == labels.size:
        kind = "anomalous" if n_pos else "normal"
        unit = "pixels" if what.startswith("pixel") else "images"
        raise EvaluationError(
            f"{what} is undefined: the test set needs both normal and anomalous {unit}, "
            f"got {labels.size} {kind} {unit} only"
        )
