"""A synthetic MVTec-like dataset: hazelnut, carpet and zipper with exact defect masks.

It is the embedded default dataset (MVTec AD itself cannot be downloaded offline). Everything it
writes is labelled synthetic by a marker file at the tree's root (`SYNTHETIC_MARKER`).

    >>> generate(Path("data/synth"), SyntheticConfig(seed=0))  # doctest: +SKIP
"""

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
