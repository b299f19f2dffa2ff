"""What the detectors built on anomalib's torch models (PaDiM, DFM, DFKDE) share: a
constructor fed by a described feature source (one that names its backbone), and the files of
a fitted model (a JSON state beside a tensor file), written atomically and read back checked."""

from __future__ import annotations

import json
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import torch

from evalsuite.backbone.device import as_device, configure_determinism
from evalsuite.detectors.base import DescribedFeatureSource, FeatureSource
from evalsuite.errors import ConfigError, ResultsError

P = TypeVar("P")
"""The detector's params class."""


class FeatureDetector(ABC, Generic[P]):
    """The common constructor: checks the feature source, settles the device, keeps the
    arguments, then calls `_build` for what the detector makes of them.

    Args:
        params: hyperparameters.
        features: the backbone features (a FeatureCache in runs), naming their backbone.
        seed: the detector's seed.
        batch_size: images per feature batch.
        device: where the detector computes: a torch device, `auto`/`cpu`/`cuda` (see
            `resolve_device`), or None for the CPU.

    Raises:
        ConfigError: a feature source that does not name its backbone, or an unknown device.
        WeightsError: `cuda` without a visible CUDA device.

    Class attributes:
        NAME: the detector's name in messages.
        NEEDS: what it needs of the feature source, in the message refusing another one.

    Attributes:
        device: the torch device computations run on.
        backbone: timm name of the backbone the features come from.
    """

    NAME: ClassVar[str]
    NEEDS: ClassVar[str] = "a feature source that names its backbone"

    def __init__(
        self,
        params: P,
        features: FeatureSource,
        seed: int,
        *,
        batch_size: int = 16,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(features, DescribedFeatureSource):
            raise ConfigError(f"{self.NAME} needs {self.NEEDS} (evalsuite.backbone.FeatureCache)")
        self.device = as_device(device)
        configure_determinism(self.device)
        self.params = params
        self.features: DescribedFeatureSource = features
        self.seed = seed
        self.batch_size = batch_size
        self.backbone = features.backbone_name
        self._build()

    @abstractmethod
    def _build(self) -> None:
        """Build the detector's own parts from the attributes set above."""


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """`torch.save` to a temp file in `path`'s folder, then `os.replace` onto `path`."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(tensors, temp)
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def read_state(path: Path, detector: str) -> dict[str, Any]:
    """The JSON state `detector` saved at `path`.

    Raises:
        ResultsError: missing, unreadable, or another detector's state.
    """
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultsError(
            f"{path}: missing or unreadable {detector} state ({error}); fit again"
        ) from error
    if not isinstance(state, dict) or state.get("detector") != detector:
        article = "an" if detector[0] in "aeiou" else "a"
        raise ResultsError(f"{path}: not {article} {detector} state file; fit again (--force)")
    return state


def read_tensors(path: Path, what: str, *, mmap: bool = False) -> dict[str, torch.Tensor]:
    """The mapping of CPU tensors `save_tensors` wrote at `path` (`what` names it in errors).

    Raises:
        ResultsError: missing or unreadable, or not a mapping of tensors.
    """
    try:
        tensors = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (OSError, RuntimeError, EOFError) as error:
        raise ResultsError(f"{path}: missing or unreadable {what} ({error})") from error
    if not isinstance(tensors, dict) or not all(
        isinstance(t, torch.Tensor) for t in tensors.values()
    ):
        raise ResultsError(f"{path}: expected a mapping of tensors; fit again (--force)")
    return tensors
