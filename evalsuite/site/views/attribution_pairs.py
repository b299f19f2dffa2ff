"""A block's cells paired on the same test images and the same bootstrap resamples.

Every cell of a block (`attribution_cells.Block`: one clean cell and the variant cells compared
with it, one seed) is evaluated on the images common to all of them: the clean cell's test ids,
in its order, that every finished variant cell holds with the same label (a geometric variant
may relabel an image normal whose defect left the frame: such an image is left out of the
whole block). The resamples are drawn once per block, stratified by label, with the study's
count (the site's `resamples.paired_resamples`; the clean cell's `evaluation.bootstrap` when
none is given) and the clean cell's seed (`bootstrap.stratified_resamples`), exactly
as `paired.paired_difference` draws them; each cell's metric is evaluated on them once. A drop
is then `paired.difference_of` the variant's and the clean cell's values, so every drop, share
and mean of the block is computed on the same resamples, and a block without relabelled images
gives the very interval `views.differences` gives for the same two cells.
"""

from __future__ import annotations

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import resample_counts, stratified_resamples
from evalsuite.evaluation.paired import Difference, difference_of, image_value, pixel_value
from evalsuite.site.read.evidence import EvidenceLoader
from evalsuite.site.read.records import Cell
from evalsuite.site.views.attribution_cells import Block

LEVEL = 0.95


class BlockPairs:
    """One block's common images, resamples and per-cell resampled metrics (computed once).

    Args:
        block: the block; its clean cell must be finished.
        loader: reads the cells' pixel evidence.
        resamples: how many (None: the clean cell's `evaluation.bootstrap`).

    Raises:
        EvaluationError: no clean cell, no resamples, or no image common to the block's cells.
    """

    def __init__(self, block: Block, loader: EvidenceLoader, resamples: int | None = None) -> None:
        clean = block.clean
        if clean is None or not clean.ok:
            raise EvaluationError("the clean/none cell is missing or failed")
        self.clean, self.loader, self.seed = clean, loader, int(clean.key.seed)
        self.n = int(clean.record["config"]["evaluation"]["bootstrap"])
        if self.n < 1:
            raise EvaluationError("no resamples (evaluation.bootstrap is 0)")
        self.n = self.n if resamples is None else resamples
        cells = [clean, *(c for c in block.variants.values() if c.ok)]
        self.index, self.labels = common_images(cells)
        self.counts = resample_counts(
            stratified_resamples(self.labels, self.n, self.seed), self.labels.size
        )
        self._values: dict[tuple[str, str], tuple[float, np.ndarray]] = {}

    def drop(self, cell: Cell, metric: str) -> Difference:
        """The paired difference cell − clean of `metric` on the block's resamples.

        Raises:
            EvaluationError: a cell has no value of the metric, or it is undefined on a resample.
        """
        a, resampled_a = self._resampled(self.clean, metric)
        b, resampled_b = self._resampled(cell, metric)
        n_images = int(self.labels.size)
        deltas = resampled_b - resampled_a
        return difference_of(
            metric, (a, b), deltas, n_images, self.seed, LEVEL, "a paired interval"
        )

    def _resampled(self, cell: Cell, metric: str) -> tuple[float, np.ndarray]:
        """The metric of `cell` on all the common images and on each resample (B,)."""
        memo = (cell.relpath, metric)
        if memo not in self._values:
            entry = cell.metrics[metric]
            if entry.value is None:
                raise EvaluationError(entry.reason or "no value")
            index = self.index[cell.relpath]
            if metric in ("image_auroc", "image_f1"):
                scores = np.array([s["score"] for s in cell.record["scores"]])[index]
                threshold = float(cell.record["threshold"]["image"]["value"])
                value = image_value(metric, self.labels, scores, threshold)
            else:
                value = pixel_value(metric, self.loader.load(cell).subset(index))
            full = float(value(np.ones((1, self.labels.size)))[0])
            self._values[memo] = (full, np.asarray(value(self.counts), dtype=np.float64))
        return self._values[memo]


def common_images(cells: list[Cell]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The test images common to `cells` with one label in all of them.

    Args:
        cells: the first one's order is kept.

    Returns:
        index: cell relpath -> (N,) positions of the common images in its `scores`;
        labels: (N,) bool, True = anomalous.

    Raises:
        EvaluationError: no image is common to all the cells.
    """
    positions = [
        {s["id"]: (i, bool(s["label"])) for i, s in enumerate(cell.record["scores"] or ())}
        for cell in cells
    ]
    kept: list[str] = []
    for sample_id, (_, label) in positions[0].items():
        found = [p.get(sample_id) for p in positions[1:]]
        if all(f is not None and f[1] == label for f in found):
            kept.append(sample_id)
    if not kept:
        raise EvaluationError("the clean and variant cells share no test image id; nothing to pair")
    index = {
        cell.relpath: np.array([p[sample_id][0] for sample_id in kept])
        for cell, p in zip(cells, positions, strict=True)
    }
    return index, np.array([positions[0][sample_id][1] for sample_id in kept])
