"""From nearest-neighbour distances to scores: image score (paper Eq. 6-7) and anomaly map."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch.nn import functional as F

from evalsuite.detectors.patchcore.memory_bank import MemoryBank, SearchSettings

GAUSSIAN_TRUNCATE = 4.0


def image_scores(
    patch_scores: np.ndarray,
    nn_indices: np.ndarray,
    patches: np.ndarray,
    bank: MemoryBank,
    num_neighbors: int,
    settings: SearchSettings | None = None,
) -> np.ndarray:
    """Image anomaly scores s (Eq. 6-7) of a batch.

    Args:
        patch_scores: (N, P) distance of every test patch to its nearest memory patch.
        nn_indices: (N, P) bank row of that nearest memory patch.
        patches: (N, P, D) the test patch features.
        bank: the memory bank M.
        num_neighbors: b of Eq. 7; 1 gives the plain maximum s*.
        settings: the search for N_b(m*); None means the bank's.

    Returns:
        (N,) float32.
    """
    rows = np.arange(patch_scores.shape[0])
    worst = worst_positions(patch_scores)
    return scores_of_worst(
        patch_scores[rows, worst],
        nn_indices[rows, worst],
        patches[rows, worst],
        bank,
        num_neighbors,
        settings,
    )


def worst_positions(patch_scores: np.ndarray) -> np.ndarray:
    """Position of m^{test,*} in every image (Eq. 6's argmax; the first one on ties).

    Args:
        patch_scores: (N, P) nearest-neighbour distances.

    Returns:
        (N,) int64 patch positions.
    """
    return patch_scores.argmax(axis=1)


def scores_of_worst(
    s_star: np.ndarray,
    nn_index: np.ndarray,
    worst_patches: np.ndarray,
    bank: MemoryBank,
    num_neighbors: int,
    settings: SearchSettings | None = None,
) -> np.ndarray:
    """Image scores from each image's worst patch alone: s* (Eq. 6), re-weighted by Eq. 7.

    Args:
        s_star: (N,) s* = ||m^{test,*} - m*||, the largest nearest-neighbour distance.
        nn_index: (N,) bank row of m*.
        worst_patches: (N, D) m^{test,*}.
        bank: the memory bank M.
        num_neighbors: b of Eq. 7; 1 gives s* itself.
        settings: the search for N_b(m*); None means the bank's.

    Returns:
        (N,) float32.
    """
    if num_neighbors == 1:
        return s_star.astype(np.float32)
    return reweighted_scores(worst_patches, s_star, nn_index, bank, num_neighbors, settings)


def reweighted_scores(
    test_patches: np.ndarray,
    s_star: np.ndarray,
    nn_index: np.ndarray,
    bank: MemoryBank,
    num_neighbors: int,
    settings: SearchSettings | None = None,
) -> np.ndarray:
    """Eq. 7: s = w * s*, down-weighting s* when m* lies in a dense region of M.

    With m^{test,*} the test patch of largest nearest-neighbour distance s*, m* its nearest
    memory patch and N_b(m*) the b nearest neighbours of m* in M (m* itself included, at
    distance 0):

        w = 1 - exp(||m^{test,*} - m*||) / sum_{m in N_b(m*)} exp(||m^{test,*} - m||)

    Computed as a softmax with the largest exponent subtracted first, exp(d - c) with
    c = max(s*, max_m ||m^{test,*} - m||), so large distances cannot overflow; the ratio is
    unchanged since exp(-c) cancels.

    Args:
        test_patches: (N, D) m^{test,*} of every image.
        s_star: (N,) s* = ||m^{test,*} - m*||.
        nn_index: (N,) bank row of m*.
        bank: the memory bank M.
        num_neighbors: b.
        settings: the search for N_b(m*); None means the bank's.

    Returns:
        (N,) float32 s.
    """
    _, support = bank.search(bank.features[nn_index], num_neighbors, settings)  # N_b(m*)
    diffs = bank.features[support] - test_patches[:, None, :].astype(np.float32)
    support_distances = np.linalg.norm(diffs.astype(np.float64), axis=2)  # (N, b)
    s_star64 = s_star.astype(np.float64)
    shift = np.maximum(support_distances.max(axis=1), s_star64)
    numerator = np.exp(s_star64 - shift)
    denominator = np.exp(support_distances - shift[:, None]).sum(axis=1)
    weight = 1.0 - numerator / denominator
    return (weight * s_star64).astype(np.float32)


def anomaly_maps(patch_scores: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """Pixel anomaly maps: patch scores upsampled to the input size, then smoothed.

    Bilinear upsampling (align_corners False) of the (h, w) patch-score grid to (H, W), then a
    Gaussian of standard deviation `sigma` pixels per image (scipy.ndimage.gaussian_filter,
    kernel truncated at GAUSSIAN_TRUNCATE = 4 sigma, i.e. 2 * int(4 sigma + 0.5) + 1 taps as in
    anomalib; borders reflected, mode "reflect").

    Args:
        patch_scores: (N, h, w) nearest-neighbour distances on the patch grid.
        size: (H, W) network input size.
        sigma: Gaussian standard deviation in pixels; 0 skips smoothing.

    Returns:
        (N, H, W) float32.
    """
    grid = torch.from_numpy(np.ascontiguousarray(patch_scores, dtype=np.float32)).unsqueeze(1)
    upsampled = F.interpolate(grid, size=size, mode="bilinear", align_corners=False)
    maps = upsampled.squeeze(1).numpy()
    if sigma > 0:
        maps = gaussian_filter(
            maps, sigma=(0.0, sigma, sigma), mode="reflect", truncate=GAUSSIAN_TRUNCATE
        )
    return maps.astype(np.float32, copy=False)
