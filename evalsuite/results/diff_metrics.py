"""The headline metrics of a pair of ok records of one cell, for `evalsuite diff`: the delta,
its paired stratified bootstrap 95% interval over the test images both records scored
(`evaluation.paired`: image metrics from the records' per-image scores, pixel metrics from each
cell's `evidence.npz`, none without it) and the verdict.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.paired import Difference, paired_image_difference, paired_pixel_difference
from evalsuite.evaluation.pixel_evidence import PixelEvidence

IMAGE_METRICS = ("image_auroc", "image_f1")
PIXEL_METRICS = ("pixel_auroc", "aupro_0.3")
HEADLINE = (*IMAGE_METRICS, *PIXEL_METRICS)
BOOTSTRAP_SEED = 0
"""The resampling seed of every paired interval (the same numbers on every machine)."""

Verdict = Literal["improved", "regressed", "unchanged"]


@dataclass(frozen=True)
class MetricDelta:
    """One headline metric of a pair of ok cells.

    Attributes:
        metric: e.g. "image_auroc".
        base, new: the values (None when a record has none, e.g. no masks).
        delta: new - base, None when either is None.
        ci95: paired bootstrap interval of delta (image metrics), None otherwise.
        p_value: its two-sided bootstrap p-value, None without an interval.
        n_images: paired test images behind the interval (0 without one).
        verdict: improved / regressed / unchanged (image metrics), None otherwise.
    """

    metric: str
    base: float | None
    new: float | None
    delta: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    n_images: int
    verdict: Verdict | None


def metric_deltas(
    a: dict[str, Any], b: dict[str, Any], folders: tuple[Path, Path], min_delta: float, n: int
) -> Iterator[MetricDelta]:
    """The headline metrics of two ok records of one cell (`folders`: where each lives)."""
    index_a, index_b, labels = paired_images(a, b)
    for metric in HEADLINE:
        value_a, value_b = a["metrics"][metric]["value"], b["metrics"][metric]["value"]
        if value_a is None or value_b is None:
            yield MetricDelta(metric, value_a, value_b, None, None, None, 0, None)
            continue
        delta = value_b - value_a
        try:
            found = _difference(metric, (a, b), folders, (index_a, index_b), labels, n)
        except EvaluationError:  # one class only, or no readable evidence: no interval
            found = None
        if found is None:
            yield MetricDelta(metric, value_a, value_b, delta, None, None, 0, None)
            continue
        yield MetricDelta(
            metric,
            value_a,
            value_b,
            delta,
            found.ci95,
            found.p_value,
            found.n_images,
            verdict(delta, found.ci95, min_delta),
        )


def _difference(
    metric: str,
    records: tuple[dict[str, Any], dict[str, Any]],
    folders: tuple[Path, Path],
    index: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    n: int,
) -> Difference | None:
    """The paired difference of `metric` between the two records over the paired images;
    None without paired images or (pixel metrics) without evidence."""
    if labels.size == 0:
        return None
    a, b = records
    if metric in IMAGE_METRICS:
        scores = [np.array([s["score"] for s in r["scores"]], dtype=np.float64) for r in records]
        thresholds = (a["threshold"]["image"]["value"], b["threshold"]["image"]["value"])
        return paired_image_difference(
            metric,
            labels,
            scores[0][index[0]],
            scores[1][index[1]],
            thresholds=thresholds,
            n=n,
            seed=BOOTSTRAP_SEED,
        )
    evidence = [_evidence(folder, record) for folder, record in zip(folders, records, strict=True)]
    if evidence[0] is None or evidence[1] is None:
        return None
    return paired_pixel_difference(
        metric,
        labels,
        evidence[0].subset(index[0]),
        evidence[1].subset(index[1]),
        n=n,
        seed=BOOTSTRAP_SEED,
    )


def _evidence(folder: Path, record: dict[str, Any]) -> PixelEvidence | None:
    """A cell's pixel evidence (`evidence.npz` beside its artifacts), None when it has none or
    it cannot be read."""
    path = record.get("evidence")
    if not path:
        return None
    try:
        with np.load(folder / path, allow_pickle=False) as data:
            return PixelEvidence.from_arrays(dict(data))
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None


def verdict(delta: float, ci95: tuple[float, float], min_delta: float) -> Verdict:
    """improved / regressed when the interval excludes 0 on that side and |delta| >= min_delta
    (every headline metric is higher-is-better); unchanged otherwise."""
    if ci95[1] < 0 and delta <= -min_delta:
        return "regressed"
    if ci95[0] > 0 and delta >= min_delta:
        return "improved"
    return "unchanged"


def paired_images(
    a: dict[str, Any], b: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test images both records scored, with the same label in both, in `a`'s order.

    Returns:
        indices into a's scores (N,), into b's scores (N,), labels (N,) bool.
    """
    position_b = {s["id"]: j for j, s in enumerate(b["scores"])}
    pairs = [
        (i, position_b[s["id"]])
        for i, s in enumerate(a["scores"])
        if s["id"] in position_b and b["scores"][position_b[s["id"]]]["label"] == s["label"]
    ]
    index_a = np.array([i for i, _ in pairs], dtype=np.int64)
    index_b = np.array([j for _, j in pairs], dtype=np.int64)
    labels = np.array([a["scores"][i]["label"] == 1 for i in index_a], dtype=bool)
    return index_a, index_b, labels
