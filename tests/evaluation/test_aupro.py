"""AU-PRO against a slow, obviously correct implementation and cases with known answers."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest
from scipy import ndimage

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.curves import area_to_limit, areas_to_limit
from evalsuite.evaluation.metrics import aupro
from evalsuite.evaluation.pro import pro_curve

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]


def slow_aupro(maps: np.ndarray, masks: np.ndarray, limit: float) -> float:
    """Loop over every distinct threshold and every region; cut and integrate segment by
    segment."""
    regions = []
    for i, mask in enumerate(masks):
        labelled, count = ndimage.label(mask, structure=np.ones((3, 3)))
        regions += [(i, labelled == k) for k in range(1, count + 1)]
    normal = ~masks
    points = [(0.0, 0.0)]
    for t in sorted(set(maps.ravel().tolist()), reverse=True):
        predicted = maps >= t
        fpr = (predicted & normal).sum() / normal.sum()
        pro = np.mean([predicted[i][region].mean() for i, region in regions])
        points.append((fpr, pro))
    area = 0.0
    for (x0, y0), (x1, y1) in pairwise(points):
        if x1 <= limit:
            area += (x1 - x0) * (y0 + y1) / 2
            continue
        if x0 < limit:
            y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            area += (limit - x0) * (y0 + y_limit) / 2
        break
    return area / limit


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("limit", [0.3, 0.05])
def test_aupro_equals_slow_reference(blobs: BlobFactory, seed: int, limit: float) -> None:
    maps, masks = blobs(seed, n=4, size=16, n_normal=1)
    assert aupro(maps, masks, limit) == pytest.approx(slow_aupro(maps, masks, limit), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_aupro_equals_slow_reference_with_ties(blobs: BlobFactory, seed: int) -> None:
    maps, masks = blobs(seed + 10, n=4, size=16, n_normal=2, ties=True)
    for limit in (0.3, 0.05):
        assert aupro(maps, masks, limit) == pytest.approx(slow_aupro(maps, masks, limit), abs=1e-9)


def test_perfect_map_gives_one(blobs: BlobFactory) -> None:
    _, masks = blobs(1, n=4, size=16)
    maps = masks + np.random.default_rng(0).random(masks.shape) * 0.5
    assert aupro(maps, masks) == pytest.approx(1.0, abs=1e-12)
    assert aupro(maps, masks, 0.05) == pytest.approx(1.0, abs=1e-12)


def test_inverted_map_gives_zero(blobs: BlobFactory) -> None:
    _, masks = blobs(2, n=4, size=16)
    maps = ~masks + np.random.default_rng(0).random(masks.shape) * 0.5
    assert aupro(maps, masks) == 0.0


def test_regions_use_8_connectivity() -> None:
    # defect pixels (0, 0), (1, 1), (1, 2): one region with 8-connectivity, two with 4.
    masks = np.zeros((1, 5, 5), dtype=bool)
    masks[0, 0, 0] = masks[0, 1, 1] = masks[0, 1, 2] = True
    maps = np.zeros((1, 5, 5))
    maps[0, 0, 0] = 1.0
    # curve (0, 0) -> (0, 1/3) -> (1, 1): PRO at FPR 0.3 is 1/3 + 0.2; 4-connectivity gives 0.575
    assert aupro(maps, masks) == pytest.approx((1 / 3 + 1 / 3 + 0.2) / 2)


def test_regions_are_weighted_equally_whatever_their_size() -> None:
    masks = np.zeros((2, 10, 10), dtype=bool)
    masks[0, :4, :4] = True  # 16 pixels, found at the highest threshold
    masks[1, 0, 0] = True  # 1 pixel, never above any normal pixel
    maps = np.where(masks, 0.0, 0.5)
    maps[0, :4, :4] = 1.0
    curve = pro_curve(maps, masks)
    assert curve.pro[1] == pytest.approx(0.5)  # one of two regions, not 16 of 17 pixels
    assert curve.fpr[1] == 0.0


def test_images_without_defects_count_in_the_fpr_only(blobs: BlobFactory) -> None:
    maps, masks = blobs(5, n=3, size=12, n_normal=0)
    low = np.full((1, 12, 12), maps.min() - 1.0)
    high = np.full((1, 12, 12), maps.max() + 1.0)
    extended = np.concatenate([maps, low])
    with_normal = np.concatenate([masks, np.zeros((1, 12, 12), bool)])
    # a normal image scoring below everything leaves the top of the curve to the other pixels
    base, more = pro_curve(maps, masks), pro_curve(extended, with_normal)
    n_normal, n_more = (~masks).sum(), (~with_normal).sum()
    np.testing.assert_allclose(more.fpr[1 : base.fpr.size], base.fpr[1:] * n_normal / n_more)
    np.testing.assert_allclose(more.pro[1 : base.pro.size], base.pro[1:])
    # a normal image scoring above everything is only false positives: AU-PRO drops
    assert aupro(np.concatenate([maps, high]), with_normal) < aupro(maps, masks)


def test_aupro_stays_in_unit_interval_on_many_random_cases(blobs: BlobFactory) -> None:
    for seed in range(150):
        maps, masks = blobs(seed, n=3, size=8, n_normal=seed % 2, ties=seed % 3 == 0)
        if not masks.any():
            continue
        for limit in (0.3, 0.05, 1.0):
            value = aupro(maps, masks, limit)
            assert 0.0 <= value <= 1.0


def test_full_limit_is_the_area_of_the_whole_curve(blobs: BlobFactory) -> None:
    maps, masks = blobs(8, n=4, size=12)
    curve = pro_curve(maps, masks)
    assert (curve.fpr[-1], curve.pro[-1]) == (1.0, 1.0)
    assert aupro(maps, masks, 1.0) == pytest.approx(np.trapezoid(curve.pro, curve.fpr))


def test_no_defect_region_is_an_error_with_a_reason() -> None:
    with pytest.raises(EvaluationError, match="no defect region"):
        aupro(np.zeros((2, 4, 4)), np.zeros((2, 4, 4), bool))


def test_all_defect_pixels_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="every pixel"):
        aupro(np.zeros((1, 4, 4)), np.ones((1, 4, 4), bool))


@pytest.mark.parametrize("limit", [0.0, -0.1, 1.5])
def test_bad_fpr_limit_is_refused(blobs: BlobFactory, limit: float) -> None:
    maps, masks = blobs(0)
    with pytest.raises(EvaluationError, match="fpr_limit"):
        aupro(maps, masks, limit)


def test_the_vectorised_area_equals_the_curve_by_curve_area() -> None:
    """`areas_to_limit` (the paired bootstrap's AU-PRO, every resample at once) equals
    `area_to_limit` row by row: ties in x, a point exactly at the limit, a curve that never
    reaches it and one that jumps over it."""
    rng = np.random.default_rng(3)
    steps = rng.choice([0.0, 0.01, 0.05, 0.2], size=(40, 12))
    x = np.hstack([np.zeros((40, 1)), np.cumsum(steps, axis=1)])
    y = np.sort(rng.random((40, 13)), axis=1)
    x[0] = np.linspace(0.0, 0.6, 13)  # 0.3 exactly on a point
    x[1] = np.linspace(0.0, 0.1, 13)  # never reaches the limit
    x[2, 1:] = 0.9  # jumps over the limit in one segment
    for limit in (0.3, 0.05, 1.0):
        expected = [area_to_limit(xs, ys, limit) for xs, ys in zip(x, y, strict=True)]
        assert areas_to_limit(x, y, limit) == pytest.approx(expected, abs=1e-12)
