"""The corruption family: ImageNet-C's corruption types, their severities and one draw per image.

Hendrycks & Dietterich, "Benchmarking neural network robustness to common corruptions and
perturbations", ICLR 2019. The paper defines each type in words; its numbers per severity live in
the reference code (hendrycks/robustness, `ImageNet-C/create_c/make_imagenet_c.py`), carried over
into `TABLE` below, the same values that `imagecorruptions` (Michaelis et al. 2019) packages.
The functions that apply them are `evalsuite.data.corruptions` (our own implementation: the
package does not import with our numpy, scikit-image and setuptools; see docs/data.md).

The benchmark's images are 224 x 224 px. Constants measured in pixels (blur radii, the fog's
fractal, pixelate's blocks) are multiplied by `CorruptionParams.scale`, the image's shorter side
over 224, so a corruption covers the same fraction of any image as of a benchmark image.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from evalsuite.errors import ConfigError

REFERENCE_SIDE = 224
"""The side, in pixels, that the published constants were defined on."""
SEVERITIES = (1, 2, 3, 4, 5)

# The published constants per severity 1..5 (make_imagenet_c.py, one `c = [...]` per function).
# Each entry is a tuple so that every type records the same shape of value.
TABLE: dict[str, tuple[tuple[float, ...], ...]] = {
    # noise
    "gaussian_noise": ((0.08,), (0.12,), (0.18,), (0.26,), (0.38,)),  # std of the additive noise
    "shot_noise": ((60,), (25,), (12,), (5,), (3,)),  # photons per unit intensity (Poisson rate)
    "impulse_noise": ((0.03,), (0.06,), (0.09,), (0.17,), (0.27,)),  # salt-and-pepper fraction
    "speckle_noise": ((0.15,), (0.20,), (0.35,), (0.45,), (0.60,)),  # std of multiplicative noise
    # blur (radius, sigma in px at 224)
    "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),  # disk, anti-alias sigma
    "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),  # kernel radius, sigma
    "zoom_blur": (
        (1.11, 0.01),
        (1.15, 0.01),
        (1.20, 0.02),
        (1.24, 0.02),
        (1.30, 0.03),
    ),  # last, step
    "gaussian_blur": ((1,), (2,), (3,), (4,), (6,)),  # sigma
    # weather
    "fog": (
        (1.5, 2.0),
        (2.0, 2.0),
        (2.5, 1.7),
        (2.5, 1.5),
        (3.0, 1.4),
    ),  # strength, roughness decay
    "brightness": ((0.1,), (0.2,), (0.3,), (0.4,), (0.5,)),  # added to HSV value
    # digital
    "contrast": ((0.4,), (0.3,), (0.2,), (0.1,), (0.05,)),  # factor towards the channel mean
    "saturate": ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)),  # HSV s*a + b
    "pixelate": ((0.6,), (0.5,), (0.4,), (0.3,), (0.25,)),  # downscale factor
    "jpeg_compression": ((25,), (18,), (15,), (10,), (7,)),  # JPEG quality
}
CORRUPTIONS = tuple(TABLE)
HELD_OUT = ("speckle_noise", "gaussian_blur", "saturate")
"""ImageNet-C's extra (validation) corruptions: not part of its mean corruption error."""
SCALED = ("defocus_blur", "motion_blur", "gaussian_blur", "fog", "pixelate")
"""The types whose constants are in pixels at 224 and scale with the image (see `scale`)."""


@dataclass(frozen=True)
class CorruptionParams:
    """The corruption one image receives (recorded so it can be audited and reproduced).

    Corruptions change pixel values only: nothing moves, so masks and labels stay as they are.
    """

    corruption: str
    severity: int
    constants: tuple[float, ...]  # the published values at this severity (px at 224)
    scale: float  # the image's shorter side / 224: multiplies the constants in pixels
    noise_seed: int  # seeds the noise, impulse and fog fields
    angle_deg: float | None  # motion blur's direction (None for the other types)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def _rng(seed: int, sample_id: str) -> np.random.Generator:
    """The image's generator: from (seed, id) only, as MVTec-Shift's, with its own stream."""
    word = int.from_bytes(hashlib.sha256(f"corruption:{sample_id}".encode()).digest()[:8], "little")
    return np.random.default_rng([seed, word])


def draw_corruption(
    sample_id: str, seed: int, corruption: str, severity: int, side: int = REFERENCE_SIDE
) -> CorruptionParams:
    """Draw the corruption of one image: the same (id, seed) always gives the same draw.

    The random part (noise seed, motion direction) depends on (id, seed) only, not on the type
    or severity, so one image's severities differ by their constants alone.

    Args:
        sample_id: the image's id (shared by its clean copy).
        seed: the shift seed.
        corruption: one of `CORRUPTIONS`.
        severity: 1 to 5.
        side: the image's shorter side in pixels.

    Raises:
        ConfigError: an unknown corruption or severity.
    """
    if corruption not in TABLE:
        raise ConfigError(
            f"corruption {corruption!r}: unknown; use one of {', '.join(CORRUPTIONS)}"
        )
    if severity not in SEVERITIES:
        raise ConfigError(f"corruption severity {severity!r}: must be one of {list(SEVERITIES)}")
    rng = _rng(seed, sample_id)
    noise_seed = int(rng.integers(2**31))
    angle = float(rng.uniform(-45.0, 45.0))  # the reference draws U(-45, 45) degrees
    return CorruptionParams(
        corruption=corruption,
        severity=severity,
        constants=tuple(float(v) for v in TABLE[corruption][severity - 1]),
        scale=max(int(side), 1) / REFERENCE_SIDE,
        noise_seed=noise_seed,
        angle_deg=angle if corruption == "motion_blur" else None,
    )
