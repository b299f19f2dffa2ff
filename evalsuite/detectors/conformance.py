"""The built-in detectors checked against the protocols their registry entries declare.

Nothing here runs: mypy checks that each function's argument is what its return type says
(tests/test_detector_protocol.py checks the same at run time, against the registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalsuite.detectors.anomalib_models.model import AnomalibDetector
    from evalsuite.detectors.anomalib_models.params import AnomalibParams
    from evalsuite.detectors.base import (
        Detector,
        DetectorClass,
        MemoryBankDetector,
        NestedSelectionDetector,
        Scores,
        SplitDetector,
    )
    from evalsuite.detectors.cost import CostModel
    from evalsuite.detectors.padim import Padim
    from evalsuite.detectors.padim_cost import PadimCost
    from evalsuite.detectors.padim_params import PadimParams
    from evalsuite.detectors.patchcore.cost import PatchCoreCost
    from evalsuite.detectors.patchcore.evidence import PatchEvidence
    from evalsuite.detectors.patchcore.model import PatchCore
    from evalsuite.detectors.patchcore.params import PatchCoreParams


def patchcore(
    model: PatchCore,
) -> tuple[MemoryBankDetector[PatchEvidence, PatchCoreParams], NestedSelectionDetector]:
    """PatchCore: split, memory bank, nested selections (`registry.DETECTORS["patchcore"]`)."""
    return model, model


def patchcore_class(
    cls: type[PatchCore], cost: PatchCoreCost
) -> tuple[DetectorClass[PatchCoreParams], CostModel[PatchCoreParams]]:
    """PatchCore's construction and loading, and its cost model."""
    return cls, cost


def padim(model: Padim) -> SplitDetector[Scores, PadimParams]:
    """PaDiM: split, its evidence its scores (`registry.DETECTORS["padim"]`)."""
    return model


def padim_class(
    cls: type[Padim], cost: PadimCost
) -> tuple[DetectorClass[PadimParams], CostModel[PadimParams]]:
    """PaDiM's construction and loading, and its cost model."""
    return cls, cost


def anomalib(model: AnomalibDetector) -> Detector:
    """anomalib's models: the required protocol only (`registry.DETECTORS["anomalib"]`)."""
    return model


def anomalib_class(cls: type[AnomalibDetector]) -> DetectorClass[AnomalibParams]:
    """The anomalib adapter's construction and loading (no cost model)."""
    return cls
