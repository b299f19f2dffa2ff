"""PaDiM's cost model: its Gaussians' moments and inverses, the Mahalanobis distances, the maps.

Counted from the fit's shape (see `evalsuite.detectors.cost`), with d = `n_features` and P the
positions of the first layer's grid:

- moments: train images x P x d^2 multiply-adds (the outer products accumulated);
- inverse: P x d^3 (one Cholesky inverse per position);
- scoring: searched images x P x d^2 multiply-adds, plus the anomaly maps (searched images x
  H x W output pixels, priced at PatchCore's map rate: the same upsampling and blur);
- saved: the inverse covariances (P x d x d float32), the means (d x P float32) and the channel
  subset (d int64): what `padim_stats.pt` holds.

Each kernel is timed on its own in the torch operation the detector runs (`GaussianMoments`,
`torch.cholesky_inverse`, anomalib's distance), without importing anomalib.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evalsuite.detectors.cost import FitShape, Kernel, KernelRates, Price
from evalsuite.detectors.padim_params import PadimParams
from evalsuite.detectors.patchcore.cost import ANOMALY_MAP, MAP_KERNEL
from evalsuite.detectors.timing import timed

if TYPE_CHECKING:
    import torch

MOMENTS = "padim.moments"
INVERSE = "padim.inverse"
SCORE = "padim.score"
_D, _POSITIONS, _BATCH = 256, 64, 8


def _time_moments(seconds: float, device: torch.device) -> float:
    """Seconds per multiply-add of the moment accumulation (a batched outer product)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    block = torch.randn(_POSITIONS, _BATCH, _D, generator=generator).to(device)
    outer = torch.zeros(_POSITIONS, _D, _D, device=device)
    elapsed = timed(lambda: outer.baddbmm_(block.transpose(1, 2), block), seconds, device)
    return elapsed / (_POSITIONS * _BATCH * _D * _D)


def _time_inverse(seconds: float, device: torch.device) -> float:
    """Seconds per d^3 of one position's Cholesky inverse (float64)."""
    import torch

    spd = (torch.eye(_D, dtype=torch.float64).expand(8, _D, _D) * 2.0 + 0.01).to(device)
    elapsed = timed(lambda: torch.cholesky_inverse(torch.linalg.cholesky(spd)), seconds, device)
    return elapsed / (8 * _D**3)


def _time_score(seconds: float, device: torch.device) -> float:
    """Seconds per multiply-add of the Mahalanobis distances."""
    import torch

    generator = torch.Generator().manual_seed(0)
    inv = torch.eye(_D).expand(_POSITIONS, _D, _D).contiguous().to(device)
    delta = torch.randn(_BATCH, _POSITIONS, _D, generator=generator).to(device)
    elapsed = timed(lambda: torch.einsum("bpi,pij,bpj->bp", delta, inv, delta), seconds, device)
    return elapsed / (_BATCH * _POSITIONS * _D * _D)


MOMENTS_KERNEL = Kernel(MOMENTS, _time_moments, 1.0e-10, "multiply-add of the moments")
INVERSE_KERNEL = Kernel(INVERSE, _time_inverse, 3.0e-10, "d^3 of one Cholesky inverse")
SCORE_KERNEL = Kernel(SCORE, _time_score, 1.0e-10, "multiply-add of the distances")


class PadimCost:
    """PaDiM's cost model (see the module docstring); a CostModel[PadimParams]."""

    @property
    def kernels(self) -> Sequence[Kernel]:
        """The moments, the inverse, the distances and the anomaly maps."""
        return (MOMENTS_KERNEL, INVERSE_KERNEL, SCORE_KERNEL, MAP_KERNEL)

    def price(self, params: PadimParams, shape: FitShape, rates: KernelRates) -> Price:
        """Fit (moments and inverses), score (distances and maps) and peak memory of one fit."""
        height, width = next(iter(shape.layers.values())).grid
        positions, d = height * width, params.n_features
        input_h, input_w = shape.input_size
        maps_s = shape.searched_images * input_h * input_w * rates[ANOMALY_MAP]
        return Price(
            fit_s=shape.train_images * positions * d * d * rates[MOMENTS]
            + positions * d**3 * rates[INVERSE],
            score_s=shape.searched_images * positions * d * d * rates[SCORE] + maps_s,
            peak_bytes=4 * positions * d * d + 8 * positions * d * d // 4,
            saved_bytes=4 * positions * d * d + 4 * d * positions + 8 * d,
        )


COST_MODEL = PadimCost()
