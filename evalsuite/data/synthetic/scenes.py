"""One synthetic image from its seed: the dispatch to the category's drawing code.

Every image has its own random stream, keyed by (seed, category, folder, defect, index); the
stream's first child draws the defect-free base and its second child draws the defect. So
`render(category, config, key)` with `defect=None` returns exactly the base under the defect that
`render(category, config, key, defect)` draws, and the two differ only near the defect's mask.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from evalsuite.data.synthetic import carpet, hazelnut, zipper
from evalsuite.data.synthetic.config import DEFECTS, SyntheticConfig
from evalsuite.data.synthetic.defects import Field, Mask
from evalsuite.errors import ConfigError, EvalsuiteError

Drawer = Callable[
    [np.random.Generator, np.random.Generator, int, float, str | None], tuple[Field, Mask]
]

_DRAW: dict[str, Drawer] = {
    "hazelnut": hazelnut.draw,
    "carpet": carpet.draw,
    "zipper": zipper.draw,
}
GRAYSCALE = frozenset({"zipper"})
"""Categories whose images are single-channel, as in MVTec AD."""


def sample_seed(
    config: SyntheticConfig, category: str, folder: str, defect: str, index: int
) -> np.random.SeedSequence:
    """The seed of one image, stable across runs, platforms and dataset sizes.

    Args:
        config: supplies the base seed.
        category: e.g. `hazelnut`.
        folder: `train` or `test`.
        defect: `good` or the defect type.
        index: position of the image in its folder.
    """
    words = [zlib.crc32(text.encode()) for text in (category, folder, defect)]
    return np.random.SeedSequence([config.seed, *words, index])


def render(
    category: str,
    config: SyntheticConfig,
    seed: np.random.SeedSequence | int,
    defect: str | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Render one image of `category` at `config.size` and `config.difficulty`.

    Args:
        category: one of `DEFECTS`.
        config: image size and difficulty.
        seed: the image's seed (see `sample_seed`) or a plain integer.
        defect: a defect type of `category`, or None for the defect-free base.

    Returns:
        image: (H, W, 3) uint8 RGB, or (H, W) uint8 for grayscale categories (zipper).
        mask: (H, W) bool, True where the defect is; all False when `defect` is None.
    """
    if category not in _DRAW:
        raise ConfigError(f"unknown synthetic category {category!r}; known: {', '.join(_DRAW)}")
    if defect is not None and defect not in DEFECTS[category]:
        raise ConfigError(
            f"unknown defect {defect!r} for synthetic {category}; "
            f"known: {', '.join(DEFECTS[category])}"
        )
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    base_rng, defect_rng = (
        np.random.default_rng(
            np.random.SeedSequence(sequence.entropy, spawn_key=(*sequence.spawn_key, child))
        )
        for child in (0, 1)
    )
    image, mask = _DRAW[category](base_rng, defect_rng, config.size, config.difficulty, defect)
    if defect is not None and not mask.any():
        raise EvalsuiteError(
            f"synthetic {category}/{defect} drew an empty mask at size {config.size} and "
            f"difficulty {config.difficulty}; use a larger size or a lower difficulty"
        )
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return pixels, mask
