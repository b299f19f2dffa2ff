"""Score the cells of one fit: every input set is searched once per fit, whatever the number of
cells, scoring-param values, shift severities or shortcut analyses that read it.

A detector that declares the split (`evalsuite.detectors.base.SplitDetector`) exposes two
steps: `search(samples, params)`, the expensive evidence (nearest neighbours, distances), and
`scores_from(evidence, params)`, the cheap image scores and maps. The evidence is memoised per
(input set, search params); the scores per (input set, search and scoring params). A detector
without the split is scored once per input set and params (`score`). An input set is keyed by
what it holds (condition, severity and shift variant for shifted images only, split, category),
so a severity or factors sweep's clean cells reuse the baseline's clean evidence.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from evalsuite.config import DetectorSpec, ThresholdSettings
from evalsuite.data.samples import Sample
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import MVTEC_SHIFT
from evalsuite.data.splits import Split
from evalsuite.detectors.base import Detector, Scores
from evalsuite.detectors.output import calling, check_scores, naming
from evalsuite.detectors.params import DetectorParams
from evalsuite.detectors.registry import as_memory_bank, as_split, resolve_params, search_params
from evalsuite.detectors.threads import DETECTOR_THREADS, limit_threads
from evalsuite.evaluation.cell import evaluate_cell
from evalsuite.evaluation.shortcut import nn_provenance, score_distributions, threshold_transfer
from evalsuite.evaluation.thresholds import Level, Threshold, ValScores, threshold_from_val
from evalsuite.runner.planning.plan import CellPlan, FitPlan
from evalsuite.runner.preparation.context import RunContext
from evalsuite.runner.writing.thumbnails import map_scale

log = logging.getLogger(__name__)

InputKey = tuple[str, int | None, Split, str, str | None, str | None]
"""(condition, shift severity or None for clean images, split, category, shift variant or None
for clean images, its family or None for clean images)."""


def input_key(
    condition: str,
    severity: int,
    split: Split,
    category: str,
    factors: str = ALL,
    family: str = MVTEC_SHIFT,
) -> InputKey:
    """What an input set holds: clean images depend on neither the shift severity nor its
    variant."""
    shifted = condition == "shift"
    return (
        condition,
        severity if shifted else None,
        split,
        category,
        factors if shifted else None,
        family if shifted else None,
    )


class FitScorer:
    """Scores a fitted detector's input sets once and turns them into cell outcomes."""

    def __init__(self, ctx: RunContext, fit: FitPlan, detector: Detector) -> None:
        self.ctx, self.fit, self.detector = ctx, fit, detector
        name = fit.variant.spec.ref
        self.who = naming(fit.variant.spec.label, name)
        """How messages name the detector."""
        self.split = as_split(name, detector)
        self.memory_bank = as_memory_bank(name, detector)
        self.searched_images = 0
        """Images searched (or scored, without the split): one pass of the detector each."""
        self._inputs: dict[InputKey, tuple[list[Sample], np.ndarray | None]] = {}
        self._evidence: dict[tuple[InputKey, str], object] = {}
        self._scores: dict[tuple[InputKey, str], Scores] = {}
        self._params: dict[str, DetectorParams] = {}

    def inputs(self, key: InputKey) -> tuple[list[Sample], np.ndarray | None]:
        """(samples in id order, masks (N, H, W) or None) of an input set."""
        if key not in self._inputs:
            condition, severity, split, category, factors, family = key
            samples = self.ctx.data.samples(
                condition,
                severity or 0,
                split,
                [category],
                self.fit.seed,
                factors or ALL,
                family or MVTEC_SHIFT,
            )
            masks = None
            if self.ctx.data.clean.has_masks:
                prep = self.ctx.features_of(self.fit.variant.spec).backbone.preprocessing
                masks = np.stack([prep.load_mask(s.mask_path) for s in samples])
            self._inputs[key] = (samples, masks)
        return self._inputs[key]

    def evidence(self, key: InputKey, spec: DetectorSpec) -> object:
        """The detector's search evidence of an input set under `spec`'s search params (its
        scores, for a detector without the split)."""
        search = _canonical(search_params(spec.ref, spec.params))
        if (key, search) not in self._evidence:
            samples, _ = self.inputs(key)
            with limit_threads(DETECTOR_THREADS):
                if self.split is not None:
                    with calling(self.who, "search()"):
                        found: object = self.split.search(samples, self._resolved(spec))
                else:
                    with calling(self.who, "score()"):
                        found = self.detector.score(samples)
                    found = self._checked(found, len(samples))
            self.searched_images += len(samples)
            self._evidence[(key, search)] = found
        return self._evidence[(key, search)]

    def scores(self, key: InputKey, spec: DetectorSpec) -> Scores:
        """Image scores (N,) and maps (N, H, W) of an input set under `spec`'s params."""
        memo = (key, _canonical(spec.params))
        if memo not in self._scores:
            evidence = self.evidence(key, spec)
            if self.split is None:  # `score` gave the scores themselves
                self._scores[memo] = cast(Scores, evidence)
                return self._scores[memo]
            with limit_threads(DETECTOR_THREADS), calling(self.who, "scores_from()"):
                scores = self.split.scores_from(evidence, self._resolved(spec))
            self._scores[memo] = self._checked(scores, len(self.inputs(key)[0]))
        return self._scores[memo]

    def _checked(self, scores: object, count: int) -> Scores:
        """`scores` of `count` images, checked (`detectors.output.check_scores`)."""
        size = self.ctx.features_of(self.fit.variant.spec).input_size
        return check_scores(self.who, scores, count, size)

    def evaluate(self, cells: Sequence[CellPlan]) -> dict[str, dict[str, Any]]:
        """Outcome per cell id: thresholds, metrics, scores (or the error)."""
        outcomes: dict[str, dict[str, Any]] = {}
        for cell in cells:
            started = time.perf_counter()
            try:
                outcomes[cell.id] = self._one(cell)
            except Exception as error:  # recorded as a failed cell
                log.debug("cell %s failed:\n%s", cell.id, traceback.format_exc())
                outcomes[cell.id] = {"error": error}
            outcomes[cell.id]["score_s"] = time.perf_counter() - started
        return outcomes

    def _one(self, cell: CellPlan) -> dict[str, Any]:
        evaluation = self.ctx.config.evaluation
        spec, (family, severity, factors) = cell.variant.spec, cell.variant.tree
        val_key = input_key(
            cell.threshold_condition, severity, "val", cell.category, factors, family
        )
        test_key = input_key(cell.condition, severity, "test", cell.category, factors, family)
        val_samples, val_masks = self.inputs(val_key)
        test_samples, test_masks = self.inputs(test_key)
        val, test = self.scores(val_key, spec), self.scores(test_key, spec)
        val_scores = ValScores(
            "val", val.image, np.array([s.label for s in val_samples]), val.maps, val_masks
        )
        image_t = _threshold(val_scores, evaluation.image_threshold, "image")
        pixel_t = (
            _threshold(val_scores, evaluation.pixel_threshold, "pixel")
            if test_masks is not None
            else None
        )
        labels = np.array([s.label for s in test_samples])
        evaluated = evaluate_cell(
            test.image,
            labels,
            test.maps,
            test_masks,
            image_threshold=image_t.value,
            pixel_threshold=pixel_t.value if pixel_t else None,
            bootstrap_n=evaluation.bootstrap,
            seed=self.fit.seed,
            aupro_limits=evaluation.aupro_limits,
        )
        return {
            "samples": test_samples,
            "test": test,
            "test_key": test_key,
            "masks": test_masks,
            "labels": labels,
            "image_threshold": image_t,
            "pixel_threshold": pixel_t,
            "evaluated": evaluated,
            "map_scale": map_scale(val.maps, pixel_t.value if pixel_t else None),
        }

    def attach_shortcuts(
        self, cells: Sequence[CellPlan], outcomes: dict[str, dict[str, Any]]
    ) -> None:
        """Add the identical-shortcut matrices to every unified cell of each (condition,
        regime, variant): they compare the categories the one model serves."""
        groups: dict[tuple[str, str, str], list[CellPlan]] = {}
        for cell in cells:
            variant = (
                _canonical(cell.variant.spec.params)
                + str(cell.variant.severity)
                + cell.variant.factors
                + ("" if cell.variant.family == MVTEC_SHIFT else cell.variant.family)
            )
            groups.setdefault((cell.condition, cell.regime, variant), []).append(cell)
        for group in groups.values():
            if all("error" not in outcomes[c.id] for c in group):
                shortcut = self._shortcut(group, outcomes)
                for cell in group:
                    outcomes[cell.id]["shortcut"] = shortcut

    def _shortcut(
        self, group: list[CellPlan], outcomes: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        scores = {
            c.category: (outcomes[c.id]["test"].image, outcomes[c.id]["labels"]) for c in group
        }
        thresholds = {c.category: outcomes[c.id]["image_threshold"].value for c in group}
        all_scores = np.concatenate([scores[c.category][0] for c in group])
        all_labels = np.concatenate([scores[c.category][1] for c in group])
        names = np.concatenate([[c.category] * len(scores[c.category][0]) for c in group])
        shortcut: dict[str, Any] = {
            "threshold_transfer": threshold_transfer(scores, thresholds),
            "score_distributions": score_distributions(all_scores, all_labels, names),
            "nn_provenance": None,
        }
        bank = self.memory_bank
        if bank is not None:  # declared: masks only add the defect patches
            spec = group[0].variant.spec
            shortcut["nn_provenance"] = nn_provenance(
                {
                    c.category: bank.nearest_categories_from(
                        self.evidence(outcomes[c.id]["test_key"], spec)
                    )
                    for c in group
                },
                {c.category: outcomes[c.id]["masks"] for c in group},
                bank.categories,
                labels_by_category={c.category: outcomes[c.id]["labels"] for c in group},
            )
        return shortcut

    def _resolved(self, spec: DetectorSpec) -> DetectorParams:
        text = _canonical(spec.params)
        if text not in self._params:
            self._params[text] = resolve_params(spec.ref, spec.params)
        return self._params[text]


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def _threshold(val: ValScores, settings: ThresholdSettings, level: Level) -> Threshold:
    return threshold_from_val(
        val, settings.strategy, level=level, q=settings.quantile, k=settings.k
    )
