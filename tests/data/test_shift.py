"""MVTec-Shift: determinism, mask alignment, the out-of-frame label rule, the written tree."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from evalsuite.data.imageio import read_image, read_mask
from evalsuite.data.reader import read_dataset
from evalsuite.data.shift import apply_shift, homography, still_defective, warp
from evalsuite.data.shift_params import draw_params
from evalsuite.data.shift_tree import shift_tree
from evalsuite.errors import ConfigError


def test_draw_is_deterministic_per_image_and_differs_between_images() -> None:
    a = draw_params("hazelnut/test/crack/000", seed=3, severity=2)
    assert a == draw_params("hazelnut/test/crack/000", seed=3, severity=2)
    assert a != draw_params("hazelnut/test/crack/001", seed=3, severity=2)
    assert a != draw_params("hazelnut/test/crack/000", seed=4, severity=2)


def test_severity_scales_the_magnitudes() -> None:
    ids = [f"c/test/good/{i:03d}" for i in range(200)]
    spread = {s: np.mean([abs(draw_params(i, 0, s).rotation_deg) for i in ids]) for s in (1, 2, 3)}
    assert spread[1] < spread[2] < spread[3]
    with pytest.raises(ConfigError, match="severity 4"):
        draw_params("x", 0, 4)


def test_all_three_lighting_conditions_occur() -> None:
    seen = {draw_params(f"c/test/good/{i}", 0, 2).lighting for i in range(60)}
    assert seen == {"regular", "overexposed", "underexposed"}


def test_mask_moves_with_the_image() -> None:
    # A white square on black: after any warp the warped mask must cover exactly the pixels
    # where the warped image is bright (up to the interpolated border of one pixel).
    image = np.zeros((96, 96), np.float32)
    mask = np.zeros((96, 96), bool)
    image[30:60, 40:70] = 1.0
    mask[30:60, 40:70] = True
    for k in range(5):
        params = draw_params(f"c/test/x/{k}", seed=1, severity=3)
        warped, warped_mask = warp(image, mask, params)
        assert warped_mask is not None and warped_mask.dtype == bool
        bright = warped > 0.5
        disagreement = np.logical_xor(bright, warped_mask)
        boundary = warped_mask.sum() ** 0.5 * 4 * 1.5
        assert disagreement.sum() <= boundary
        assert abs(int(warped_mask.sum()) - int(mask.sum())) < 0.3 * mask.sum()


def test_homography_maps_corners_to_their_displaced_places() -> None:
    params = dataclasses.replace(
        draw_params("a", 0, 1),
        rotation_deg=0.0,
        scale=1.0,
        translation=(0.1, 0.0),
        corners=((0.0, 0.0),) * 4,
    )
    matrix = homography(params, 100, 50)
    point = matrix @ np.array([0.0, 0.0, 1.0])
    assert np.allclose(point[:2] / point[2], [10.0, 0.0])


def test_defect_pushed_out_of_frame_relabels_the_image() -> None:
    image = np.full((64, 64, 3), 100, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[20:30, 58:64] = True  # at the right edge
    params = dataclasses.replace(
        draw_params("a", 0, 1),
        rotation_deg=0.0,
        scale=1.0,
        translation=(0.2, 0.0),
        corners=((0.0, 0.0),) * 4,
    )
    _, moved = apply_shift(image, mask, params)
    assert moved is not None and moved.sum() == 0
    assert not still_defective(mask, moved)
    kept = dataclasses.replace(params, translation=(-0.2, 0.0))
    _, moved = apply_shift(image, mask, kept)
    assert moved is not None and still_defective(mask, moved)


def test_photometric_change_is_real_and_deterministic() -> None:
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    params = draw_params("c/test/good/7", 0, 2)
    first, _ = apply_shift(image, None, params)
    second, _ = apply_shift(image, None, params)
    assert np.array_equal(first, second)
    assert np.abs(first.astype(int) - image.astype(int)).mean() > 3


def test_shift_tree_keeps_ids_masks_and_records_parameters(make_tree, tmp_path) -> None:
    src = make_tree()
    out = shift_tree(src, tmp_path / "shifted", seed=5, severity=2, progress=False)
    clean, shifted = read_dataset(src), read_dataset(out)
    assert [s.id for s in clean.samples] == [s.id for s in shifted.samples]
    marker = json.loads((out / "evalsuite-shift.json").read_text())
    assert marker["seed"] == 5 and marker["severity"] == 2
    assert set(marker["images"]) == {s.id for s in clean.samples}
    assert shifted.shift is not None and "images" not in shifted.shift
    for sample in shifted.samples:
        image = read_image(sample.path)
        assert image.shape[:2] == (48, 48)
        if sample.mask_path is not None:
            mask = read_mask(sample.mask_path)
            # the defect is the white square: it must still sit under the mask
            assert image[mask].mean() > image[~mask].mean() + 40
    again = shift_tree(src, out, seed=5, severity=2, progress=False)
    assert again == out
    with pytest.raises(ConfigError, match="not empty"):
        shift_tree(src, out, seed=6, severity=2, progress=False)


def test_same_image_always_gets_the_same_shift(make_tree, tmp_path) -> None:
    src = make_tree()
    a = shift_tree(src, tmp_path / "a", seed=1, progress=False)
    b = shift_tree(src, tmp_path / "b", seed=1, progress=False)
    c = shift_tree(src, tmp_path / "c", seed=2, progress=False)
    path = "alpha/test/dent/000.png"
    assert (a / path).read_bytes() == (b / path).read_bytes()
    assert (a / path).read_bytes() != (c / path).read_bytes()


def test_shift_tree_on_two_processes_writes_the_same_bytes(make_tree, tmp_path) -> None:
    """The pool (spawned processes, results in sample order) changes nothing written: every
    image, mask and the parameter record are byte-identical to the one-process tree."""
    src = make_tree()
    one = shift_tree(src, tmp_path / "one", seed=3, progress=False)
    two = shift_tree(src, tmp_path / "two", seed=3, progress=False, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert len(files) > 10 and any(p.name.endswith(".png") for p in files)
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for path in files:
        assert (one / path).read_bytes() == (two / path).read_bytes(), path
