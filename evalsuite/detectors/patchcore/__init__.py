"""PatchCore, our implementation (Roth et al., "Towards total recall", CVPR 2022).

Composed of small parts: `embedding` (locally aware patch features), `greedy` (the greedy
k-center's data type and CPU loop, Algorithm 1; `greedy_pruned` its pruned variant),
`coreset` (the projection and the dispatch of the loop), `selection_store` (greedy selections
shared by a coreset sweep), `bank_selection` (the rows a fit's memory bank keeps: pooled or per
category, through a shared selection), `memory_bank` (exact faiss or torch search, opt-in HNSW),
`torch_ops` (the greedy and exact search on any torch device), `evidence` and `scorer` (one
search, then Eq. 6-7 and the anomaly map), `model` (the Detector) and `state` (its saved files).

The names are imported on first use, so `evalsuite.detectors.patchcore.params` (what a
configuration needs) does not import torch or faiss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.detectors.patchcore.evidence import PatchEvidence
    from evalsuite.detectors.patchcore.model import PatchCore
    from evalsuite.detectors.patchcore.params import PatchCoreParams
    from evalsuite.detectors.patchcore.selection_store import (
        FileSelectionStore,
        MemorySelectionStore,
        SelectionStore,
    )

_HOMES = {
    "FileSelectionStore": "selection_store",
    "MemorySelectionStore": "selection_store",
    "PatchCore": "model",
    "PatchCoreParams": "params",
    "PatchEvidence": "evidence",
    "SelectionStore": "selection_store",
}

__all__ = [
    "FileSelectionStore",
    "MemorySelectionStore",
    "PatchCore",
    "PatchCoreParams",
    "PatchEvidence",
    "SelectionStore",
]


def __getattr__(name: str) -> Any:
    """Import `name` from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
