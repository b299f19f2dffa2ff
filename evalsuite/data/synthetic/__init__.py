"""A synthetic MVTec-like dataset: hazelnut, carpet and zipper with exact defect masks.

It is the embedded default dataset (MVTec AD itself cannot be downloaded offline). Everything it
writes is labelled synthetic by a marker file at the tree's root (`SYNTHETIC_MARKER`).

    >>> generate(Path("data/synth"), SyntheticConfig(seed=0))  # doctest: +SKIP

The names are imported on first use, so `evalsuite.data.synthetic.config` (what a study
configuration needs) does not import scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.data.synthetic.config import (
        CATEGORIES,
        DEFECTS,
        GENERATOR_VERSION,
        SyntheticConfig,
    )
    from evalsuite.data.synthetic.scenes import GRAYSCALE, render, sample_seed
    from evalsuite.data.synthetic.writer import (
        SYNTHETIC_MARKER,
        generate,
        marker_content,
        read_marker,
    )

_HOMES = {
    "CATEGORIES": "config",
    "DEFECTS": "config",
    "GENERATOR_VERSION": "config",
    "SyntheticConfig": "config",
    "GRAYSCALE": "scenes",
    "render": "scenes",
    "sample_seed": "scenes",
    "SYNTHETIC_MARKER": "writer",
    "generate": "writer",
    "marker_content": "writer",
    "read_marker": "writer",
}

__all__ = [
    "CATEGORIES",
    "DEFECTS",
    "GENERATOR_VERSION",
    "GRAYSCALE",
    "SYNTHETIC_MARKER",
    "SyntheticConfig",
    "generate",
    "marker_content",
    "read_marker",
    "render",
    "sample_seed",
]


def __getattr__(name: str) -> Any:
    """Import `name` from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
