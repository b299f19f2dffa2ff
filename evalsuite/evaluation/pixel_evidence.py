"""Per-image sufficient statistics of a cell's pixel metrics, for paired bootstraps without maps.

Records keep image scores, not anomaly maps; a paired difference of pixel metrics between two
cells needs, per test image, the statistics from which a resample's metric follows (the
per-image counts c (N,) of `evaluation.bootstrap.resample_counts`):

- pixel AUROC: the pair matrix M (N, N) of `evaluation.pixel_bootstrap` (defect pixels of image
  i ranked above normal pixels of image j, ties 1/2), n_defect (N,) and n_normal (N,):
  AUROC(c) = c^T M c / ((c . n_defect) (c . n_normal)), exact.
- AU-PRO: FP[i, k] (normal pixels of image i >= t_k) and R[i, k] (summed region overlap of image
  i at t_k) on a grid of `EVIDENCE_THRESHOLDS` exact thresholds picked evenly along the
  full-sample curve up to FPR = 2 fpr_limit (arc length FPR / fpr_limit + PRO), and n_regions
  (N,); the curve of a resample is closed with (1, 1). The grid changes AU-PRO by about 1e-3 at
  most (tested); the paired difference uses the grid for both cells and for a and b alike.
- pixel F1: TP, FP, FN (N, 3) at the cell's val pixel threshold, exact.
- AUPIMO (N,) per image (`evaluation.aupimo`, NaN for normal images): kept here, not in the
  record, because it is pixel evidence like the rest (derived from the maps, defined only with
  masks, read by the site for its per-image tests) and the record's schema stays as it is.

Stored as float32 (counts up to 2^24 are exact): at MVTec scale (N = 150 test images, maps of
224 x 224) about 0.45 MB per cell before compression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation import _checks
from evalsuite.evaluation.aupimo import aupimo
from evalsuite.evaluation.pixel_bootstrap import _pair_matrix, _per_image_curves
from evalsuite.evaluation.pro import check_limit, pro_curve

EVIDENCE_THRESHOLDS = 300
"""AU-PRO grid size of the stored evidence (see the module docstring)."""


@dataclass(frozen=True)
class PixelEvidence:
    """Per-image statistics of one cell's pixel metrics; a part is None when undefined.

    Attributes:
        n_defect: (N,) defect pixels per image.
        n_normal: (N,) normal pixels per image.
        pairs: (N, N) pixel AUROC pair matrix, or None without both pixel classes.
        pro_fp: (N, K) normal pixels >= t_k, or None without a defect region.
        pro_overlap: (N, K) summed region overlap at t_k, or None likewise.
        n_regions: (N,) defect regions per image.
        f1_counts: (N, 3) TP, FP, FN at the pixel threshold, or None without one.
        fpr_limit: the AU-PRO integration limit the grid was built for.
        aupimo: (N,) AUPIMO per image (NaN for normal images), or None when undefined (or
            evidence written before it).
    """

    n_defect: np.ndarray
    n_normal: np.ndarray
    pairs: np.ndarray | None
    pro_fp: np.ndarray | None
    pro_overlap: np.ndarray | None
    n_regions: np.ndarray
    f1_counts: np.ndarray | None
    fpr_limit: float = 0.3
    aupimo: np.ndarray | None = None

    @property
    def n_images(self) -> int:
        """N, the number of test images."""
        return int(self.n_defect.size)

    def subset(self, index: np.ndarray) -> PixelEvidence:
        """The evidence of the images `index` (M,), in that order (for pairing by sample id)."""
        rows = np.asarray(index, dtype=np.int64)

        def take(part: np.ndarray | None) -> np.ndarray | None:
            return None if part is None else part[rows]

        return PixelEvidence(
            n_defect=self.n_defect[rows],
            n_normal=self.n_normal[rows],
            pairs=None if self.pairs is None else self.pairs[np.ix_(rows, rows)],
            pro_fp=take(self.pro_fp),
            pro_overlap=take(self.pro_overlap),
            n_regions=self.n_regions[rows],
            f1_counts=take(self.f1_counts),
            fpr_limit=self.fpr_limit,
            aupimo=take(self.aupimo),
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The defined parts as float32 arrays, for `numpy.savez_compressed`."""
        parts = {
            "n_defect": self.n_defect,
            "n_normal": self.n_normal,
            "pairs": self.pairs,
            "pro_fp": self.pro_fp,
            "pro_overlap": self.pro_overlap,
            "n_regions": self.n_regions,
            "f1_counts": self.f1_counts,
            "aupimo": self.aupimo,
        }
        arrays = {k: np.asarray(v, dtype=np.float32) for k, v in parts.items() if v is not None}
        arrays["fpr_limit"] = np.array([self.fpr_limit], dtype=np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PixelEvidence:
        """Inverse of `to_arrays` (float64 arrays); raises EvaluationError on missing parts."""
        missing = {"n_defect", "n_normal", "n_regions", "fpr_limit"} - set(arrays)
        if missing:
            raise EvaluationError(
                f"pixel evidence lacks {sorted(missing)}; re-run the cell with --force"
            )

        def part(name: str) -> np.ndarray | None:
            return np.asarray(arrays[name], dtype=np.float64) if name in arrays else None

        return cls(
            n_defect=np.asarray(arrays["n_defect"], dtype=np.float64),
            n_normal=np.asarray(arrays["n_normal"], dtype=np.float64),
            pairs=part("pairs"),
            pro_fp=part("pro_fp"),
            pro_overlap=part("pro_overlap"),
            n_regions=np.asarray(arrays["n_regions"], dtype=np.float64),
            f1_counts=part("f1_counts"),
            fpr_limit=float(np.asarray(arrays["fpr_limit"]).ravel()[0]),
            aupimo=part("aupimo"),
        )


def pixel_evidence(
    maps: np.ndarray,
    masks: np.ndarray,
    pixel_threshold: float | None,
    *,
    fpr_limit: float = 0.3,
    max_thresholds: int = EVIDENCE_THRESHOLDS,
) -> PixelEvidence:
    """Per-image statistics of the pixel metrics of one cell's test maps.

    Args:
        maps: (N, H, W) pixel anomaly scores.
        masks: (N, H, W) 1 = defect pixel.
        pixel_threshold: the val pixel threshold, or None (then no F1 counts).
        fpr_limit: AU-PRO integration limit in (0, 1].
        max_thresholds: AU-PRO grid size, >= 10.
    """
    check_limit(fpr_limit)
    if max_thresholds < 10:
        raise EvaluationError(f"max_thresholds={max_thresholds} is too small; use at least 10")
    m, g = _checks.maps_and_masks(maps, masks)
    flat_m, flat_g = m.reshape(m.shape[0], -1), g.reshape(g.shape[0], -1)
    n_defect = flat_g.sum(axis=1).astype(np.float64)
    n_normal = flat_g.shape[1] - n_defect
    both = bool(n_defect.sum() > 0 and n_normal.sum() > 0)
    pairs = _pair_matrix(flat_m, flat_g) if both else None
    pro_fp = pro_overlap = None
    n_regions = np.zeros(m.shape[0])
    if both:
        grid = _head_grid(m, g, fpr_limit, max_thresholds)
        pro_fp, pro_overlap, _, n_regions = _per_image_curves(m, g, grid)
    f1_counts = None
    if pixel_threshold is not None:
        pred = flat_m >= pixel_threshold
        tp = (pred & flat_g).sum(axis=1)
        f1_counts = np.stack([tp, pred.sum(axis=1) - tp, n_defect - tp], axis=1).astype(float)
    return PixelEvidence(
        n_defect,
        n_normal,
        pairs,
        pro_fp,
        pro_overlap,
        n_regions,
        f1_counts,
        fpr_limit,
        _aupimo_or_none(m, g),
    )


def _aupimo_or_none(m: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """AUPIMO per image, or None where it is undefined (e.g. no normal test image)."""
    try:
        return aupimo(m, g)
    except EvaluationError:
        return None


def _head_grid(m: np.ndarray, g: np.ndarray, fpr_limit: float, size: int) -> np.ndarray:
    """Decreasing exact thresholds, evenly along the curve's arc length up to 2 fpr_limit."""
    curve = pro_curve(m, g)
    thresholds, fpr, pro = curve.thresholds[1:], curve.fpr[1:], curve.pro[1:]
    stop = int(np.searchsorted(fpr, min(2.0 * fpr_limit, 1.0), side="right"))
    stop = min(max(stop, 1), fpr.size)  # at least the first point past the head
    if stop < fpr.size:
        stop += 1
    if stop <= size:
        return thresholds[:stop]
    head = fpr[:stop] / fpr_limit + pro[:stop]  # non-decreasing arc length
    picks = np.searchsorted(head, np.linspace(0.0, head[-1], size - 1))
    return thresholds[np.union1d(np.clip(picks, 0, stop - 1), [stop - 1])]
