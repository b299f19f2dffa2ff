"""MVTec-Shift parameters: one seeded draw per image, three severity levels.

The photometric part is modelled on MVTec AD 2's acquisition changes (Heckler-Kram et al.
2025): its lighting conditions `regular`, `overexposed` and `underexposed`, plus contrast,
gamma, colour temperature, defocus blur, sensor noise and an uneven illumination (a linear
gradient and a spotlight). The geometric part models a moved camera or part: rotation,
translation, scale and a slight perspective.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from evalsuite.errors import ConfigError

Lighting = Literal["regular", "overexposed", "underexposed"]
SEVERITIES = (1, 2, 3)


@dataclass(frozen=True)
class SeverityRanges:
    """Largest magnitude of each change at one severity (each image draws within them)."""

    exposure_stops: float  # over/under-exposure, in photographic stops (gain 2**stops)
    contrast: float  # contrast factor 1 ± this
    gamma_log: float  # gamma = exp(±this)
    temperature: float  # red gain 1+t, blue gain 1−t
    blur_sigma: float  # Gaussian defocus, pixels at 256 px (scaled with image size)
    noise_sigma: float  # additive Gaussian sensor noise, intensity in [0, 1]
    illumination: float  # strength of the gradient and of the spotlight
    rotation_deg: float
    translation: float  # fraction of the image side
    scale: float  # scale factor 1 ± this
    perspective: float  # corner displacement, fraction of the image side


RANGES: dict[int, SeverityRanges] = {
    1: SeverityRanges(0.5, 0.10, 0.10, 0.05, 0.6, 0.010, 0.15, 3.0, 0.02, 0.03, 0.01),
    2: SeverityRanges(1.0, 0.20, 0.20, 0.10, 1.0, 0.020, 0.30, 7.0, 0.04, 0.06, 0.02),
    3: SeverityRanges(1.5, 0.35, 0.35, 0.18, 1.8, 0.040, 0.50, 12.0, 0.07, 0.10, 0.04),
}


@dataclass(frozen=True)
class ShiftParams:
    """The shift one image receives (written beside the output so it can be audited)."""

    severity: int
    lighting: Lighting
    exposure_stops: float
    contrast: float
    gamma: float
    temperature: float
    blur_sigma: float
    noise_sigma: float
    noise_seed: int
    gradient: float
    gradient_angle_deg: float
    spot: float
    spot_center: tuple[float, float]  # (x, y) as fractions of width and height
    spot_radius: float  # fraction of the image side
    rotation_deg: float
    translation: tuple[float, float]  # (x, y) fractions of width and height
    scale: float
    corners: tuple[tuple[float, float], ...]  # 4 corner displacements (x, y), fractions

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def _rng(seed: int, sample_id: str) -> np.random.Generator:
    word = int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, word])


def draw_params(sample_id: str, seed: int, severity: int, size: int = 256) -> ShiftParams:
    """Draw the shift of one image: the same (id, seed, severity) always gives the same draw.

    Args:
        sample_id: the image's id (shared by its clean copy).
        seed: the shift seed.
        severity: 1, 2 or 3.
        size: the image's longer side in pixels (blur scales with it).
    """
    if severity not in RANGES:
        raise ConfigError(f"shift severity {severity!r}: must be one of {list(SEVERITIES)}")
    r = RANGES[severity]
    rng = _rng(seed, sample_id)

    def signed(limit: float) -> float:
        return float(rng.uniform(-limit, limit))

    lighting: Lighting = ("regular", "overexposed", "underexposed")[int(rng.integers(3))]
    stops = {
        "regular": signed(0.15 * r.exposure_stops),
        "overexposed": float(rng.uniform(0.5, 1.0) * r.exposure_stops),
        "underexposed": -float(rng.uniform(0.5, 1.0) * r.exposure_stops),
    }[lighting]
    return ShiftParams(
        severity=severity,
        lighting=lighting,
        exposure_stops=stops,
        contrast=1.0 + signed(r.contrast),
        gamma=float(np.exp(signed(r.gamma_log))),
        temperature=signed(r.temperature),
        blur_sigma=float(rng.uniform(0.3, 1.0) * r.blur_sigma * size / 256),
        noise_sigma=float(rng.uniform(0.5, 1.0) * r.noise_sigma),
        noise_seed=int(rng.integers(2**31)),
        gradient=float(rng.uniform(0, r.illumination)),
        gradient_angle_deg=float(rng.uniform(0, 360)),
        spot=signed(r.illumination),
        spot_center=(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))),
        spot_radius=float(rng.uniform(0.2, 0.5)),
        rotation_deg=signed(r.rotation_deg),
        translation=(signed(r.translation), signed(r.translation)),
        scale=1.0 + signed(r.scale),
        corners=tuple((signed(r.perspective), signed(r.perspective)) for _ in range(4)),
    )
