"""The opt-in unified bank built from per-category coresets (`coreset_scope="per_category"`):
exactly the union of the per-class fits' banks, a one-category fit unchanged, coreset sweeps
still sharing one greedy run per category, labelled as an approximation, and priced by the
cost model at the greedy work it really does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from test_patchcore_model import (
    LAYERS,
    ArrayFeatures,
    _count_greedy,
    _one_thread,  # noqa: F401  (the autouse fixture)
    _test,
    _train,
)

from evalsuite.config import DetectorSpec
from evalsuite.data.samples import Sample
from evalsuite.detectors.cost import FitShape
from evalsuite.detectors.patchcore import FileSelectionStore, PatchCore, PatchCoreParams
from evalsuite.detectors.patchcore.cost import PRUNED_GREEDY_WORK, greedy_work
from evalsuite.runner.preparation.context import approximations

CATEGORIES = ("carpet", "hazelnut", "zipper")


@pytest.fixture
def source() -> ArrayFeatures:
    return ArrayFeatures()


def _fitted(
    source: ArrayFeatures, train: list, ratio: float, scope: str, **fit: object
) -> PatchCore:
    params = PatchCoreParams(layers=LAYERS, coreset_ratio=ratio, coreset_scope=scope)
    model = PatchCore(params, source, seed=3)
    model.fit(train, **fit)  # type: ignore[arg-type]
    return model


def _pooled_train(source: ArrayFeatures) -> list:
    """Interleaved categories (not sorted by category), sizes 4, 6 and 5 images."""
    parts = [_train(source, c, count) for c, count in zip(CATEGORIES, (4, 6, 5), strict=True)]
    merged = []
    for index in range(6):
        merged.extend(part[index] for part in parts if index < len(part))
    return merged


def test_the_unified_bank_is_the_union_of_the_per_class_banks(source: ArrayFeatures) -> None:
    train = _pooled_train(source)
    unified = _fitted(source, train, 0.1, "per_category")
    assert unified.bank is not None and unified.categories == list(CATEGORIES)
    start = 0
    for index, category in enumerate(CATEGORIES):
        own = [sample for sample in train if sample.category == category]
        per_class = _fitted(source, own, 0.1, "pooled")
        assert per_class.bank is not None
        size = per_class.bank.features.shape[0]
        assert size == int(len(own) * 64 * 0.1)
        np.testing.assert_array_equal(
            unified.bank.features[start : start + size], per_class.bank.features
        )
        np.testing.assert_array_equal(unified.memory_categories[start : start + size], index)
        start += size
    assert start == unified.bank.features.shape[0]
    pooled = _fitted(source, train, 0.1, "pooled")  # the exact method selects differently
    assert pooled.bank is not None
    assert not np.array_equal(np.sort(pooled.bank.features, 0), np.sort(unified.bank.features, 0))


def test_a_one_category_fit_is_the_same_either_way(source: ArrayFeatures) -> None:
    train = _train(source, "zipper")
    test = _test(source, "zipper")
    pooled = _fitted(source, train, 0.2, "pooled").score(test)
    per_category = _fitted(source, train, 0.2, "per_category").score(test)
    np.testing.assert_array_equal(pooled.image, per_category.image)
    np.testing.assert_array_equal(pooled.maps, per_category.maps)


def test_a_sweep_runs_one_greedy_per_category(
    source: ArrayFeatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = _pooled_train(source)
    independent = {r: _fitted(source, train, r, "per_category") for r in (0.2, 0.05, 0.1)}
    runs = _count_greedy(monkeypatch)
    store = FileSelectionStore(tmp_path / "selection")
    for ratio in (0.2, 0.05, 0.1):  # the largest first, as the runner orders a unit
        shared = _fitted(source, train, ratio, "per_category", selection=store)
        assert shared.bank is not None and independent[ratio].bank is not None
        np.testing.assert_array_equal(shared.bank.features, independent[ratio].bank.features)
    assert runs == [int(count * 64 * 0.2) for count in (4, 6, 5)]
    assert sorted(p.name for p in (tmp_path / "selection").iterdir()) == [
        f"part-{c}" for c in CATEGORIES
    ]


def test_records_label_it_only_where_it_changes_the_method() -> None:
    spec = DetectorSpec(name="patchcore", params={"coreset_scope": "per_category"})
    assert approximations(spec, "unified") == ["unified bank from per-category coresets"]
    assert approximations(spec, "per_class") == []
    assert approximations(DetectorSpec(name="patchcore"), "unified") == []
    assert approximations(spec, "unified", "float16") == [
        "float16 feature cache",
        "unified bank from per-category coresets",
    ]


def _greedy_work(
    params: dict[str, object], train: Sequence[Sample], positions: int, dim: int
) -> float:
    shape = FitShape(len(train), dict(Counter(s.category for s in train)), 0, (0, 0), {})
    return greedy_work(PatchCoreParams.model_validate(params), shape, positions, dim)


def test_the_cost_model_prices_the_greedy_per_category(source: ArrayFeatures) -> None:
    train = _pooled_train(source)  # 15 images: 4, 6, 5
    positions = 100
    pooled = _greedy_work({"coreset_ratio": 0.1}, train, positions, 128)
    split = _greedy_work(
        {"coreset_ratio": 0.1, "coreset_scope": "per_category"}, train, positions, 128
    )
    assert pooled == 150 * 1500
    assert split == 40 * 400 + 60 * 600 + 50 * 500
    assert split / pooled == pytest.approx((16 + 36 + 25) / 225)
    # banks large enough for the pruned loop are priced at its measured share of the work
    large = _greedy_work({"coreset_ratio": 0.1}, train, 32768 // 4 * 4, 128)
    full = _greedy_work({"coreset_ratio": 0.1}, train, 32768 // 4 * 4, 100)  # k % 16: full loop
    assert large == pytest.approx(PRUNED_GREEDY_WORK * full)
