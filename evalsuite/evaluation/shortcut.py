"""Identical-shortcut matrices for the unified scope (one model, per-category thresholds).

UniAD's "identical shortcut" (You et al., NeurIPS 2022) is a unified model reproducing anomalies
as well as normal data; for a memory bank the analogue is a defect patch whose nearest neighbour
is another category's normal patch. Three views:

- `threshold_transfer`: what happens when category A's test images are judged with category B's
  threshold (rows: test category, columns: threshold category);
- `nn_provenance`: which memory-bank category the nearest neighbour of each test patch comes from,
  for defect patches and for normal patches;
- `score_distributions`: per-category normal and defective image scores on common bins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.metrics import image_auroc

Matrix = list[list[float | None]]


def threshold_transfer(
    scores_by_category: Mapping[str, tuple[np.ndarray, np.ndarray]],
    thresholds_by_category: Mapping[str, float],
) -> dict[str, object]:
    """FPR and TPR of each category's test images under each category's threshold.

    Args:
        scores_by_category: category -> (scores (N,), labels (N,)) of its test images.
        thresholds_by_category: category -> its image threshold (from val); same categories.

    Returns:
        {"categories": order, "fpr": matrix, "tpr": matrix}: entry [a][b] is the rate on
        category a's normal (fpr) or anomalous (tpr) images with category b's threshold, None
        when a has no such image. The diagonal is each category's own FPR / TPR.
    """
    categories = list(scores_by_category)
    if set(categories) != set(thresholds_by_category):
        raise EvaluationError(
            f"threshold categories {sorted(thresholds_by_category)} differ from score categories "
            f"{sorted(categories)}; give one threshold per evaluated category"
        )
    fpr: Matrix = []
    tpr: Matrix = []
    for a in categories:
        scores, labels = _checks.scores_and_labels(*scores_by_category[a])
        thresholds = [thresholds_by_category[b] for b in categories]
        fpr.append([_rate(scores[~labels], t) for t in thresholds])
        tpr.append([_rate(scores[labels], t) for t in thresholds])
    return {"categories": categories, "fpr": fpr, "tpr": tpr}


def patch_mask(masks: np.ndarray, grid: tuple[int, int], min_fraction: float = 0.5) -> np.ndarray:
    """Downsample pixel masks to the patch grid: a patch is a defect patch when at least
    `min_fraction` of its pixels are defect pixels.

    Args:
        masks: (N, H, W) 1 = defect pixel; H and W multiples of the grid.
        grid: (h, w) patch grid of the feature map.
        min_fraction: in (0, 1]; 0.5 = majority of the patch's pixels.

    Returns:
        (N, h, w) bool.
    """
    g = _checks.as_bool(masks, "masks")
    h, w = grid
    if g.ndim != 3 or h < 1 or w < 1 or g.shape[1] % h or g.shape[2] % w:
        raise EvaluationError(
            f"masks {g.shape} cannot be split into a {h}x{w} patch grid; "
            "resize the masks to a multiple of the grid size"
        )
    if not 0.0 < min_fraction <= 1.0:
        raise EvaluationError(f"min_fraction={min_fraction} is outside (0, 1]; use e.g. 0.5")
    n, big_h, big_w = g.shape
    blocks = g.reshape(n, h, big_h // h, w, big_w // w)
    return blocks.mean(axis=(2, 4)) >= min_fraction


def nn_provenance(
    nn_by_category: Mapping[str, np.ndarray],
    masks_by_category: Mapping[str, np.ndarray | None],
    memory_categories: Sequence[str],
    *,
    labels_by_category: Mapping[str, np.ndarray] | None = None,
    min_fraction: float = 0.5,
) -> dict[str, object]:
    """Share of test patches whose nearest memory-bank patch comes from each category.

    Defect patches are patches of the grid with at least `min_fraction` defect pixels (see
    `patch_mask`); normal patches are all patches of normal test images (no defect pixel at all),
    because patches next to a defect see it through their receptive field. A category without
    masks (None) has no defect patches (its defect row is None) and its normal images are those
    labelled normal in `labels_by_category`: image labels suffice for the normal row.

    Args:
        nn_by_category: test category -> (N, h, w) int, index into `memory_categories` of the
            category of each patch's nearest memory-bank patch.
        masks_by_category: test category -> (N, H, W) pixel masks of the same images, or None.
        memory_categories: the categories of the memory bank, in index order.
        labels_by_category: test category -> (N,) image labels (1 = anomalous); required for
            the categories without masks.
        min_fraction: defect share that makes a patch a defect patch.

    Returns:
        {"categories", "memory_categories", "defect", "normal", "defect_patches",
        "normal_patches"}: row-normalised matrices (rows sum to 1; a row of None when the test
        category has no such patch) and the patch counts per row.
    """
    n_mem = len(memory_categories)
    rows = list(nn_by_category)
    picked = []
    for a in rows:
        masks = masks_by_category[a]
        picked.append(
            _picked_patches(nn_by_category[a], masks, n_mem, a, min_fraction)
            if masks is not None
            else _normal_patches(nn_by_category[a], _labels(labels_by_category, a), n_mem, a)
        )
    return {
        "categories": rows,
        "memory_categories": list(memory_categories),
        "defect": [_shares(d, n_mem) for d, _ in picked],
        "normal": [_shares(n, n_mem) for _, n in picked],
        "defect_patches": [int(d.size) for d, _ in picked],
        "normal_patches": [int(n.size) for _, n in picked],
    }


def _picked_patches(
    nn: np.ndarray, masks: np.ndarray, n_mem: int, category: str, min_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour category indices of the defect patches and of the normal patches."""
    nn = np.asarray(nn)
    masks = _checks.as_bool(masks, f"masks of {category}")
    _check_nn(nn, masks, n_mem, category)
    defect_patches = patch_mask(masks, (nn.shape[1], nn.shape[2]), min_fraction)
    normal_images = ~masks.reshape(masks.shape[0], -1).any(axis=1)
    return nn[defect_patches], nn[normal_images].ravel()


def _labels(labels_by_category: Mapping[str, np.ndarray] | None, category: str) -> np.ndarray:
    if labels_by_category is None or category not in labels_by_category:
        raise EvaluationError(
            f"{category} has no masks: give its image labels (labels_by_category) so that its "
            "normal images are known"
        )
    return labels_by_category[category]


def _normal_patches(
    nn: np.ndarray, labels: np.ndarray, n_mem: int, category: str
) -> tuple[np.ndarray, np.ndarray]:
    """No defect patch (no masks) and the nearest-neighbour indices of the normal images."""
    nn = np.asarray(nn)
    normal = ~_checks.as_bool(np.asarray(labels), f"labels of {category}")
    _check_nn(nn, np.zeros((normal.size, 1, 1), bool), n_mem, category)
    return nn[:0].ravel(), nn[normal].ravel()


def score_distributions(
    scores: np.ndarray, labels: np.ndarray, categories: Sequence[str] | np.ndarray, bins: int = 20
) -> dict[str, object]:
    """Per-category normal and defective image scores, histogrammed on bins common to all.

    The overlap of a category is the histogram intersection sum_b min(p_normal_b, p_defect_b)
    of its two normalised histograms on the common bins: 0 = separated, 1 = identical. Its AUROC
    (normal vs defective within the category) is given too.

    Args:
        scores: (N,) image scores of all test images.
        labels: (N,) 1 = anomalous.
        categories: (N,) category of each image.
        bins: number of common bins between the lowest and the highest score.

    Returns:
        {"bin_edges": (bins + 1) list, "categories": sorted names, "per_category": name ->
        {"normal", "defective" (score lists), "normal_counts", "defective_counts", "auroc",
        "overlap" (None when the category lacks a class)}}.
    """
    s, y = _checks.scores_and_labels(scores, labels)
    cats = np.asarray(categories)
    if cats.shape != s.shape or bins < 1:
        raise EvaluationError(
            f"got {cats.size} categories for {s.size} scores and bins={bins}; "
            "give one category per score and at least one bin"
        )
    low, high = float(s.min()), float(s.max())
    edges = np.linspace(low, high, bins + 1) if high > low else np.array([low - 0.5, low + 0.5])
    per_category = {
        name: _distribution(s[cats == name], y[cats == name], edges)
        for name in sorted(set(cats.tolist()))
    }
    return {
        "bin_edges": edges.tolist(),
        "categories": sorted(per_category),
        "per_category": per_category,
    }


def _distribution(scores: np.ndarray, labels: np.ndarray, edges: np.ndarray) -> dict[str, object]:
    """One category's scores by class, their histograms on `edges`, AUROC and overlap."""
    normal, defective = scores[~labels], scores[labels]
    n_hist = np.histogram(normal, edges)[0]
    d_hist = np.histogram(defective, edges)[0]
    both = bool(normal.size and defective.size)
    overlap = np.minimum(n_hist / max(normal.size, 1), d_hist / max(defective.size, 1)).sum()
    return {
        "normal": normal.tolist(),
        "defective": defective.tolist(),
        "normal_counts": n_hist.tolist(),
        "defective_counts": d_hist.tolist(),
        "auroc": image_auroc(scores, labels) if both else None,
        "overlap": float(overlap) if both else None,
    }


def _rate(scores: np.ndarray, threshold: float) -> float | None:
    """Share of `scores` >= threshold; None for no scores."""
    return float(np.mean(scores >= threshold)) if scores.size else None


def _shares(indices: np.ndarray, n: int) -> list[float | None]:
    """Row-normalised histogram of category indices; a row of None when there is none."""
    if indices.size == 0:
        return [None] * n
    counts = np.bincount(indices.ravel(), minlength=n)
    return (counts / counts.sum()).tolist()


def _check_nn(nn: np.ndarray, masks: np.ndarray, n_mem: int, category: str) -> None:
    """Validate nearest-neighbour category indices against the masks and the memory bank."""
    if nn.ndim != 3 or masks.ndim != 3 or nn.shape[0] != masks.shape[0]:
        raise EvaluationError(
            f"{category}: nearest-neighbour indices {nn.shape} and masks {masks.shape} must be "
            "(N, h, w) and (N, H, W) for the same N images"
        )
    if not np.issubdtype(nn.dtype, np.integer) or (nn.size and (nn.min() < 0 or nn.max() >= n_mem)):
        raise EvaluationError(
            f"{category}: nearest-neighbour indices must be integers in [0, {n_mem}) "
            f"(one per memory category), got dtype {nn.dtype}"
        )
