"""The headline metrics of a pair of ok records of one cell, for `evalsuite diff`: the delta,
its paired stratified bootstrap 95% interval over the test images both records scored
(`evaluation.paired`: image metrics from the records' per-image scores, pixel metrics from each
cell's `evidence.npz`, none without it) and the verdict. Images are paired by what they are
(sample id, label and defect); two records of different datasets are compared unpaired
(`evaluation.unpaired`: each record's own test images resampled on their own), which every
`MetricDelta` says (`paired`). Every number is finite: a delta or an interval that cannot be
computed is None, with the reason.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalsuite import regular
from evalsuite.errors import EvaluationError
from evalsuite.evaluation.paired import Difference, paired_image_difference, paired_pixel_difference
from evalsuite.evaluation.pixel_evidence import PixelEvidence
from evalsuite.evaluation.unpaired import unpaired_image_difference, unpaired_pixel_difference

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
        ci95: bootstrap 95% interval of delta (paired, or unpaired: see `paired`), None
            without one.
        p_value: its two-sided bootstrap p-value, None without an interval.
        n_images: test images behind the interval: the pairs, or unpaired both records'
            images (0 without an interval).
        verdict: improved / regressed / unchanged, None without an interval.
        reason: why the delta or the interval is absent (None when both are there).
        paired: whether the interval pairs the images (both records on the same dataset), or
            resamples each record's own test images (unpaired: the datasets differ).
    """

    metric: str
    base: float | None
    new: float | None
    delta: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    n_images: int
    verdict: Verdict | None
    reason: str | None = None
    paired: bool = True


def metric_deltas(
    a: dict[str, Any],
    b: dict[str, Any],
    folders: tuple[Path, Path],
    min_delta: float,
    n: int,
    paired: bool = True,
) -> Iterator[MetricDelta]:
    """The headline metrics of two ok records of one cell (`folders`: where each lives), their
    images paired, or (`paired` False: the records are of different datasets) each record's
    own images resampled on their own.

    Every number is finite: what cannot be computed is None, with the reason.
    """
    index_a, index_b, labels = paired_images(a, b)
    for metric in HEADLINE:
        value_a, value_b = a["metrics"][metric]["value"], b["metrics"][metric]["value"]
        if value_a is None or value_b is None:
            reason = _no_value(metric, a, b)
            yield MetricDelta(metric, value_a, value_b, None, None, None, 0, None, reason, paired)
            continue
        delta = value_b - value_a
        try:
            if paired:
                found = _difference(metric, (a, b), folders, (index_a, index_b), labels, n)
            else:
                found = _unpaired(metric, (a, b), folders, n)
        except EvaluationError as error:  # e.g. one class only among the paired images
            found = str(error).split(";")[0]
        if isinstance(found, Difference) and not _finite(found):
            found = "the resampled differences are not finite numbers"
        if isinstance(found, str):
            reason = f"no interval: {found}"
            yield MetricDelta(metric, value_a, value_b, delta, None, None, 0, None, reason, paired)
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
            paired=paired,
        )


def _no_value(metric: str, a: dict[str, Any], b: dict[str, Any]) -> str:
    """Why a metric has no delta: which record lacks a value, and that record's reason."""
    sides = [
        (side, r) for side, r in (("base", a), ("new", b)) if r["metrics"][metric]["value"] is None
    ]
    names = " and ".join(side for side, _ in sides)
    return f"no value in {names}: {sides[0][1]['metrics'][metric]['reason']}"


def _finite(found: Difference) -> bool:
    return bool(np.isfinite([found.delta, *found.ci95, found.p_value]).all())


def _difference(
    metric: str,
    records: tuple[dict[str, Any], dict[str, Any]],
    folders: tuple[Path, Path],
    index: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    n: int,
) -> Difference | str:
    """The paired difference of `metric` between the two records over the paired images, or
    why there is none (no paired images; pixel metrics: no usable evidence)."""
    if labels.size == 0:
        return "no test image is scored by both"
    a, b = records
    if metric in IMAGE_METRICS:
        scores = [_scores(record) for record in records]
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
    evidence_a, evidence_b = (
        _evidence(folder, record) for folder, record in zip(folders, records, strict=True)
    )
    if evidence_a is None or evidence_b is None:
        return _no_evidence(evidence_a, evidence_b)
    return paired_pixel_difference(
        metric,
        labels,
        evidence_a.subset(index[0]),
        evidence_b.subset(index[1]),
        n=n,
        seed=BOOTSTRAP_SEED,
    )


def _unpaired(
    metric: str, records: tuple[dict[str, Any], dict[str, Any]], folders: tuple[Path, Path], n: int
) -> Difference | str:
    """The unpaired difference of `metric` between two records of different datasets, each
    over all its own test images, or why there is none (pixel metrics: no usable evidence)."""
    labels = (_labels(records[0]), _labels(records[1]))
    if metric in IMAGE_METRICS:
        scores = (_scores(records[0]), _scores(records[1]))
        thresholds = (
            records[0]["threshold"]["image"]["value"],
            records[1]["threshold"]["image"]["value"],
        )
        return unpaired_image_difference(
            metric, labels, scores, thresholds=thresholds, n=n, seed=BOOTSTRAP_SEED
        )
    a, b = (_evidence(folder, record) for folder, record in zip(folders, records, strict=True))
    if a is None or b is None:
        return _no_evidence(a, b)
    return unpaired_pixel_difference(metric, labels, (a, b), n=n, seed=BOOTSTRAP_SEED)


def _labels(record: dict[str, Any]) -> np.ndarray:
    """(N,) bool: the record's test images, True = anomalous."""
    return np.array([s["label"] == 1 for s in record["scores"]], dtype=bool)


def _scores(record: dict[str, Any]) -> np.ndarray:
    """(N,) float64: the record's image scores."""
    return np.array([s["score"] for s in record["scores"]], dtype=np.float64)


def _no_evidence(a: PixelEvidence | None, b: PixelEvidence | None) -> str:
    sides = " and ".join(side for side, e in (("base", a), ("new", b)) if e is None)
    return f"no readable pixel evidence (evidence.npz) matching the record in {sides}"


def _evidence(folder: Path, record: dict[str, Any]) -> PixelEvidence | None:
    """A cell's pixel evidence (`evidence.npz` beside its artifacts), None when it has none, it
    cannot be read, or it does not fit the record (one row per scored image, finite values)."""
    path = record.get("evidence")
    if not path:
        return None
    try:
        with (
            regular.open_file(
                folder / path, regular.ARTIFACT, "pixel evidence", root=folder
            ) as stream,
            np.load(stream, allow_pickle=False) as data,
        ):
            evidence = PixelEvidence.from_arrays(dict(data))
    except (OSError, ValueError, EOFError, KeyError, EvaluationError, zipfile.BadZipFile):
        return None
    return evidence if _fits(evidence, len(record["scores"])) else None


def _fits(evidence: PixelEvidence, n_images: int) -> bool:
    """Whether every part of `evidence` has one row per image (pairs: (N, N)) and is finite."""
    rows = (evidence.n_defect, evidence.n_normal, evidence.n_regions)
    parts = [evidence.pairs, evidence.pro_fp, evidence.pro_overlap, evidence.f1_counts]
    shaped = all(part.shape == (n_images,) for part in rows) and all(
        part.ndim == 2 and part.shape[0] == n_images for part in parts if part is not None
    )
    square = evidence.pairs is None or evidence.pairs.shape == (n_images, n_images)
    values = [*rows, *(part for part in parts if part is not None), np.array(evidence.fpr_limit)]
    return shaped and square and all(np.isfinite(part).all() for part in values)


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
    """The test images both records scored, in `a`'s order: the same image id with the same
    label and defect (`diff_inputs` refuses records that list an id twice, or one id with
    another label or defect, before this runs).

    Returns:
        indices into a's scores (N,), into b's scores (N,), labels (N,) bool.
    """
    position_b = {_identity(s): j for j, s in enumerate(b["scores"])}
    pairs = [
        (i, position_b[_identity(s)])
        for i, s in enumerate(a["scores"])
        if _identity(s) in position_b
    ]
    index_a = np.array([i for i, _ in pairs], dtype=np.int64)
    index_b = np.array([j for _, j in pairs], dtype=np.int64)
    labels = np.array([a["scores"][i]["label"] == 1 for i in index_a], dtype=bool)
    return index_a, index_b, labels


def _identity(score: dict[str, Any]) -> tuple[str, int, str]:
    """What a scored test image is: its sample id, label and defect."""
    return score["id"], score["label"], score["defect"]
