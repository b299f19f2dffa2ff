"""PatchCore, our implementation (Roth et al., "Towards total recall", CVPR 2022).

Composed of small parts: `embedding` (locally aware patch features), `coreset` (greedy
k-center, Algorithm 1), `selection_store` (greedy selections shared
by a coreset sweep), `memory_bank` (exact faiss or torch search, opt-in HNSW), `torch_ops`
(the greedy and exact search on any torch device), `evidence` and `scorer` (one search, then
Eq. 6-7 and the anomaly map) and `model` (the Detector).
"""

from evalsuite.detectors.patchcore.evidence import PatchEvidence
from evalsuite.detectors.patchcore.model import PatchCore
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.patchcore.selection_store import (
    FileSelectionStore,
    MemorySelectionStore,
    SelectionStore,
)

__all__ = [
    "FileSelectionStore",
    "MemorySelectionStore",
    "PatchCore",
    "PatchCoreParams",
    "PatchEvidence",
    "SelectionStore",
]
