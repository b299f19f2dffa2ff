"""Which recorded parameter of an image's MVTec-Shift draw encodes each factor, and where the
draws are read.

One number per factor, the size of the change whatever its direction (a detector that scores
the distance from normal reacts alike to over- and underexposure, to a turn either way):

| factor | parameter | from the draw (`data.shift_params.ShiftParams`) |
|---|---|---|
| exposure | \\|exposure_stops\\| | stops of over- or underexposure |
| contrast | \\|contrast − 1\\| | the contrast factor's departure from 1 |
| gamma | \\|log gamma\\| | |
| temperature | \\|temperature\\| | the red/blue gain's departure from 1 |
| blur | blur_sigma | pixels |
| noise | noise_sigma | intensity in [0, 1] |
| illumination | gradient + \\|spot\\| | strength of the gradient and of the spotlight |
| rotation | \\|rotation_deg\\| | degrees |
| translation | \\|translation\\| | the shift's length, fraction of the side |
| scale | \\|scale − 1\\| | |
| perspective | corner shift | the corners' mean displacement, fraction of the side |

The draws of a severity are the results folder's `splits/shift-s<k>.json` (`images`: id ->
parameters), named by the manifest's `shift_parameters`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from evalsuite.data.shift_factors import FACTORS
from evalsuite.site.read.records import Results

Draw = Mapping[str, Any]


def _norm(pair: Any) -> float:
    return math.hypot(float(pair[0]), float(pair[1]))


ENCODINGS: dict[str, tuple[str, Callable[[Draw], float]]] = {
    "exposure": ("|exposure_stops|", lambda d: abs(float(d["exposure_stops"]))),
    "contrast": ("|contrast − 1|", lambda d: abs(float(d["contrast"]) - 1.0)),
    "gamma": ("|log gamma|", lambda d: abs(math.log(float(d["gamma"])))),
    "temperature": ("|temperature|", lambda d: abs(float(d["temperature"]))),
    "blur": ("blur_sigma", lambda d: float(d["blur_sigma"])),
    "noise": ("noise_sigma", lambda d: float(d["noise_sigma"])),
    "illumination": ("gradient + |spot|", lambda d: float(d["gradient"]) + abs(float(d["spot"]))),
    "rotation": ("|rotation_deg|", lambda d: abs(float(d["rotation_deg"]))),
    "translation": ("|translation|", lambda d: _norm(d["translation"])),
    "scale": ("|scale − 1|", lambda d: abs(float(d["scale"]) - 1.0)),
    "perspective": ("corner shift", lambda d: sum(_norm(c) for c in d["corners"]) / 4.0),
}
"""factor -> (the parameter's name, its value from one image's draw), in `FACTORS` order."""


def encode(draw: Draw) -> list[float] | None:
    """The parameters of one image's draw in `FACTORS` order, or None when the draw lacks one
    (a record of another shift family)."""
    try:
        return [ENCODINGS[factor][1](draw) for factor in FACTORS]
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def mixed_draws(results: Results, severity: int) -> dict[str, Draw]:
    """The per-image draws of the mixed MVTec-Shift at `severity` (id -> parameters), from the
    split file the manifest names (else `splits/shift-s<k>.json`); empty when absent."""
    named = (results.manifest or {}).get("shift_parameters") or {}
    path = named.get(str(severity), f"splits/shift-s{severity}.json")
    content = results.splits.get(path)
    if not isinstance(content, dict) or content.get("severity") != severity:
        return {}
    if content.get("factors", "all") not in ("all", ["all"]):
        return {}
    if str(content.get("family") or "mvtec_shift").replace("-", "_") != "mvtec_shift":
        return {}
    images = content.get("images")
    return dict(images) if isinstance(images, dict) else {}
