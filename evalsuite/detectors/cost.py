"""The cost-model protocol: how a detector prices its fit, its scoring and its peak memory for
`evalsuite plan --estimate`, and which kernels' rates must be measured for it.

The runner knows the shapes (`FitShape`: images, positions, channels, input size); the
detector's cost model counts its elementary operations from them and prices each with the
rate of a `Kernel` it names. `runner.estimate.measure` times every kernel the study's
detectors name (each with its own timing function, on the run's device); every kernel also
carries a reference rate, measured once on the development machine, with which shards are
balanced identically on every machine. A detector without a cost model is still planned and
run: the estimate says that it has none. Importing this module imports no model library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from evalsuite.detectors.params import DetectorParams

if TYPE_CHECKING:
    import torch

P_contra = TypeVar("P_contra", bound=DetectorParams, contravariant=True)


@dataclass(frozen=True)
class Kernel:
    """One elementary operation whose rate the estimate measures.

    Attributes:
        name: the rate's key, e.g. `patchcore.greedy`; several cost models may name one kernel
            (it is then measured once).
        time: (least seconds to run, device) -> seconds per operation on this machine.
        reference_s: seconds per operation on the project's 2-core development machine.
        unit: what one operation is, for the reader (e.g. "multiply-add").
    """

    name: str
    time: Callable[[float, torch.device], float]
    reference_s: float
    unit: str


@dataclass(frozen=True)
class KernelRates:
    """The measured (or reference) rates the cost models price with.

    Attributes:
        seconds: kernel name -> seconds per operation.
        device: the device kind they were measured on (`cpu`, `cuda`).
    """

    seconds: Mapping[str, float]
    device: str = "cpu"

    def __getitem__(self, name: str) -> float:
        """Seconds per operation of kernel `name`."""
        return self.seconds[name]


@dataclass(frozen=True)
class LayerShape:
    """One backbone layer as a detector reads it.

    Attributes:
        channels: C, the channels of its feature map.
        grid: (h, w) of its feature map at the run's input size.
    """

    channels: int
    grid: tuple[int, int]


@dataclass(frozen=True)
class FitShape:
    """What the runner knows of one fit before running it.

    Attributes:
        train_images: the images it is fitted on.
        train_per_category: category -> its images among them.
        searched_images: distinct (search settings, image) pairs its cells score.
        input_size: (H, W) of the network input; anomaly maps have this size.
        layers: the detector's layers in its order -> their shapes.
    """

    train_images: int
    train_per_category: Mapping[str, int]
    searched_images: int
    input_size: tuple[int, int]
    layers: Mapping[str, LayerShape]


@dataclass(frozen=True)
class Price:
    """A fit's projected cost.

    Attributes:
        fit_s: seconds to fit.
        score_s: seconds to search and score its `searched_images`.
        peak_bytes: its resident memory beyond the worker's base (libraries loaded).
        shared_fit_s: the part of `fit_s` that the fits of one unit share (a nested selection:
            priced once, for the largest); 0 without nested selections.
        saved_bytes: what the fitted model writes into the results folder (`fits/<fit id>/`);
            None when the cost model does not say.
    """

    fit_s: float
    score_s: float
    peak_bytes: int
    shared_fit_s: float = 0.0
    saved_bytes: int | None = None


class CostModel(Protocol[P_contra]):
    """A detector's cost model."""

    @property
    def kernels(self) -> Sequence[Kernel]:
        """The kernels whose rates `price` reads."""
        ...

    def price(self, params: P_contra, shape: FitShape, rates: KernelRates) -> Price:
        """The projected cost of one fit with `params` of `shape` at `rates`."""
        ...
