"""What one nearest-neighbour search of test images yields, for every later use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchEvidence:
    """Nearest-neighbour evidence of N images: all that scoring needs from the search.

    `PatchCore.search` makes it once per (fit, input); `PatchCore.scores_from` (any b of
    Eq. 7, any sigma) and `PatchCore.nearest_categories_from` use it without searching the
    test patches again.

    Attributes:
        distances: (N, h, w) float32, each test patch's distance to its nearest memory patch.
        nn_indices: (N, h, w) int64, bank row of that nearest memory patch.
        worst_patches: (N, D) float32, m^{test,*}: the test patch of largest distance per
            image (the first one on ties), for Eq. 7.
    """

    distances: np.ndarray
    nn_indices: np.ndarray
    worst_patches: np.ndarray

    def __len__(self) -> int:
        """N, the number of images."""
        return int(self.distances.shape[0])
