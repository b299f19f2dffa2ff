"""The evaluation defaults each dataset layout's own protocol asks for.

MVTec AD 2 (Heckler-Kram et al., 2025, arXiv 2503.21622) has a normal-only validation split
(`validation/good`), so no threshold can be fitted to anomalies: its protocol binarises the
anomaly maps at mean + 3 standard deviations of the validation anomaly scores (the baseline the
official upload checker names), reports SegF1 (the pooled pixel F1 of those masks, our
`pixel_f1`) and AU-PRO integrated to an FPR of 0.05 (our `aupro_0.05`, reported beside MVTec
AD's `aupro_0.3` by default). Its defaults are therefore `mean_std` with k = 3 at both levels
(the `f1` strategy would need anomalous val images). MVTec AD and VisA keep the study defaults.

The study's own `evaluation` table wins over these: they fill only what it leaves unset.
"""

from __future__ import annotations

import copy
from typing import Any

from evalsuite.errors import ConfigError

_MEAN_STD = {"strategy": "mean_std", "k": 3.0}

LAYOUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "mvtec": {},
    "visa": {},
    "mvtec_ad2": {"image_threshold": dict(_MEAN_STD), "pixel_threshold": dict(_MEAN_STD)},
}
"""Layout -> the `evaluation` settings its protocol sets (the rest stays at the defaults)."""


def evaluation_defaults(layout: str) -> dict[str, Any]:
    """The `evaluation` settings the protocol of dataset layout `layout` sets.

    Args:
        layout: `data.layout`: "mvtec", "visa" or "mvtec_ad2".

    Returns:
        a fresh dict of `EvaluationSettings` fields (e.g. {"pixel_threshold": {"strategy":
        "mean_std", "k": 3.0}, ...}); {} when the layout keeps the study defaults.

    Raises:
        ConfigError: an unknown layout, naming the known ones.
    """
    if layout not in LAYOUT_DEFAULTS:
        raise ConfigError(
            f"unknown data layout {layout!r}; known: {', '.join(sorted(LAYOUT_DEFAULTS))}"
        )
    return copy.deepcopy(LAYOUT_DEFAULTS[layout])
