"""PatchCore end to end on constructed features: fit, score, unified scope, save/load; one
search serving every b and sigma, bit-identical to the old per-batch pipeline; HNSW; devices;
coreset sweeps sharing one greedy run through a selection store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from feature_sources import DictFeatures

from evalsuite.data.samples import Folder, Sample
from evalsuite.detectors.base import Detector, FeatureSource
from evalsuite.detectors.patchcore import (
    FileSelectionStore,
    MemorySelectionStore,
    PatchCore,
    PatchCoreParams,
)
from evalsuite.detectors.patchcore import coreset as coreset_module
from evalsuite.detectors.patchcore.greedy import Coreset
from evalsuite.detectors.patchcore.memory_bank import MemoryBank
from evalsuite.detectors.patchcore.scorer import anomaly_maps, image_scores
from evalsuite.errors import ConfigError, DatasetError, EvalsuiteError, ResultsError

INPUT_SIZE = (32, 32)
LAYERS = ("shallow", "deep")
DEFECT_AT = (5, 2)  # patch (row, column) of the shallow 8 x 8 grid that is anomalous


class ArrayFeatures(DictFeatures):
    """A FeatureSource over precomputed feature tensors of INPUT_SIZE inputs."""

    def __init__(self) -> None:
        super().__init__(INPUT_SIZE)


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


def _old_score(model: PatchCore, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """`score` as it was: search and score batch by batch on a fresh IndexFlatL2."""
    assert model.bank is not None
    bank = MemoryBank(model.bank.features)
    images, maps = [], []
    for batch in model._iter_patches(samples):
        count, grid_h, grid_w, dim = batch.shape
        distances, indices = bank.search(batch.reshape(-1, dim), k=1)
        patch_scores = distances[:, 0].reshape(count, grid_h * grid_w)
        images.append(
            image_scores(
                patch_scores,
                indices[:, 0].reshape(count, -1),
                batch.reshape(count, grid_h * grid_w, dim),
                bank,
                model.params.num_neighbors,
            )
        )
        grid = patch_scores.reshape(count, grid_h, grid_w)
        maps.append(anomaly_maps(grid, INPUT_SIZE, model.params.sigma))
    return np.concatenate(images), np.concatenate(maps)


@pytest.mark.parametrize("num_neighbors", [1, 3])
def test_score_is_scores_from_search_and_the_old_pipeline_bit_for_bit(
    source: ArrayFeatures, num_neighbors: int
) -> None:
    params = PatchCoreParams(layers=LAYERS, target_dim=32, num_neighbors=num_neighbors)
    model = PatchCore(params, source, seed=2, batch_size=4)  # batches of 4, 2 (6 images)
    model.fit(_train(source, "hazelnut"))
    test = _test(source, "hazelnut")
    scores = model.score(test)
    assert model.searched_images == 6
    evidence = model.search(test)
    assert model.searched_images == 12
    assert evidence.distances.shape == (6, 8, 8) and evidence.distances.dtype == np.float32
    assert evidence.nn_indices.shape == (6, 8, 8) and evidence.nn_indices.dtype == np.int64
    assert evidence.worst_patches.shape == (6, 16) and len(evidence) == 6
    again = model.scores_from(evidence)
    assert model.searched_images == 12  # scoring searches no test patch
    old_image, old_maps = _old_score(model, test)
    for result in (scores, again):
        np.testing.assert_array_equal(result.image, old_image)
        np.testing.assert_array_equal(result.maps, old_maps)
    np.testing.assert_array_equal(
        model.nearest_categories_from(evidence), model.nearest_categories(test)
    )


def test_one_evidence_serves_every_b_and_sigma(source: ArrayFeatures) -> None:
    train, test = _train(source, "carpet"), _test(source, "carpet")
    base = PatchCoreParams(layers=LAYERS, target_dim=None, coreset_ratio=0.5)
    model = PatchCore(base, source, seed=0)
    model.fit(train)
    evidence = model.search(test)
    for update in ({"num_neighbors": 3}, {"num_neighbors": 9}, {"sigma": 0.0}, {"sigma": 2.0}):
        params = base.model_copy(update=update)
        assert set(update) <= PatchCore.SCORING_PARAMS
        fresh = PatchCore(params, source, seed=0)
        fresh.fit(train)
        expected = fresh.score(test)
        got = model.scores_from(evidence, params)
        np.testing.assert_array_equal(got.image, expected.image)
        np.testing.assert_array_equal(got.maps, expected.maps)
    assert model.searched_images == 6


def test_search_and_scoring_params_are_params_fields_and_disjoint() -> None:
    fields = set(PatchCoreParams.model_fields)
    assert fields.issuperset(PatchCore.SEARCH_PARAMS | PatchCore.SCORING_PARAMS)
    assert PatchCore.SEARCH_PARAMS.isdisjoint(PatchCore.SCORING_PARAMS)
    assert frozenset({"num_neighbors", "sigma"}) == PatchCore.SCORING_PARAMS
    assert "coreset_ratio" not in PatchCore.SEARCH_PARAMS | PatchCore.SCORING_PARAMS


def test_hnsw_search_scores_like_exact(source: ArrayFeatures) -> None:
    train, test = _train(source, "zipper"), _test(source, "zipper")
    exact_params = PatchCoreParams(layers=LAYERS, target_dim=None, num_neighbors=3)
    hnsw_params = exact_params.model_copy(update={"search": "hnsw"})
    model = PatchCore(exact_params, source, seed=0)
    model.fit(train)
    exact = model.score(test)
    via_params = model.scores_from(model.search(test, hnsw_params), hnsw_params)
    hnsw_model = PatchCore(hnsw_params, source, seed=0)
    hnsw_model.fit(train)
    native = hnsw_model.score(test)
    np.testing.assert_array_equal(via_params.image, native.image)
    np.testing.assert_allclose(native.image, exact.image, rtol=1e-4)
    np.testing.assert_allclose(native.maps, exact.maps, rtol=1e-4, atol=1e-5)


def test_empty_search_has_the_grid_shape(source: ArrayFeatures) -> None:
    model = PatchCore(PatchCoreParams(layers=LAYERS, target_dim=None), source, seed=0)
    model.fit(_train(source, "carpet", count=2))
    evidence = model.search([])
    assert evidence.distances.shape == evidence.nn_indices.shape == (0, 8, 8)
    assert evidence.worst_patches.shape == (0, 16)
    assert model.scores_from(evidence).maps.shape == (0, *INPUT_SIZE)


def test_cpu_device_is_the_default_path(source: ArrayFeatures) -> None:
    train, test = _train(source, "hazelnut"), _test(source, "hazelnut")
    params = PatchCoreParams(layers=LAYERS, target_dim=32, num_neighbors=3)
    default, on_cpu = PatchCore(params, source, seed=1), PatchCore(params, source, 1, device="cpu")
    default.fit(train)
    on_cpu.fit(train)
    assert on_cpu.device == default.device == torch.device("cpu")
    np.testing.assert_array_equal(default.score(test).image, on_cpu.score(test).image)


def test_bad_device_names_the_device(source: ArrayFeatures) -> None:
    with pytest.raises(ConfigError, match="'warp9'"):
        PatchCore(PatchCoreParams(layers=LAYERS), source, seed=0, device="warp9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            PatchCore(PatchCoreParams(layers=LAYERS), source, seed=0, device="cuda")


def _count_greedy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on Algorithm 1: the sizes it is run for."""
    runs: list[int] = []
    original = coreset_module.greedy_k_center

    def spy(points: np.ndarray, size: int, start: int) -> Coreset:
        runs.append(size)
        return original(points, size, start)

    monkeypatch.setattr(coreset_module, "greedy_k_center", spy)
    return runs


def _bank(source: ArrayFeatures, train: list[Sample], ratio: float, **fit: object) -> np.ndarray:
    model = PatchCore(PatchCoreParams(layers=LAYERS, coreset_ratio=ratio), source, seed=3)
    model.fit(train, **fit)  # type: ignore[arg-type]
    assert model.bank is not None
    return model.bank.features


def test_a_coreset_sweep_runs_the_greedy_once(
    source: ArrayFeatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = _train(source, "hazelnut")  # 384 patches
    independent = {ratio: _bank(source, train, ratio) for ratio in (0.05, 0.2, 0.1)}
    runs = _count_greedy(monkeypatch)
    store = FileSelectionStore(tmp_path / "selection")
    for ratio in (0.05, 0.2, 0.1):
        shared = _bank(source, train, ratio, selection=store, selection_size=76)
        np.testing.assert_array_equal(shared, independent[ratio])
    assert runs == [76]  # int(384 * 0.2), once
    state = json.loads((tmp_path / "selection" / "selection.json").read_text())
    assert (state["num_points"], state["size"]) == (384, 76)


def test_a_store_grows_when_a_longer_selection_is_asked_for(
    source: ArrayFeatures, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = _train(source, "carpet")
    independent = {ratio: _bank(source, train, ratio) for ratio in (0.05, 0.2, 0.1)}
    runs = _count_greedy(monkeypatch)
    store = MemorySelectionStore()
    for ratio in (0.05, 0.2, 0.1):
        np.testing.assert_array_equal(
            _bank(source, train, ratio, selection=store), independent[ratio]
        )
    assert runs == [19, 76]  # 0.1 is cut from the 0.2 selection


def test_a_corrupt_or_foreign_store_is_recomputed(
    source: ArrayFeatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = _train(source, "zipper")
    expected = _bank(source, train, 0.1)
    store = FileSelectionStore(tmp_path)
    runs = _count_greedy(monkeypatch)
    _bank(source, train, 0.2, selection=store)
    assert store.load(38, num_points=384) is not None
    assert store.load(38, num_points=385) is None  # made on other features
    assert store.load(77, num_points=384) is None  # too short
    (tmp_path / "indices.npy").write_bytes(b"not an array")
    assert store.load(38, num_points=384) is None
    np.testing.assert_array_equal(_bank(source, train, 0.1, selection=store), expected)
    assert runs == [76, 38]
    (tmp_path / "selection.json").write_text("{")
    assert store.load(10, num_points=384) is None
