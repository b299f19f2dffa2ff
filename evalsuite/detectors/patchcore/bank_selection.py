"""Which training patches a PatchCore fit keeps in its memory bank (paper Sec. 3.2).

The greedy coreset of all the fit's patches, or, with `coreset_scope = "per_category"` on
several categories, each category's coreset as its own per-class fit would select it,
concatenated in category order. A coreset-ratio sweep's fits share their greedy selections
through a `SelectionStore` (`selection_store`): the largest selection is run once and every
smaller coreset is cut from it (`PatchCore.fit_shared`, the `NestedSelectionDetector` part).
"""

from __future__ import annotations

import numpy as np
import torch

from evalsuite.detectors.patchcore.coreset import select_coreset
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.patchcore.selection_store import SelectionStore


def bank_rows(
    patches: np.ndarray,
    image_categories: np.ndarray,
    categories: list[str],
    per_image: int,
    params: PatchCoreParams,
    seed: int,
    *,
    device: torch.device,
    selection: SelectionStore | None = None,
    selection_size: int | None = None,
) -> np.ndarray:
    """The rows of `patches` the memory bank keeps: the greedy coreset of all of them, or, with
    `coreset_scope="per_category"` on several categories, each category's coreset as its own
    per-class fit (same patches in the same order, seed and ratio) would select it,
    concatenated in category order (each category's selection in its own child of `selection`).

    Args:
        patches: (P, D) float32 patch features, image by image (P = N * per_image).
        image_categories: (N,) int64 index into `categories` of each training image.
        categories: the fit's sorted categories.
        per_image: patches per image.
        params: the coreset's ratio, projection dimension and scope.
        seed: seeds the projection and the start point.
        device: where the greedy runs.
        selection: a store of greedy selections shared by a coreset-ratio sweep (see
            `PatchCore.fit`); None runs the greedy for this fit alone.
        selection_size: points to select when the store has too few; None means this fit's
            own size.

    Returns:
        (M,) int64 rows of `patches`.
    """
    if params.coreset_scope != "per_category" or len(categories) <= 1:
        return _coreset_rows(patches, params, seed, device, selection, selection_size)
    parts = []
    for index, category in enumerate(categories):
        images = np.flatnonzero(image_categories == index)
        rows = (images[:, None] * per_image + np.arange(per_image)).ravel()
        contiguous = images[-1] - images[0] + 1 == images.size
        own = patches[rows[0] : rows[-1] + 1] if contiguous else patches[rows]
        size = None
        if selection_size is not None:  # the same fraction of this category's patches
            size = max(1, selection_size * rows.size // patches.shape[0])
        store = selection.child(category) if selection is not None else None
        parts.append(rows[_coreset_rows(own, params, seed, device, store, size)])
    return np.concatenate(parts)


def _coreset_rows(
    patches: np.ndarray,
    params: PatchCoreParams,
    seed: int,
    device: torch.device,
    selection: SelectionStore | None,
    selection_size: int | None,
) -> np.ndarray:
    """Rows of `patches` (P, D) the greedy coreset keeps: (M,) int64."""
    return select_coreset(
        patches,
        params.coreset_ratio,
        params.coreset_projection_dim,
        seed,
        device=device,
        selection=selection,
        selection_size=selection_size,
    ).indices
