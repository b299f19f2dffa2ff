"""Apply an ImageNet-C corruption (`evalsuite.data.corruption_params`) to one image.

Each function follows the definition of Hendrycks & Dietterich (ICLR 2019) and the constants of
their reference code, on float images in [0, 1]; what differs from that code is said where it
does. Noise and JPEG act per pixel of the image as given (a detector that downsizes the image
afterwards averages part of them away); the blurs, fog and pixelate scale with the image
(`CorruptionParams.scale`). Corruptions change pixel values only: masks do not change.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from evalsuite.data.corruption_blur import defocus_blur, fog, gaussian_blur, motion_blur, zoom_blur
from evalsuite.data.corruption_params import CorruptionParams

Corruption = Callable[[np.ndarray, CorruptionParams], np.ndarray]


def apply_corruption(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Corrupt one image.

    Args:
        image: (H, W, 3) or (H, W) float32 in [0, 1].
        params: the image's draw (`draw_corruption`).

    Returns:
        the corrupted image, same shape, float32 in [0, 1].
    """
    out = _FUNCTIONS[params.corruption](np.asarray(image, np.float32), params)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _noise_rng(params: CorruptionParams) -> np.random.Generator:
    return np.random.default_rng(params.noise_seed)


def gaussian_noise(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Additive Gaussian noise of std c."""
    (std,) = params.constants
    return image + std * _noise_rng(params).standard_normal(image.shape, np.float32)


def shot_noise(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Photon noise: Poisson counts at c photons per unit intensity, divided by c."""
    (rate,) = params.constants
    counts = _noise_rng(params).poisson(image.astype(np.float64) * rate)
    return (counts / rate).astype(np.float32)


def impulse_noise(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Salt and pepper: a fraction c of the values (per channel) set to 0 or 1, half each."""
    (amount,) = params.constants
    draw = _noise_rng(params).random(image.shape, np.float32)
    out = image.copy()
    out[draw < amount / 2] = 0.0
    out[(draw >= amount / 2) & (draw < amount)] = 1.0
    return out


def speckle_noise(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Multiplicative Gaussian noise: x + x * N(0, c)."""
    (std,) = params.constants
    return image * (1.0 + std * _noise_rng(params).standard_normal(image.shape, np.float32))


def brightness(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Add c to the HSV value (clipped), keeping hue and saturation.

    At fixed hue and saturation RGB is proportional to the value, so the pixel is rescaled by
    value'/value; a black pixel (no hue) becomes grey, as in the HSV round trip.
    """
    (shift,) = params.constants
    if image.ndim == 2:
        return image + shift
    value = image.max(axis=2, keepdims=True)
    lifted = np.clip(value + shift, 0.0, 1.0)
    ratio = np.divide(lifted, value, out=np.zeros_like(value), where=value > 0)
    return np.where(value > 0, image * ratio, lifted)


def contrast(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Pull each channel towards its mean: (x - mean) * c + mean."""
    (factor,) = params.constants
    mean = image.mean(axis=(0, 1), keepdims=True)
    return (image - mean) * factor + mean


def saturate(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Set the HSV saturation to s * a + b (clipped), keeping hue and value.

    At fixed hue and value each channel lies (value - channel) = value * s * g(hue) below the
    value, so that distance is rescaled; a grey pixel has hue 0 (red) in the HSV convention, so
    an added b tints it red, as the reference's round trip does. A grayscale image has no
    saturation and is returned unchanged.
    """
    gain, offset = params.constants
    if image.ndim == 2:
        return image
    value = image.max(axis=2, keepdims=True)
    below = value - image
    spread = below.max(axis=2, keepdims=True)
    sat = np.divide(spread, value, out=np.zeros_like(value), where=value > 0)
    target = np.clip(sat * gain + offset, 0.0, 1.0)
    ratio = np.divide(target, sat, out=np.zeros_like(sat), where=sat > 0)
    grey = value * target * np.array([0.0, 1.0, 1.0], np.float32)
    return value - np.where(sat > 0, below * ratio, grey)


def pixelate(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Box-downscale to c times the image's 224-equivalent size, then box-upscale back.

    The reference code resizes 224 px to int(224 * c) px (blocks of 1/c px); here the image
    is reduced by c / scale, so its blocks are scale / c px, the same fraction of the image.
    An image already smaller than that (under 224 * c px) has no finer detail to lose and is
    returned unchanged.
    """
    (factor,) = params.constants
    height, width = image.shape[:2]
    small = (
        min(max(int(width * factor / params.scale), 1), width),
        min(max(int(height * factor / params.scale), 1), height),
    )
    if small == (width, height):
        return image

    def plane(values: np.ndarray) -> np.ndarray:
        reduced = Image.fromarray(values).resize(small, Image.Resampling.BOX)
        return np.asarray(reduced.resize((width, height), Image.Resampling.BOX))

    if image.ndim == 2:
        return plane(image)
    return np.stack([plane(np.ascontiguousarray(image[..., c])) for c in range(3)], axis=2)


def jpeg_compression(image: np.ndarray, params: CorruptionParams) -> np.ndarray:
    """Encode as JPEG at quality c with Pillow's defaults, decode."""
    (quality,) = params.constants
    as_bytes = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(as_bytes).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded, dtype=np.float32) / 255.0


_FUNCTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
    "defocus_blur": defocus_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "gaussian_blur": gaussian_blur,
    "fog": fog,
    "brightness": brightness,
    "contrast": contrast,
    "saturate": saturate,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
}
