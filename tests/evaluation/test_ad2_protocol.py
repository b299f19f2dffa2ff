"""MVTec AD 2's protocol: AU-PRO at any integration limit, SegF1 at the mean + 3 std threshold
of the normal validation pixels, and the layout's evaluation defaults, each checked against a
slow reference written from the definitions (loops, no sorting tricks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from itertools import pairwise

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from scipy import ndimage

from evalsuite import config_evaluation
from evalsuite.config import EvaluationSettings
from evalsuite.errors import ConfigError, EvaluationError
from evalsuite.evaluation import cell
from evalsuite.evaluation.cell import evaluate_cell, pixel_metric_names
from evalsuite.evaluation.protocols import evaluation_defaults
from evalsuite.evaluation.thresholds import ValScores, threshold_from_val

BlobFactory = Callable[..., tuple[np.ndarray, np.ndarray]]
LIMITS = (0.3, 0.05, 0.1, 1.0, 0.001)  # 0.001: inside the curve's first step


def slow_aupro(maps: np.ndarray, masks: np.ndarray, limit: float) -> float:
    """AU-PRO by its definition: at every distinct threshold (and above all of them) the mean
    overlap of each 8-connected region and the FPR of normal pixels, then the trapezoid rule up
    to `limit` (the crossing segment interpolated), divided by `limit`."""
    region_pixels = []
    for index, mask in enumerate(masks):
        labelled, count = ndimage.label(mask, structure=np.ones((3, 3)))
        region_pixels += [maps[index][labelled == r] for r in range(1, count + 1)]
    normal = maps[~masks]
    points = [(0.0, 0.0)]
    for t in sorted(set(maps.ravel().tolist()), reverse=True):
        fpr = sum(1 for v in normal if v >= t) / normal.size
        pro = sum(float(np.mean(pixels >= t)) for pixels in region_pixels) / len(region_pixels)
        points.append((fpr, pro))
    area = 0.0
    for (x0, y0), (x1, y1) in pairwise(points):
        if x0 >= limit:
            break
        if x1 > limit:
            y1 = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            x1 = limit
        area += (x1 - x0) * (y0 + y1) / 2.0
    return area / limit


def slow_seg_f1(maps: np.ndarray, masks: np.ndarray, threshold: float) -> float:
    """SegF1 as MVTec AD 2 defines it: one F1 over every pixel of every test image (pooled),
    a pixel predicted anomalous when its score reaches the threshold; 0 without true
    positives."""
    tp = fp = fn = 0
    for image, mask in zip(maps, masks, strict=True):
        for score, defect in zip(image.ravel().tolist(), mask.ravel().tolist(), strict=True):
            predicted = score >= threshold
            tp += predicted and defect
            fp += predicted and not defect
            fn += defect and not predicted
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def slow_mean_std(val_maps: np.ndarray, k: float) -> float:
    """MVTec AD 2's baseline threshold: mean + k population standard deviations of every pixel
    of the (normal) validation maps, pooled."""
    pixels = [float(v) for image in val_maps for v in image.ravel()]
    mean = sum(pixels) / len(pixels)
    variance = sum((v - mean) ** 2 for v in pixels) / len(pixels)
    return mean + k * variance**0.5


def _cell(maps: np.ndarray, masks: np.ndarray, **kwargs: object) -> dict[str, object]:
    labels = masks.reshape(len(masks), -1).any(axis=1)
    scores = maps.reshape(len(maps), -1).max(axis=1)
    options: dict[str, object] = {
        "image_threshold": 0.5,
        "pixel_threshold": 0.9,
        "bootstrap_n": 0,
        "seed": 0,
    }
    options.update(kwargs)
    record = evaluate_cell(scores, labels, maps, masks, **options)  # type: ignore[arg-type]
    metrics = record["metrics"]
    assert isinstance(metrics, dict)
    return metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_aupro_at_every_configured_limit_equals_the_slow_reference(
    blobs: BlobFactory, seed: int
) -> None:
    maps, masks = blobs(seed, n=5, size=12, n_normal=2, ties=seed == 2)
    metrics = _cell(maps, masks, aupro_limits=LIMITS)
    names = ("aupro_0.3", "aupro_0.05", "aupro_0.1", "aupro_1", "aupro_0.001")
    for limit, name in zip(LIMITS, names, strict=True):
        assert metrics[name]["value"] == pytest.approx(slow_aupro(maps, masks, limit), abs=1e-9)


def test_each_limit_gets_its_interval(blobs: BlobFactory) -> None:
    maps, masks = blobs(4, n=8, size=12, n_normal=3)
    metrics = _cell(maps, masks, aupro_limits=(0.3, 0.05, 0.2), bootstrap_n=30)
    low, high = metrics["aupro_0.2"]["ci95"]
    assert low <= metrics["aupro_0.2"]["value"] <= high


def test_default_limits_keep_the_record_as_it_was(blobs: BlobFactory) -> None:
    maps, masks = blobs(5)
    names = list(_cell(maps, masks))
    assert names[-4:] == ["pixel_auroc", "aupro_0.3", "aupro_0.05", "pixel_f1"]
    assert pixel_metric_names() == ("pixel_auroc", "aupro_0.3", "aupro_0.05", "pixel_f1")
    assert cell.AUPRO_LIMITS == config_evaluation.AUPRO_LIMITS  # one default, stated twice
    assert "aupro_limits" not in EvaluationSettings().model_dump(mode="json")
    extra = EvaluationSettings(aupro_limits=(0.3, 0.05, 0.1)).model_dump(mode="json")
    assert extra["aupro_limits"] == [0.3, 0.05, 0.1]


def test_without_masks_every_limit_says_why(blobs: BlobFactory) -> None:
    maps, masks = blobs(6)
    labels = masks.reshape(len(masks), -1).any(axis=1)
    record = evaluate_cell(
        maps.max(axis=(1, 2)), labels, maps, None, image_threshold=0.5, pixel_threshold=None,
        bootstrap_n=0, seed=0, aupro_limits=(0.3, 0.05, 0.1),
    )  # fmt: skip
    metrics = record["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["aupro_0.1"]["reason"] == "dataset has no masks"


def test_a_limit_outside_the_unit_interval_is_refused(blobs: BlobFactory) -> None:
    maps, masks = blobs(7)
    with pytest.raises(EvaluationError, match=r"outside \(0, 1\]"):
        _cell(maps, masks, aupro_limits=(0.3, 0.05, 0.0))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ((0.3, 0.05, 1.5), r"\[1.5\] are outside \(0, 1\]"),
        ((0.3, 0.05, -0.1), r"outside \(0, 1\]"),
        ((0.3, 0.05, 0.05), "repeat a value"),
        ((0.05,), r"leave out \[0.3\]"),
    ],
)
def test_the_setting_refuses_bad_limits_with_a_clear_message(
    limits: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        EvaluationSettings(aupro_limits=limits)


def test_the_record_schema_accepts_the_extra_limits(blobs: BlobFactory) -> None:
    maps, masks = blobs(8)
    schema = json.loads(
        resources.files("evalsuite.schemas").joinpath("cell.schema.json").read_text()
    )
    validator = Draft202012Validator({"$defs": schema["$defs"], **schema["properties"]["metrics"]})
    metrics = json.loads(json.dumps(_cell(maps, masks, aupro_limits=(0.3, 0.05, 0.1))))
    assert not list(validator.iter_errors(metrics))
    metrics["bogus"] = metrics["aupro_0.1"]
    assert list(validator.iter_errors(metrics))


def _normal_val(seed: int) -> ValScores:
    rng = np.random.default_rng(seed)
    maps = rng.gamma(2.0, 0.3, (5, 9, 7))  # skewed, like anomaly maps
    return ValScores("val", maps.max(axis=(1, 2)), np.zeros(5, dtype=int), maps, None)


@pytest.mark.parametrize("seed", [0, 1])
def test_pixel_mean_std_is_the_ad2_baseline(seed: int) -> None:
    val = _normal_val(seed)
    assert val.maps is not None
    threshold = threshold_from_val(val, "mean_std", level="pixel", k=3.0)
    assert threshold.value == pytest.approx(slow_mean_std(val.maps, 3.0), rel=1e-12)
    sample_std = val.maps.mean() + 3.0 * val.maps.std(ddof=1)  # what it was before
    assert threshold.value != pytest.approx(sample_std, rel=1e-6)


def test_image_mean_std_keeps_the_sample_deviation() -> None:
    val = _normal_val(2)
    expected = val.scores.mean() + 2.0 * val.scores.std(ddof=1)
    assert threshold_from_val(val, "mean_std", k=2.0).value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pixel_f1_at_the_mean_std_threshold_is_segf1(blobs: BlobFactory, seed: int) -> None:
    val = _normal_val(seed)
    assert val.maps is not None
    maps, masks = blobs(seed, n=6, size=12, n_normal=2, ties=seed == 3)
    threshold = threshold_from_val(val, "mean_std", level="pixel").value
    expected = slow_seg_f1(maps, masks, threshold)
    assert _cell(maps, masks, pixel_threshold=threshold)["pixel_f1"]["value"] == pytest.approx(
        expected, abs=1e-12
    )


def test_segf1_edge_cases_match_the_reference(blobs: BlobFactory) -> None:
    maps, masks = blobs(9, n=4, size=10, n_normal=1)
    for threshold in (float(maps.max()) + 1.0, float(maps.min()), float(np.median(maps))):
        value = _cell(maps, masks, pixel_threshold=threshold)["pixel_f1"]["value"]
        assert value == pytest.approx(slow_seg_f1(maps, masks, threshold), abs=1e-12)
    assert _cell(maps, masks, pixel_threshold=float(maps.max()) + 1.0)["pixel_f1"]["value"] == 0.0


def test_the_ad2_layout_defaults_to_mean_std_at_both_levels() -> None:
    defaults = evaluation_defaults("mvtec_ad2")
    settings = EvaluationSettings(**defaults)
    for level in (settings.image_threshold, settings.pixel_threshold):
        assert (level.strategy, level.k) == ("mean_std", 3.0)
    assert settings.aupro_limits == (0.3, 0.05)
    defaults["pixel_threshold"]["k"] = 1.0  # a copy: the next caller gets the defaults again
    assert evaluation_defaults("mvtec_ad2")["pixel_threshold"]["k"] == 3.0
    assert evaluation_defaults("mvtec") == evaluation_defaults("visa") == {}


def test_an_unknown_layout_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: mvtec, mvtec_ad2, visa"):
        evaluation_defaults("mvtec_loco")
