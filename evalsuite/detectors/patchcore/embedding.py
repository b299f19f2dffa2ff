"""Locally aware patch features (paper Sec. 3.1): neighbourhood aggregation, layer fusion and
projection to a common dimension."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import torch
from torch.nn import functional as F

from evalsuite.errors import ConfigError


def aggregate_neighbourhood(feature: torch.Tensor, p: int) -> torch.Tensor:
    """Average every patch feature over its p x p neighbourhood (paper Eq. 2-3, f_agg = mean).

    phi_{i,j}(h, w) = f_agg({phi_{i,j}(a, b) | (a, b) in N_p^{(h, w)}}), stride 1, so the grid
    keeps its size. Border patches are zero padded and the zeros count in the mean, as in the
    reference code (unfold with zero padding) and anomalib (AvgPool2d(3, 1, 1)).

    Args:
        feature: (B, C, h, w) one layer's features.
        p: odd neighbourhood size; 1 returns `feature` unchanged.

    Returns:
        (B, C, h, w) aggregated features.
    """
    if p == 1:
        return feature
    return F.avg_pool2d(feature, kernel_size=p, stride=1, padding=p // 2, count_include_pad=True)


def project_channels(patches: Sequence[torch.Tensor], target_dim: int) -> torch.Tensor:
    """Project each layer's patch vectors to `target_dim`, then fuse the layers to `target_dim`.

    The reference code's two adaptive average poolings, written as such: every layer's channel
    vector is pooled (or, when shorter, stretched) to `target_dim`, so each layer weighs the
    same whatever its width; the layer vectors are concatenated and pooled again to
    `target_dim` (with L layers each output channel averages L neighbouring inputs, so each
    layer fills about 1/L of the final vector). `embed` calls it for layers wider than
    `target_dim` in total, and applies it as one matrix otherwise (`projection_matrix`).

    Args:
        patches: per layer, (P, C_layer) patch vectors on the common grid.
        target_dim: D, the output dimension.

    Returns:
        (P, D).
    """
    pooled = [F.adaptive_avg_pool1d(layer.unsqueeze(1), target_dim) for layer in patches]
    fused = torch.cat(pooled, dim=2) if len(pooled) > 1 else pooled[0]
    if len(pooled) > 1:
        fused = F.adaptive_avg_pool1d(fused, target_dim)
    return fused.squeeze(1)


@lru_cache(maxsize=16)
def projection_matrix(channels: tuple[int, ...], target_dim: int) -> torch.Tensor:
    """The projection as a matrix: `concat(layers) @ W == project_channels(layers)`.

    Both poolings are linear, so their composition is one (sum C, D) matrix, built by
    projecting the identity. When the layers are narrower than D (e.g. EfficientNet-Lite0's 40
    + 112 channels to 1024) the projected vectors live in a subspace of dimension sum C, and
    only distances matter downstream (coreset, nearest neighbours, Eq. 7); the matrix returned
    is then the Cholesky factor L of W W^T, (sum C, sum C), which gives the same distances,
    ||(x - y) L|| = ||(x - y) W||, at a fraction of the memory and search time. Otherwise
    (e.g. WRN50's 512 + 1024 channels) it is W itself.

    Args:
        channels: C of every layer, in layer order.
        target_dim: D.

    Returns:
        (sum C, sum C) when sum C < D and W W^T is positive definite, else (sum C, D);
        float32, shared between calls: do not modify.
    """
    identity = torch.eye(sum(channels), dtype=torch.float64)
    matrix = project_channels(list(torch.split(identity, list(channels), dim=1)), target_dim)
    if sum(channels) < target_dim:
        factor, info = torch.linalg.cholesky_ex(matrix @ matrix.T)
        if int(info) == 0:
            matrix = factor
    return matrix.float()


def embed(
    features: Mapping[str, torch.Tensor],
    layers: Sequence[str],
    p: int,
    target_dim: int | None,
) -> torch.Tensor:
    """Patch features of a batch: aggregate, bring every layer onto the first layer's grid,
    then concatenate (target_dim None) or project (`projection_matrix`).

    Deeper (coarser) layers are upsampled bilinearly (align_corners False) after aggregation.

    Args:
        features: layer name -> (B, C_layer, h_layer, w_layer), from a FeatureSource.
        layers: the layers to use, shallowest first; the first sets the patch grid (h, w).
        p: neighbourhood size of Eq. 2-3.
        target_dim: the projection's dimension, or None for the concatenation.

    Returns:
        (B, h, w, D) float32 patch features; D is sum C_layer for the concatenation, and for
        the projection sum C_layer when the layers are narrower than target_dim (an
        isometric basis, see `projection_matrix`), else target_dim. `.reshape(-1, D)` gives
        the (B*h*w, D) rows in image-major, then row-major patch order.
    """
    missing = [layer for layer in layers if layer not in features]
    if missing:
        raise ConfigError(
            f"patchcore layers {missing} are not in the features the backbone returned "
            f"({sorted(features)}); set params.layers to layers the backbone provides"
        )
    first = features[layers[0]]
    batch, grid = first.shape[0], first.shape[-2:]
    patches = []
    for layer in layers:
        feature = aggregate_neighbourhood(features[layer].float(), p)
        if feature.shape[-2:] != grid:
            feature = F.interpolate(feature, size=grid, mode="bilinear", align_corners=False)
        patches.append(feature.permute(0, 2, 3, 1).reshape(-1, feature.shape[1]))
    channels = tuple(patch.shape[1] for patch in patches)
    if target_dim is not None and sum(channels) >= target_dim:
        fused = project_channels(patches, target_dim)  # pooling: cheaper than a wide matmul
    else:
        fused = torch.cat(patches, dim=1) if len(patches) > 1 else patches[0]
        if target_dim is not None:
            fused = fused @ projection_matrix(channels, target_dim).to(fused.device)
    return fused.reshape(batch, grid[0], grid[1], -1).contiguous()
