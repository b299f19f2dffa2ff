"""evaluate_cell: every metric present, JSON-ready, equal to the metric functions, with reasons
where a metric cannot be computed."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.cell import NO_MASKS, PIXEL_METRICS, evaluate_cell
from evalsuite.evaluation.metrics import (
    aupro,
    image_aupr,
    image_auroc,
    pixel_auroc,
    pixel_f1,
    threshold_metrics,
)

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]
IMAGE_METRICS = (
    "image_auroc",
    "image_aupr",
    "image_f1",
    "image_precision",
    "image_recall",
    "image_fpr",
)


def _cell_inputs(blobs: BlobFactory) -> tuple[np.ndarray, ...]:
    maps, masks = blobs(11, n=10, size=16, n_normal=4)
    scores = maps.reshape(10, -1).max(axis=1)
    labels = np.asarray(masks.reshape(10, -1).any(axis=1))
    return scores, labels, maps, masks


def _json_roundtrip(record: dict[str, object]) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(json.dumps(record, allow_nan=False))
    return decoded


def test_cell_with_masks(blobs: BlobFactory) -> None:
    scores, labels, maps, masks = _cell_inputs(blobs)
    record = evaluate_cell(
        scores,
        labels,
        maps,
        masks,
        image_threshold=1.2,
        pixel_threshold=0.9,
        bootstrap_n=50,
        seed=3,
        roc_max_points=20,
    )
    assert _json_roundtrip(record) == record
    metrics = record["metrics"]
    assert isinstance(metrics, dict)
    assert set(metrics) == set(IMAGE_METRICS) | set(PIXEL_METRICS)
    at = threshold_metrics(scores, labels, 1.2)
    expected = {
        "image_auroc": image_auroc(scores, labels),
        "image_aupr": image_aupr(scores, labels),
        "image_f1": at["f1"],
        "image_precision": at["precision"],
        "image_recall": at["recall"],
        "image_fpr": at["fpr"],
        "pixel_auroc": pixel_auroc(maps, masks),
        "aupro_0.3": aupro(maps, masks, 0.3),
        "aupro_0.05": aupro(maps, masks, 0.05),
        "pixel_f1": pixel_f1(maps, masks, 0.9),
    }
    for name, value in expected.items():
        assert metrics[name]["value"] == pytest.approx(value, abs=1e-12), name
        assert metrics[name]["reason"] is None
        low, high = metrics[name]["ci95"]  # every metric has its interval
        assert low <= value <= high, name
    assert record["bootstrap"] == {"n": 50, "seed": 3, "level": 0.95}
    roc = record["roc"]
    assert isinstance(roc, dict)
    assert 2 <= len(roc["pixel"]["fpr"]) <= 20 and 2 <= len(roc["image"]["fpr"]) <= 20
    assert roc["pixel"]["thresholds"][0] is None


def test_cell_without_masks_gives_reasons(blobs: BlobFactory) -> None:
    scores, labels, maps, _ = _cell_inputs(blobs)
    record = evaluate_cell(
        scores,
        labels,
        maps,
        None,
        image_threshold=1.2,
        pixel_threshold=None,
        bootstrap_n=20,
        seed=0,
    )
    assert _json_roundtrip(record) == record
    metrics = record["metrics"]
    assert isinstance(metrics, dict)
    for name in PIXEL_METRICS:
        assert metrics[name] == {"value": None, "ci95": None, "reason": NO_MASKS}
    assert metrics["image_auroc"]["value"] == pytest.approx(image_auroc(scores, labels))
    assert record["roc"] == {"image": record["roc"]["image"], "pixel": None}  # type: ignore[index]


def test_cell_metrics_that_cannot_be_computed_say_why(blobs: BlobFactory) -> None:
    scores, _, maps, _ = _cell_inputs(blobs)
    normal_only = np.zeros(10, dtype=bool)
    record = evaluate_cell(
        scores,
        normal_only,
        maps,
        np.zeros(maps.shape, bool),
        image_threshold=1.2,
        pixel_threshold=None,
        bootstrap_n=20,
        seed=0,
    )
    metrics = record["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["image_auroc"]["value"] is None
    assert "both normal and anomalous images" in metrics["image_auroc"]["reason"]
    assert metrics["image_fpr"]["value"] == threshold_metrics(scores, normal_only, 1.2)["fpr"]
    assert "no defect region" in metrics["aupro_0.3"]["reason"]
    assert "both normal and anomalous pixels" in metrics["pixel_auroc"]["reason"]
    assert metrics["pixel_f1"]["reason"] == "no pixel threshold was computed"
    assert record["roc"] == {"image": None, "pixel": None}


def test_cell_refuses_maps_that_do_not_match_the_scores(blobs: BlobFactory) -> None:
    scores, labels, maps, masks = _cell_inputs(blobs)
    with pytest.raises(EvaluationError, match="one \\(H, W\\) map per scored image"):
        evaluate_cell(
            scores, labels, maps[:5], masks[:5], image_threshold=1.0, pixel_threshold=None, seed=0
        )
