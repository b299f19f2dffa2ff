"""PatchCore, our implementation (Roth et al., "Towards total recall", CVPR 2022).

Composed of small parts: `embedding` (locally aware patch features), `coreset` (greedy
k-center, Algorithm 1), `memory_bank` (exact faiss search), `scorer` (Eq. 7 and the anomaly
map) and `model` (the Detector).
"""

from evalsuite.detectors.patchcore.model import PatchCore
from evalsuite.detectors.patchcore.params import PatchCoreParams

__all__ = ["PatchCore", "PatchCoreParams"]
