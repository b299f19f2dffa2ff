"""Identical-shortcut matrices on hand-made inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.metrics import image_auroc, threshold_metrics
from evalsuite.evaluation.shortcut import (
    nn_provenance,
    patch_mask,
    score_distributions,
    threshold_transfer,
)

SCORES = {
    "alpha": (np.array([0.1, 0.2, 0.5, 0.9]), np.array([0, 0, 1, 1])),
    "beta": (np.array([1.0, 2.0, 3.0, 4.0, 1.5]), np.array([0, 0, 1, 1, 0])),
}
THRESHOLDS = {"alpha": 0.3, "beta": 2.5}


def test_threshold_transfer_hand_made() -> None:
    result = threshold_transfer(SCORES, THRESHOLDS)
    assert result["categories"] == ["alpha", "beta"]
    # rows: test category; columns: whose threshold
    assert result["fpr"] == [[0.0, 0.0], [1.0, 0.0]]
    assert result["tpr"] == [[1.0, 0.0], [1.0, 1.0]]


def test_threshold_transfer_diagonal_is_the_per_class_rates() -> None:
    rng = np.random.default_rng(0)
    scores = {c: (rng.normal(size=30) + i, rng.random(30) < 0.5) for i, c in enumerate("abc")}
    thresholds = {c: float(rng.normal()) for c in "abc"}
    result = threshold_transfer(scores, thresholds)
    for i, c in enumerate("abc"):
        own = threshold_metrics(*scores[c], thresholds[c])
        assert result["fpr"][i][i] == pytest.approx(own["fpr"])  # type: ignore[index]
        assert result["tpr"][i][i] == pytest.approx(own["tpr"])  # type: ignore[index]


def test_threshold_transfer_missing_class_and_mismatched_categories() -> None:
    only_normal = {"alpha": (np.array([0.1, 0.4]), np.array([0, 0]))}
    result = threshold_transfer(only_normal, {"alpha": 0.3})
    assert result["fpr"] == [[0.5]] and result["tpr"] == [[None]]
    with pytest.raises(EvaluationError, match="one threshold per evaluated category"):
        threshold_transfer(SCORES, {"alpha": 0.3})


def test_patch_mask_majority_rule() -> None:
    masks = np.zeros((1, 4, 4), dtype=bool)
    masks[0, 0, :2] = True  # top-left 2x2 patch: 2 of 4 pixels
    masks[0, 3, 3] = True  # bottom-right patch: 1 of 4 pixels
    assert patch_mask(masks, (2, 2)).tolist() == [[[True, False], [False, False]]]
    assert patch_mask(masks, (2, 2), min_fraction=0.25).tolist() == [[[True, False], [False, True]]]
    assert np.array_equal(patch_mask(masks, (4, 4)), masks)
    with pytest.raises(EvaluationError, match="patch grid"):
        patch_mask(masks, (3, 3))


def test_nn_provenance_hand_made() -> None:
    memory = ["alpha", "beta", "gamma"]
    # alpha: image 0 has a defect covering its top-left patch (2x2 grid of 2x2-pixel patches),
    # image 1 is normal
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2, :2] = True
    nn = np.array([[[1, 0], [0, 0]], [[0, 0], [2, 0]]])
    # beta: one defective image only, both defect patches match alpha
    beta_masks = np.zeros((1, 4, 4), dtype=bool)
    beta_masks[0, :, :2] = True
    beta_nn = np.array([[[0, 1], [0, 1]]])
    result = nn_provenance(
        {"alpha": nn, "beta": beta_nn}, {"alpha": masks, "beta": beta_masks}, memory
    )
    assert result["categories"] == ["alpha", "beta"]
    assert result["memory_categories"] == memory
    assert result["defect"] == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    assert result["normal"] == [[0.75, 0.0, 0.25], [None, None, None]]
    assert result["defect_patches"] == [1, 2]
    assert result["normal_patches"] == [4, 0]


def test_nn_provenance_without_masks_uses_image_labels_for_the_normal_row() -> None:
    """The hand-made case above with alpha's masks withheld: the normal row is the same (its
    normal images are known from the labels), the defect row is unknown; beta keeps its masks."""
    memory = ["alpha", "beta", "gamma"]
    nn = np.array([[[1, 0], [0, 0]], [[0, 0], [2, 0]]])
    beta_masks = np.zeros((1, 4, 4), dtype=bool)
    beta_masks[0, :, :2] = True
    beta_nn = np.array([[[0, 1], [0, 1]]])
    result = nn_provenance(
        {"alpha": nn, "beta": beta_nn},
        {"alpha": None, "beta": beta_masks},
        memory,
        labels_by_category={"alpha": np.array([1, 0]), "beta": np.array([1])},
    )
    assert result["normal"] == [[0.75, 0.0, 0.25], [None, None, None]]
    assert result["defect"] == [[None, None, None], [1.0, 0.0, 0.0]]
    assert result["normal_patches"] == [4, 0]
    assert result["defect_patches"] == [0, 2]
    with pytest.raises(EvaluationError, match="alpha has no masks: give its image labels"):
        nn_provenance({"alpha": nn}, {"alpha": None}, memory)
    with pytest.raises(EvaluationError, match="same N images"):
        nn_provenance({"alpha": nn}, {"alpha": None}, memory, labels_by_category={"alpha": [0]})


def test_nn_provenance_rows_sum_to_one_on_random_input() -> None:
    rng = np.random.default_rng(1)
    masks = rng.random((5, 16, 16)) < 0.3
    masks[4] = False
    nn = rng.integers(0, 3, size=(5, 4, 4))
    result = nn_provenance({"a": nn}, {"a": masks}, ["a", "b", "c"], min_fraction=0.25)
    for key in ("defect", "normal"):
        assert sum(result[key][0]) == pytest.approx(1.0)  # type: ignore[index]


def test_nn_provenance_refuses_bad_indices() -> None:
    masks = np.zeros((1, 2, 2), dtype=bool)
    with pytest.raises(EvaluationError, match=r"\[0, 2\)"):
        nn_provenance({"a": np.full((1, 2, 2), 2)}, {"a": masks}, ["a", "b"])
    with pytest.raises(EvaluationError, match="same N images"):
        nn_provenance({"a": np.zeros((2, 2, 2), int)}, {"a": masks}, ["a", "b"])


def test_score_distributions() -> None:
    scores = np.array([0.0, 1.0, 8.0, 9.0, 4.0, 4.0, 4.0, 4.0, 2.0])
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0])
    categories = ["sep", "sep", "sep", "sep", "same", "same", "same", "same", "lone"]
    result = score_distributions(scores, labels, categories, bins=9)
    assert result["bin_edges"] == np.linspace(0.0, 9.0, 10).tolist()
    assert result["categories"] == ["lone", "same", "sep"]
    per = result["per_category"]
    assert per["sep"]["overlap"] == 0.0 and per["sep"]["auroc"] == 1.0  # type: ignore[index]
    assert per["same"]["overlap"] == 1.0 and per["same"]["auroc"] == 0.5  # type: ignore[index]
    assert per["lone"]["overlap"] is None and per["lone"]["auroc"] is None  # type: ignore[index]
    assert per["sep"]["normal"] == [0.0, 1.0]  # type: ignore[index]
    assert per["sep"]["defective_counts"] == [0] * 8 + [2]  # type: ignore[index]
    assert sum(per["same"]["normal_counts"]) == 2  # type: ignore[index]


def test_score_distributions_overlap_is_between_zero_and_one_and_tracks_auroc() -> None:
    rng = np.random.default_rng(2)
    labels = np.tile([0, 1], 100)
    categories = np.repeat(["near", "far"], 100)
    shift = np.where(categories == "far", 3.0, 0.3)
    scores = rng.normal(size=200) + labels * shift
    per = score_distributions(scores, labels, categories)["per_category"]
    assert 0.0 < per["far"]["overlap"] < per["near"]["overlap"] < 1.0  # type: ignore[index]
    far = categories == "far"
    assert per["far"]["auroc"] == image_auroc(scores[far], labels[far])  # type: ignore[index]
