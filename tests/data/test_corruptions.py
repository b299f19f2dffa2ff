"""The corruption family against its published definitions (ImageNet-C's constants per
severity), on fixed inputs: what each type does, that severity degrades, that a draw is
reproducible per (id, seed), and that the pixel-sized constants scale with the image."""

from __future__ import annotations

import colorsys
import dataclasses
import io
import itertools
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage, stats

from evalsuite.data.corruption_blur import disk_kernel, fog_field, motion_weights, zoom_factors
from evalsuite.data.corruption_params import (
    CORRUPTIONS,
    SCALED,
    SEVERITIES,
    TABLE,
    draw_corruption,
)
from evalsuite.data.corruptions import apply_corruption
from evalsuite.errors import ConfigError


def textured(side: int = 96, width: int | None = None, seed: int = 0) -> np.ndarray:
    """A smooth, coloured test image with edges: (side, width, 3) float32 in [0.05, 0.95]."""
    width = width or side
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.random((side, width, 3)), (side / 40, side / 40, 0))
    blobs = (blobs - blobs.min()) / (blobs.max() - blobs.min())
    ys, xs = np.mgrid[0:side, 0:width] / side
    image = 0.5 * blobs + 0.25 * np.sin(8 * xs + 3 * ys)[..., None] + 0.25
    image[side // 4 : side // 2, width // 3 : width // 2] = [0.9, 0.3, 0.1]
    return np.clip(image, 0.05, 0.95).astype(np.float32)


def corrupt(
    image: np.ndarray, name: str, severity: int, sample_id: str = "c/test/x/000"
) -> np.ndarray:
    params = draw_corruption(sample_id, 0, name, severity, side=min(image.shape[:2]))
    return apply_corruption(image, params)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_draw_is_deterministic_per_image_and_seed() -> None:
    a = draw_corruption("hazelnut/test/crack/000", 3, "motion_blur", 2)
    assert a == draw_corruption("hazelnut/test/crack/000", 3, "motion_blur", 2)
    assert (
        a.noise_seed != draw_corruption("hazelnut/test/crack/001", 3, "motion_blur", 2).noise_seed
    )
    assert (
        a.noise_seed != draw_corruption("hazelnut/test/crack/000", 4, "motion_blur", 2).noise_seed
    )
    # the random part depends on (id, seed) only: severities and types of one image share it
    other = draw_corruption("hazelnut/test/crack/000", 3, "motion_blur", 5)
    assert (other.noise_seed, other.angle_deg) == (a.noise_seed, a.angle_deg)
    assert draw_corruption("hazelnut/test/crack/000", 3, "fog", 1).noise_seed == a.noise_seed
    assert a.angle_deg is not None and -45 <= a.angle_deg <= 45
    assert draw_corruption("x", 0, "fog", 1).angle_deg is None


def test_the_draw_records_the_published_constants_and_the_scale() -> None:
    params = draw_corruption("x", 0, "defocus_blur", 4, side=700)
    assert params.constants == (8.0, 0.5)
    assert params.scale == pytest.approx(700 / 224)
    record = params.to_dict()
    assert record["corruption"] == "defocus_blur" and record["severity"] == 4
    assert json.loads(json.dumps(record))["constants"] == [8.0, 0.5]  # ready for a record


def test_unknown_corruption_or_severity_is_refused() -> None:
    with pytest.raises(ConfigError, match="corruption 'frost': unknown; use one of gaussian_"):
        draw_corruption("x", 0, "frost", 1)
    with pytest.raises(ConfigError, match="severity 6"):
        draw_corruption("x", 0, "fog", 6)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_every_type_keeps_shape_dtype_and_range_and_is_reproducible(name: str) -> None:
    colour = textured(96, 112)
    gray = colour[..., 1].copy()
    for severity in SEVERITIES:
        for image in (colour, gray):
            out = corrupt(image, name, severity)
            assert out.shape == image.shape and out.dtype == np.float32
            assert out.min() >= 0.0 and out.max() <= 1.0
            assert np.array_equal(out, corrupt(image, name, severity))
    if name != "saturate":  # a grayscale image has no saturation to change
        assert not np.array_equal(corrupt(gray, name, 3), gray)
    assert not np.array_equal(corrupt(colour, name, 3), colour)


def test_noise_differs_between_images_and_seeds() -> None:
    image = textured(32)
    a = corrupt(image, "gaussian_noise", 2, "c/test/good/000")
    assert not np.array_equal(a, corrupt(image, "gaussian_noise", 2, "c/test/good/001"))
    params = draw_corruption("c/test/good/000", 1, "gaussian_noise", 2, side=32)
    assert not np.array_equal(a, apply_corruption(image, params))


def test_brightness_adds_the_tables_value_to_hsv_value() -> None:
    pixels = np.random.default_rng(1).random((1, 300, 3)).astype(np.float32)
    pixels[0, :3] = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [1, 0.2, 0.2]])  # black, grey, saturated
    for severity in SEVERITIES:
        (shift,) = TABLE["brightness"][severity - 1]
        out = corrupt(pixels, "brightness", severity)
        for before, after in zip(pixels[0], out[0], strict=True):
            h, s, v = colorsys.rgb_to_hsv(*before)
            expected = colorsys.hsv_to_rgb(h, s, min(v + shift, 1.0))
            assert np.allclose(after, expected, atol=1e-5)


def test_saturate_sets_hsv_saturation_to_s_times_a_plus_b() -> None:
    pixels = np.random.default_rng(2).random((1, 300, 3)).astype(np.float32)
    pixels[0, :2] = np.array(
        [[0.4, 0.4, 0.4], [0, 0, 0]]
    )  # grey: hue 0 (red) in HSV, as the reference
    for severity in SEVERITIES:
        gain, offset = TABLE["saturate"][severity - 1]
        out = corrupt(pixels, "saturate", severity)
        for before, after in zip(pixels[0], out[0], strict=True):
            h, s, v = colorsys.rgb_to_hsv(*before)
            expected = colorsys.hsv_to_rgb(h, min(max(s * gain + offset, 0.0), 1.0), v)
            assert np.allclose(after, expected, atol=1e-5)


def test_contrast_pulls_each_channel_towards_its_mean_by_the_tables_factor() -> None:
    image = textured(64)
    mean = image.mean(axis=(0, 1), keepdims=True)
    for severity in SEVERITIES:
        (factor,) = TABLE["contrast"][severity - 1]
        expected = (image - mean) * factor + mean
        assert np.allclose(corrupt(image, "contrast", severity), expected, atol=1e-6)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_gaussian_noise_has_the_tables_std(severity: int) -> None:
    # on a flat 0.5 the noise is N(0, c) clipped to +-0.5: its std is that of a normal
    # censored at a = 0.5 / c, sqrt(2 Phi(a) - 1 - 2 a phi(a) + 2 a^2 (1 - Phi(a))) * c
    flat = np.full((128, 128, 3), 0.5, np.float32)
    (std,) = TABLE["gaussian_noise"][severity - 1]
    a = 0.5 / std
    censored = 2 * stats.norm.cdf(a) - 1 - 2 * a * stats.norm.pdf(a) + 2 * a**2 * stats.norm.sf(a)
    noise = corrupt(flat, "gaussian_noise", severity) - 0.5
    assert abs(noise.mean()) < 0.005
    assert noise.std() == pytest.approx(std * np.sqrt(censored), rel=0.01)


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_shot_noise_is_poisson_at_the_tables_rate(severity: int) -> None:
    # counts ~ Poisson(0.3 c) / c: mean 0.3, variance 0.3 / c (never reaching the clip at 1)
    flat = np.full((128, 128, 3), 0.3, np.float32)
    (rate,) = TABLE["shot_noise"][severity - 1]
    out = corrupt(flat, "shot_noise", severity)
    assert out.mean() == pytest.approx(0.3, rel=0.02)
    assert out.var() == pytest.approx(0.3 / rate, rel=0.03)
    assert np.allclose(out * rate, np.round(out * rate), atol=1e-4)  # whole photon counts


@pytest.mark.parametrize("severity", SEVERITIES)
def test_impulse_noise_sets_the_tables_fraction_to_salt_or_pepper(severity: int) -> None:
    flat = np.full((128, 128, 3), 0.5, np.float32)
    (amount,) = TABLE["impulse_noise"][severity - 1]
    out = corrupt(flat, "impulse_noise", severity)
    salt, pepper = np.mean(out == 1.0), np.mean(out == 0.0)
    assert salt + pepper == pytest.approx(amount, rel=0.05)
    assert salt == pytest.approx(pepper, rel=0.15)
    assert np.all((out == 0.5) | (out == 0.0) | (out == 1.0))


def test_speckle_noise_scales_with_intensity() -> None:
    flat = np.full((128, 128, 3), 0.25, np.float32)
    (std,) = TABLE["speckle_noise"][0]
    assert (corrupt(flat, "speckle_noise", 1) - 0.25).std() == pytest.approx(0.25 * std, rel=0.02)


@pytest.mark.parametrize(("side", "severity", "block"), [(224, 2, 2), (448, 2, 4), (448, 5, 8)])
def test_pixelate_makes_blocks_of_scale_over_c_pixels(side: int, severity: int, block: int) -> None:
    image = np.random.default_rng(3).random((side, side, 3)).astype(np.float32)
    out = corrupt(image, "pixelate", severity)
    (factor,) = TABLE["pixelate"][severity - 1]
    assert block == pytest.approx(side / 224 / factor)
    tiles = out.reshape(side // block, block, side // block, block, 3)
    assert np.allclose(tiles, tiles[:, :1, :, :1], atol=1e-6)  # constant within a block
    assert np.allclose(tiles[:, 0, :, 0], image.reshape(tiles.shape).mean(axis=(1, 3)), atol=1e-5)


def test_pixelate_leaves_an_image_under_224_c_pixels_unchanged() -> None:
    # 128 px at severity 1 (c = 0.6): the benchmark's image keeps 134 px, more than this one has
    image = textured(128)
    assert np.array_equal(corrupt(image, "pixelate", 1), image)
    assert not np.array_equal(corrupt(image, "pixelate", 2), image)  # 112 px: blocks of 8/7


@pytest.mark.parametrize("severity", SEVERITIES)
def test_jpeg_is_pillows_encoding_at_the_tables_quality(severity: int) -> None:
    image = textured(64)
    (quality,) = TABLE["jpeg_compression"][severity - 1]
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    expected = np.asarray(Image.open(buffer), np.float32)
    assert np.array_equal(np.round(corrupt(image, "jpeg_compression", severity) * 255), expected)


def test_defocus_spreads_a_point_over_a_disk_of_the_scaled_radius() -> None:
    side, severity = 448, 3  # scale 2: radius 6 -> 12 px, anti-alias sigma 0.5 -> 1 px
    radius, alias = (v * 2 for v in TABLE["defocus_blur"][severity - 1])
    point = np.zeros((side, side), np.float32)
    point[200, 220] = 1.0
    out = corrupt(point, "defocus_blur", severity)
    ys, xs = np.nonzero(out > 1e-3 * out.max())
    assert np.hypot(ys - 200, xs - 220).max() == pytest.approx(radius + 2 * alias, abs=1.5)
    inside = out[200 - 6 : 200 + 7, 220 - 6 : 220 + 7]
    assert inside.std() < 1e-3 * inside.mean()  # flat inside the disk
    assert out.sum() == pytest.approx(1.0, abs=1e-4)
    assert disk_kernel(3, 0.1).shape[0] % 2 == 1


def test_motion_blur_smears_a_point_along_the_drawn_angle_with_the_tables_weights() -> None:
    side, severity = 448, 1  # scale 2: radius 10 -> 20 (41 taps), sigma 3 -> 6
    params = draw_corruption("x", 0, "motion_blur", severity, side=side)
    point = np.zeros((side, side), np.float32)
    point[100, 300] = 1.0
    for angle, (step_y, step_x) in ((0.0, (0, -1)), (90.0, (-1, 0))):
        out = apply_corruption(point, dataclasses.replace(params, angle_deg=angle))
        taps = np.arange(41)
        streak = out[100 + step_y * taps, 300 + step_x * taps]
        expected = np.exp(-(taps**2) / (2 * 6.0**2))
        assert np.allclose(streak, expected / expected.sum(), atol=1e-6)
        assert out.sum() == pytest.approx(streak.sum(), abs=1e-5)  # nothing off the line
    assert motion_weights(10, 3).size == 21


def test_gaussian_blur_spread_is_the_tables_sigma_times_the_scale() -> None:
    point = np.zeros((448, 448), np.float32)
    point[224, 224] = 1.0
    out = corrupt(point, "gaussian_blur", 3)  # sigma 3 at 224 -> 6 px here
    offsets = np.arange(448) - 224
    assert np.sqrt((out.sum(axis=0) * offsets**2).sum()) == pytest.approx(6.0, rel=0.01)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_zoom_blur_averages_zooms_about_the_centre(severity: int) -> None:
    # a horizontal ramp zoomed by z keeps its centre value and gets slope / z: the average
    # over the image and its zooms has slope * (1 + sum 1/z) / (n + 1) (exact away from edges)
    side = 101
    ramp = np.tile(0.2 + 0.6 * np.arange(side) / (side - 1), (side, 1)).astype(np.float32)
    factors = zoom_factors(*TABLE["zoom_blur"][severity - 1])
    assert factors[0] == 1.0 and factors.size == (12, 16, 11, 13, 11)[severity - 1]
    out = corrupt(ramp, "zoom_blur", severity)
    slope = 0.6 / (side - 1) * (1 + np.sum(1 / factors)) / (factors.size + 1)
    expected = 0.5 + slope * (np.arange(side) - 50)
    assert np.allclose(out[50, 10:-10], expected[10:-10], atol=1e-5)


def test_fog_adds_the_fractal_and_keeps_the_maximum() -> None:
    flat = np.full((96, 96, 3), 0.6, np.float32)
    for severity in SEVERITIES:
        strength, _ = TABLE["fog"][severity - 1]
        out = corrupt(flat, "fog", severity)
        assert out.max() <= 0.6 + 1e-6 and out.min() >= 0.6 * 0.6 / (0.6 + strength) - 1e-6
        assert out.std() > 0.01  # uneven: the fractal, not a constant veil
    assert np.array_equal(
        corrupt(np.zeros((32, 32, 3), np.float32), "fog", 3), np.zeros((32, 32, 3))
    )
    field = fog_field(draw_corruption("x", 0, "fog", 1, side=224), 224, 224)
    assert field.min() >= 0.0 and field.max() <= 1.0


@pytest.mark.parametrize("name", SCALED)
def test_size_scaling_makes_the_corruption_cover_the_same_fraction(name: str) -> None:
    # the same scene at 128 px and at 384 px: corrupting the large one and shrinking it by 3
    # gives (nearly) the small one's corruption; with the small image's pixel constants it
    # does not (a smaller blur, finer blocks, another crop of the fog's fractal)
    small = textured(128, seed=4)
    large = np.repeat(np.repeat(small, 3, axis=0), 3, axis=1)

    def shrunk(image: np.ndarray) -> np.ndarray:
        return image.reshape(128, 3, 128, 3, 3).mean(axis=(1, 3))

    reference = corrupt(small, name, 3)
    params = draw_corruption("c/test/x/000", 0, name, 3, side=384)
    scaled = psnr(shrunk(apply_corruption(large, params)), reference)
    as_small = dataclasses.replace(params, scale=128 / 224)
    unscaled = psnr(shrunk(apply_corruption(large, as_small)), reference)
    assert scaled > 38.0
    assert scaled > unscaled + 3.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of the luminances (Wang et al. 2004: Gaussian window of
    std 1.5, C1 = 0.01^2, C2 = 0.03^2, for images in [0, 1])."""
    x, y = a.mean(axis=2).astype(np.float64), b.mean(axis=2).astype(np.float64)

    def local(z: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(z, 1.5)

    mx, my = local(x), local(y)
    vx, vy, cov = local(x * x) - mx**2, local(y * y) - my**2, local(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(index.mean())


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_severity_degrades_the_image(name: str) -> None:
    # SSIM to the clean image falls with every severity step. Saturate is the exception by
    # design: severities 1-2 desaturate (x0.3, x0.1), 3-5 oversaturate (x2, x5 + 0.1, x20 + 0.2),
    # so only its over-saturated end is ordered. (PSNR is not a fit here: fog's severities 3
    # and 4 share a strength, and pixelate's exact factors 0.5 and 0.25 alias less.)
    image = textured(160, seed=5)
    quality = [ssim(corrupt(image, name, severity), image) for severity in SEVERITIES]
    if name == "saturate":
        assert max(quality[3:]) < min(quality[:3]) and quality[4] < quality[3], quality
    else:
        assert all(b < a for a, b in itertools.pairwise(quality)), quality
    assert quality[-1] < quality[0] - 0.02, quality
