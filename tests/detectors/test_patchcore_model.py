"""PatchCore end to end on constructed features: fit, score, unified scope, save/load."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from evalsuite.data.samples import Folder, Sample
from evalsuite.detectors.base import Detector, FeatureSource
from evalsuite.detectors.patchcore import PatchCore, PatchCoreParams
from evalsuite.errors import DatasetError, EvalsuiteError, ResultsError

INPUT_SIZE = (32, 32)
LAYERS = ("shallow", "deep")
DEFECT_AT = (5, 2)  # patch (row, column) of the shallow 8 x 8 grid that is anomalous


class ArrayFeatures:
    """A FeatureSource over precomputed feature tensors, keyed by sample path."""

    def __init__(self) -> None:
        self.features: dict[Path, dict[str, torch.Tensor]] = {}

    @property
    def input_size(self) -> tuple[int, int]:
        return INPUT_SIZE

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            yield {
                layer: torch.stack([self.features[sample.path][layer] for sample in chunk])
                for layer in layers
            }


def _base(category: str) -> dict[str, torch.Tensor]:
    """The normal appearance of a category: fixed smooth feature maps."""
    generator = torch.Generator().manual_seed(sum(map(ord, category)))
    return {
        "shallow": torch.randn(6, 8, 8, generator=generator).abs(),
        "deep": torch.randn(10, 4, 4, generator=generator).abs(),
    }


def _add(
    source: ArrayFeatures, category: str, name: str, label: int, seed: int, base: str | None = None
) -> Sample:
    """Register one sample: its category's base features (or `base`'s) plus noise."""
    generator = torch.Generator().manual_seed(seed)
    features = {
        layer: value + 0.05 * torch.randn(value.shape, generator=generator)
        for layer, value in _base(base or category).items()
    }
    if label:
        features["shallow"][:, DEFECT_AT[0], DEFECT_AT[1]] += 4.0
    folder: Folder = "test" if label or name.startswith("test") else "train"
    path = Path(f"/virtual/{category}/{folder}/{name}.png")
    source.features[path] = features
    defect = "cut" if label else "good"
    return Sample(
        f"{category}/{folder}/{defect}/{name}", path, category, folder, label, defect, None
    )


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def source() -> ArrayFeatures:
    return ArrayFeatures()


def _train(source: ArrayFeatures, category: str, count: int = 6) -> list[Sample]:
    return [_add(source, category, f"train{i}", 0, seed=i) for i in range(count)]


def _test(source: ArrayFeatures, category: str) -> list[Sample]:
    normal = [_add(source, category, f"test{i}", 0, seed=100 + i) for i in range(3)]
    anomalous = [_add(source, category, f"bad{i}", 1, seed=200 + i) for i in range(3)]
    return normal + anomalous


def test_patchcore_is_a_detector_and_the_source_a_feature_source(source: ArrayFeatures) -> None:
    assert isinstance(source, FeatureSource)
    assert isinstance(PatchCore(PatchCoreParams(layers=LAYERS), source, seed=0), Detector)


@pytest.mark.parametrize("target_dim", [None, 64])
def test_anomalous_images_and_pixels_score_higher(
    source: ArrayFeatures, target_dim: int | None
) -> None:
    params = PatchCoreParams(layers=LAYERS, target_dim=target_dim, coreset_ratio=0.25)
    model = PatchCore(params, source, seed=0)
    model.fit(_train(source, "hazelnut"))
    assert model.patch_grid == (8, 8)
    assert model.num_train_patches == 6 * 64
    assert model.bank is not None and model.bank.size == int(6 * 64 * 0.25)
    scores = model.score(_test(source, "hazelnut"))
    assert scores.image.shape == (6,) and scores.image.dtype == np.float32
    assert scores.maps.shape == (6, 32, 32) and scores.maps.dtype == np.float32
    assert scores.image[3:].min() > scores.image[:3].max()
    for anomalous_map in scores.maps[3:]:  # the defect patch covers pixels 20-23 x 8-11
        row, column = np.unravel_index(anomalous_map.argmax(), anomalous_map.shape)
        assert 16 <= row < 28 and 4 <= column < 16


def test_reweighting_never_raises_the_image_score(source: ArrayFeatures) -> None:
    train, test = _train(source, "carpet"), _test(source, "carpet")
    plain = PatchCore(PatchCoreParams(layers=LAYERS, target_dim=None), source, seed=0)
    weighted = PatchCore(
        PatchCoreParams(layers=LAYERS, target_dim=None, num_neighbors=9), source, seed=0
    )
    plain.fit(train)
    weighted.fit(train)
    s_star, s = plain.score(test), weighted.score(test)
    np.testing.assert_array_equal(s_star.maps, s.maps)
    assert np.all(s.image < s_star.image) and np.all(s.image > 0)


def test_fit_is_deterministic_for_a_seed(source: ArrayFeatures) -> None:
    train = _train(source, "zipper")
    banks = []
    for seed in (3, 3, 4):
        model = PatchCore(PatchCoreParams(layers=LAYERS, coreset_ratio=0.1), source, seed=seed)
        model.fit(train)
        assert model.bank is not None
        banks.append(model.bank.features)
    np.testing.assert_array_equal(banks[0], banks[1])
    assert not np.array_equal(banks[0], banks[2])


def test_save_load_round_trip_gives_identical_scores(source: ArrayFeatures, tmp_path: Path) -> None:
    params = PatchCoreParams(layers=LAYERS, target_dim=32, num_neighbors=3, coreset_ratio=0.5)
    model = PatchCore(params, source, seed=5)
    model.fit(_train(source, "hazelnut") + _train(source, "carpet", count=2))
    test = _test(source, "hazelnut")
    before = model.score(test)
    model.save(tmp_path / "fit")
    assert sorted(path.name for path in (tmp_path / "fit").iterdir()) == [
        "memory_bank.npy",
        "memory_categories.npy",
        "patchcore.json",
    ]
    state = json.loads((tmp_path / "fit" / "patchcore.json").read_text())
    assert state["params"]["num_neighbors"] == 3 and state["seed"] == 5
    loaded = PatchCore.load(tmp_path / "fit", source)
    after = loaded.score(test)
    np.testing.assert_array_equal(before.image, after.image)
    np.testing.assert_array_equal(before.maps, after.maps)
    assert loaded.params == params
    assert loaded.categories == ["carpet", "hazelnut"]
    np.testing.assert_array_equal(loaded.memory_categories, model.memory_categories)


def test_unified_fit_records_the_category_of_every_memory_patch(source: ArrayFeatures) -> None:
    train = _train(source, "hazelnut", count=4) + _train(source, "zipper", count=4)
    model = PatchCore(PatchCoreParams(layers=LAYERS, coreset_ratio=1.0), source, seed=0)
    model.fit(train)
    assert model.categories == ["hazelnut", "zipper"]
    assert model.memory_categories.shape == (8 * 64,)
    np.testing.assert_array_equal(model.memory_categories, np.repeat([0, 1], 4 * 64))
    # a hazelnut test image that looks like a zipper: every patch's nearest normal patch
    # is a zipper patch (the memory-bank analogue of the identical shortcut)
    lookalike = _add(source, "hazelnut", "test_lookalike", 0, seed=300, base="zipper")
    own = _add(source, "hazelnut", "test_own", 0, seed=301)
    nearest = model.nearest_categories([lookalike, own])
    assert nearest.shape == (2, *model.patch_grid) == (2, 8, 8)
    assert np.all(nearest[0] == 1) and np.all(nearest[1] == 0)


def test_coreset_keeps_categories_aligned(source: ArrayFeatures) -> None:
    train = _train(source, "hazelnut", count=3) + _train(source, "zipper", count=3)
    model = PatchCore(PatchCoreParams(layers=LAYERS, coreset_ratio=0.2), source, seed=1)
    model.fit(train)
    assert model.bank is not None
    zipper = _add(source, "zipper", "test_z", 0, seed=400)
    _, indices = model.bank.search(next(iter(model._iter_patches([zipper]))).reshape(64, -1), k=1)
    np.testing.assert_array_equal(
        model.nearest_categories([zipper])[0].ravel(), model.memory_categories[indices[:, 0]]
    )
    assert set(np.unique(model.memory_categories)) == {0, 1}


def test_errors_name_the_problem(source: ArrayFeatures, tmp_path: Path) -> None:
    model = PatchCore(PatchCoreParams(layers=LAYERS), source, seed=0)
    with pytest.raises(EvalsuiteError, match="call fit"):
        model.score(_test(source, "carpet"))
    with pytest.raises(DatasetError, match="no training samples"):
        model.fit([])
    with pytest.raises(ResultsError, match=r"patchcore\.json"):
        PatchCore.load(tmp_path / "nothing", source)
    model.fit(_train(source, "carpet", count=2))
    model.params = PatchCoreParams(layers=("shallow",))  # features unlike the bank's
    with pytest.raises(EvalsuiteError, match="dimension 6, the memory bank 16"):
        model.score(_test(source, "carpet"))
    model.save(tmp_path / "fit")
    (tmp_path / "fit" / "memory_bank.npy").unlink()
    with pytest.raises(ResultsError, match=r"memory_bank\.npy"):
        PatchCore.load(tmp_path / "fit", source)
