"""Factor-wise MVTec-Shift: a variant applies exactly the recorded draw of the factors it keeps,
the others at their identity, to the same images (masks moved by the kept geometric factors)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from evalsuite.data.imageio import read_image, read_mask
from evalsuite.data.reader import read_dataset
from evalsuite.data.shift import apply_shift, photometric, warp
from evalsuite.data.shift_factors import (
    FACTORS,
    GEOMETRIC,
    PHOTOMETRIC,
    kept_factors,
    neutralise,
    variant_names,
)
from evalsuite.data.shift_params import ShiftParams, draw_params
from evalsuite.data.shift_tree import shift_tree
from evalsuite.errors import ConfigError

IDENTITY = {  # written out here, apart from the module's own table
    "exposure_stops": 0.0,
    "contrast": 1.0,
    "gamma": 1.0,
    "temperature": 0.0,
    "blur_sigma": 0.0,
    "noise_sigma": 0.0,
    "gradient": 0.0,
    "spot": 0.0,
    "rotation_deg": 0.0,
    "translation": (0.0, 0.0),
    "scale": 1.0,
    "corners": ((0.0, 0.0),) * 4,
}
FIELDS = {
    "exposure": ("exposure_stops",),
    "contrast": ("contrast",),
    "gamma": ("gamma",),
    "temperature": ("temperature",),
    "blur": ("blur_sigma",),
    "noise": ("noise_sigma",),
    "illumination": ("gradient", "spot"),
    "rotation": ("rotation_deg",),
    "translation": ("translation",),
    "scale": ("scale",),
    "perspective": ("corners",),
}


def _only(params: ShiftParams, factors: tuple[str, ...]) -> ShiftParams:
    """The mixed draw with every field of the other factors at its identity."""
    dropped = {
        name: IDENTITY[name]
        for factor in FACTORS
        if factor not in factors
        for name in FIELDS[factor]
    }
    return dataclasses.replace(params, **dropped)


def _image_and_mask() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    image = rng.integers(40, 200, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[20:34, 26:40] = True
    image[mask] = 250
    return image, mask


def test_the_identities_change_nothing() -> None:
    image, mask = _image_and_mask()
    params = draw_params("c/test/crack/000", seed=1, severity=3)
    shifted, moved = apply_shift(image, mask, _only(params, ()))
    assert np.array_equal(shifted, image)
    assert moved is not None and np.array_equal(moved, mask)


@pytest.mark.parametrize("factor", ["exposure", "rotation"])
def test_a_factor_alone_is_the_mixed_pipeline_with_the_others_at_identity(factor: str) -> None:
    image, mask = _image_and_mask()
    drawn = draw_params("c/test/crack/001", seed=4, severity=3, size=64)
    variant = neutralise(drawn, factor)
    expected_image, expected_mask = apply_shift(image, mask, _only(drawn, (factor,)))
    shifted, moved = apply_shift(image, mask, variant)
    assert np.array_equal(shifted, expected_image)
    assert moved is not None and expected_mask is not None
    assert np.array_equal(moved, expected_mask)
    # the kept factor is the draw's own value, the change real
    for name in FIELDS[factor]:
        assert getattr(variant, name) == getattr(drawn, name)
    assert np.abs(shifted.astype(int) - image.astype(int)).mean() > 2
    if factor == "exposure":  # a gain of 2**stops and nothing else: the mask stays in place
        gained = np.clip(image / 255.0 * 2.0**drawn.exposure_stops, 0, 1) * 255
        assert np.abs(shifted - gained).max() <= 1.0
        assert np.array_equal(moved, mask)
    else:  # the warp alone: no intensity change, the mask moved with the image
        rotated = dataclasses.replace(
            drawn, scale=1.0, translation=(0.0, 0.0), corners=((0.0, 0.0),) * 4
        )
        warped, warped_mask = warp(image.astype(np.float32) / 255, mask, rotated)
        assert np.array_equal(shifted, np.round(warped * 255).astype(np.uint8))
        assert warped_mask is not None and np.array_equal(moved, warped_mask)
        assert not np.array_equal(moved, mask)


def test_photometric_is_the_photometric_part_of_the_mixed_shift() -> None:
    image, mask = _image_and_mask()
    drawn = draw_params("c/test/crack/002", seed=2, severity=2, size=64)
    shifted, moved = apply_shift(image, mask, neutralise(drawn, "photometric"))
    part = photometric(image.astype(np.float32) / 255, drawn)  # the draw's geometry ignored
    assert np.array_equal(shifted, np.round(part * 255).astype(np.uint8))
    assert moved is not None and np.array_equal(moved, mask)


def test_variants_keep_the_factors_their_names_say() -> None:
    assert kept_factors("all") == FACTORS and len(FACTORS) == 11
    assert kept_factors("photometric") == PHOTOMETRIC
    assert kept_factors("geometric") == GEOMETRIC
    assert set(PHOTOMETRIC) | set(GEOMETRIC) == set(FACTORS)
    assert kept_factors("all-minus:blur") == tuple(f for f in FACTORS if f != "blur")
    drawn = draw_params("c/test/good/003", seed=0, severity=2)
    assert neutralise(drawn, "all") == drawn
    assert neutralise(drawn, "all-minus:noise") == _only(drawn, kept_factors("all-minus:noise"))
    assert len(variant_names()) == 1 + 2 + 11 + 11
    for bad in ("expo", "all-minus:photometric", "all-minus:", "All"):
        with pytest.raises(ConfigError, match=r"unknown shift factor.*exposure, contrast"):
            kept_factors(bad)


def test_a_variant_tree_holds_the_same_ids_and_records_its_factors(make_tree, tmp_path) -> None:
    src = make_tree()
    mixed = shift_tree(src, tmp_path / "all", seed=3, severity=3, progress=False)
    alone = shift_tree(
        src, tmp_path / "rotation", seed=3, severity=3, progress=False, factors="rotation"
    )
    photo = shift_tree(
        src, tmp_path / "photo", seed=3, severity=3, progress=False, factors="photometric"
    )
    clean = read_dataset(src)
    for tree in (mixed, alone, photo):
        assert [s.id for s in read_dataset(tree).samples] == [s.id for s in clean.samples]
    marker = json.loads((alone / "evalsuite-shift.json").read_text())
    assert marker["factors"] == "rotation" and "factors" not in json.loads(
        (mixed / "evalsuite-shift.json").read_text()
    )
    for sample in clean.samples:
        drawn = draw_params(sample.id, 3, 3, size=48)
        image = read_image(sample.path)
        mask = read_mask(sample.mask_path) if sample.mask_path is not None else None
        expected, expected_mask = apply_shift(image, mask, _only(drawn, ("rotation",)))
        relative = sample.path.relative_to(src)
        assert np.array_equal(read_image(alone / relative), expected)
        recorded = marker["images"][sample.id]
        assert recorded["rotation_deg"] == drawn.rotation_deg and recorded["contrast"] == 1.0
        if sample.mask_path is not None and sample.id not in marker["relabelled"]:
            assert expected_mask is not None
            written = read_mask(alone / sample.mask_path.relative_to(src))
            assert np.array_equal(written, expected_mask)
            # a photometric variant leaves every defect where it was: nothing is relabelled
            assert np.array_equal(read_mask(photo / sample.mask_path.relative_to(src)), mask)
    assert json.loads((photo / "evalsuite-shift.json").read_text())["relabelled"] == {}
    # a variant's folder is not the mixed shift's, nor another variant's
    with pytest.raises(ConfigError, match="other parameters"):
        shift_tree(src, alone, seed=3, severity=3, progress=False, factors="scale")


def test_data_shift_writes_one_variant_and_refuses_an_unknown_one(make_tree, tmp_path) -> None:
    from click.testing import CliRunner

    from evalsuite.cli import main

    src = make_tree(categories=("alpha",))
    args = ["data", "shift", "--src", str(src), "--quiet"]
    refused = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "x"), "--factors", "glare"])
    assert refused.exit_code == 2 and "unknown shift factor 'glare'" in refused.output
    assert "all-minus:<factor>" in refused.output and not (tmp_path / "x").exists()
    out = tmp_path / "blur"
    written = CliRunner().invoke(main, [*args, "--out", str(out), "--factors", "all-minus:blur"])
    assert written.exit_code == 0, written.output
    marker = json.loads((out / "evalsuite-shift.json").read_text())
    assert marker["factors"] == "all-minus:blur"
    assert {p["blur_sigma"] for p in marker["images"].values()} == {0.0}
