"""PaDiM through anomalib's torch model, fed by the feature cache; checked against anomalib."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from anomalib.models.components import MultiVariateGaussian
from anomalib.models.image.padim.torch_model import PadimModel

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
from evalsuite.data.samples import Sample
from evalsuite.detectors.padim import GaussianMoments, Padim, PadimParams, feature_subset
from evalsuite.detectors.registry import build_detector, load_detector
from evalsuite.errors import ConfigError, DatasetError, ResultsError, WeightsError

LAYERS = ("layer1", "layer2", "layer3")  # ResNet-18: 64 + 128 + 256 = 448 channels
SIZE = 64
PATCH = (slice(20, 36), slice(24, 40))  # rows, columns of the synthetic defect


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(patch_images: Callable[..., dict[str, list[Sample]]]) -> dict[str, list[Sample]]:
    """12 normal train images (smooth noise), 4 normal and 4 anomalous (a red patch) test ones."""
    return patch_images("padim_images", size=SIZE, sigma=3, n_train=12, patch=PATCH)


@pytest.fixture(scope="module")
def features() -> FeatureCache:
    config = BackboneConfig(name="resnet18", pretrained=False, resize=SIZE, crop=SIZE)
    return FeatureCache(Backbone.from_config(config), LAYERS)


@pytest.fixture(scope="module")
def fitted(features: FeatureCache, data: dict[str, list[Sample]]) -> Padim:
    model = Padim(PadimParams(layers=LAYERS, n_features=24), features, seed=7)
    model.fit(data["train"])
    return model


def test_defects_score_higher_and_are_located(fitted: Padim, data: dict[str, list[Sample]]) -> None:
    scores = fitted.score(data["test"])
    assert scores.image.shape == (8,) and scores.image.dtype == np.float32
    assert scores.maps.shape == (8, SIZE, SIZE) and scores.maps.dtype == np.float32
    assert scores.image[4:].min() > scores.image[:4].max()
    np.testing.assert_array_equal(scores.image, scores.maps.max(axis=(1, 2)))
    for anomaly_map in scores.maps[4:]:
        row, column = np.unravel_index(anomaly_map.argmax(), anomaly_map.shape)
        assert PATCH[0].start - 4 <= row < PATCH[0].stop + 4
        assert PATCH[1].start - 4 <= column < PATCH[1].stop + 4


def test_streaming_fit_matches_anomalib(
    fitted: Padim, features: FeatureCache, data: dict[str, list[Sample]]
) -> None:
    """Oracle: anomalib's own fit (all embeddings at once) and anomaly map on the same features."""
    reference = PadimModel(
        backbone="resnet18", layers=list(LAYERS), pre_trained=False, n_features=24
    )
    reference.idx = fitted.idx.clone()
    embeddings = [
        reference.generate_embedding(batch)
        for batch in features.iter_features(data["train"], LAYERS, 5)
    ]
    reference.gaussian.fit(torch.cat(embeddings))
    test = next(features.iter_features(data["test"], LAYERS, 8))
    expected = reference.anomaly_map_generator(
        embedding=reference.generate_embedding(test),
        mean=reference.gaussian.mean,
        inv_covariance=reference.gaussian.inv_covariance,
        image_size=(SIZE, SIZE),
    )[:, 0]
    got = torch.from_numpy(fitted.score(data["test"]).maps)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_gaussian_moments_match_multivariate_gaussian() -> None:
    generator = torch.Generator().manual_seed(0)
    embedding = torch.randn(60, 16, 5, 5, generator=generator) * 3 + 5
    oracle = MultiVariateGaussian()
    oracle.fit(embedding)
    moments = GaussianMoments(embedding[0].reshape(16, 25))
    for batch in embedding.split(7):
        moments.add(batch.reshape(batch.shape[0], 16, 25))
    mean, inv_covariance = moments.finish()
    assert moments.count == 60
    torch.testing.assert_close(mean, oracle.mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inv_covariance, oracle.inv_covariance, rtol=1e-4, atol=1e-5)


def test_fewer_images_than_dimensions_stays_accurate() -> None:
    """N < d (as WR50's d=550 on ~300 images): epsilon keeps it invertible; float64 reference."""
    generator = torch.Generator().manual_seed(1)
    embedding = torch.randn(12, 30, 3, 3, generator=generator) * 2 + 4
    moments = GaussianMoments(embedding[0].reshape(30, 9))
    moments.add(embedding.reshape(12, 30, 9))
    _, inv_covariance = moments.finish()
    x = embedding.double().reshape(12, 30, 9)
    for position in range(9):
        covariance = torch.cov(x[:, :, position].T) + 0.01001 * torch.eye(30, dtype=torch.float64)
        expected = torch.linalg.inv(covariance)
        error = (inv_covariance[position].double() - expected).abs().max() / expected.abs().max()
        assert error < 1e-3


def test_wide_embeddings_invert_correctly() -> None:
    """d = 256 (WR50 uses 550) on two threads: there torch 2.14's batched LU inverse (what
    anomalib uses) raises or returns wrong matrices on this CPU build; checked against
    unbatched float64 inverses, position by position."""
    generator = torch.Generator().manual_seed(2)
    embedding = torch.randn(20, 256, 2, 2, generator=generator)
    moments = GaussianMoments(embedding[0].reshape(256, 4))
    moments.add(embedding.reshape(20, 256, 4))
    torch.set_num_threads(2)  # the one_thread fixture restores the count afterwards
    _, inv_covariance = moments.finish()
    x = embedding.double().reshape(20, 256, 4)
    for position in range(4):
        covariance = torch.cov(x[:, :, position].T) + 0.01001 * torch.eye(256, dtype=torch.float64)
        expected = torch.linalg.inv(covariance)
        error = (inv_covariance[position].double() - expected).abs().max() / expected.abs().max()
        assert error < 1e-3  # float32 accumulation; the LU failure is O(1) or an exception


def test_save_load_round_trip_gives_identical_scores(
    fitted: Padim, features: FeatureCache, data: dict[str, list[Sample]], tmp_path: Path
) -> None:
    fitted.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "padim.json",
        "padim_stats.pt",
    ]
    stats = torch.load(tmp_path / "model" / "padim_stats.pt", weights_only=True)
    assert stats["inv_covariance"].shape == (16 * 16, 24, 24)
    passes = features.forward_passes
    loaded = Padim.load(tmp_path / "model", features)
    assert torch.equal(loaded.idx, fitted.idx)
    before, after = fitted.score(data["test"]), loaded.score(data["test"])
    np.testing.assert_array_equal(before.image, after.image)
    np.testing.assert_array_equal(before.maps, after.maps)
    assert features.forward_passes == passes  # scored from cached features
    via_registry = load_detector("padim", tmp_path / "model", features)
    np.testing.assert_array_equal(via_registry.score(data["test"]).image, before.image)


def test_seeded_feature_subset_is_reproducible(features: FeatureCache) -> None:
    params = PadimParams(layers=LAYERS, n_features=24)
    torch.manual_seed(0)
    expected_next = torch.rand(2)
    torch.manual_seed(0)
    first = Padim(params, features, seed=3).idx
    assert torch.equal(torch.rand(2), expected_next)  # the global RNG is not consumed
    assert torch.equal(first, Padim(params, features, seed=3).idx)
    assert torch.equal(first, feature_subset(448, 24, 3))
    assert not torch.equal(first, Padim(params, features, seed=4).idx)
    assert first.shape == (24,) and len(set(first.tolist())) == 24 and int(first.max()) < 448


def test_invalid_params_are_config_errors(features: FeatureCache) -> None:
    with pytest.raises(ConfigError, match="n_features=449 exceeds the 448 channels"):
        Padim(PadimParams(layers=LAYERS, n_features=449), features, seed=0)
    with pytest.raises(ConfigError, match="n_features=0 must be >= 1"):
        PadimParams(layers=LAYERS, n_features=0)
    with pytest.raises(ConfigError, match="unknown key 'd'"):
        PadimParams.model_validate({"layers": LAYERS, "d": 10})
    with pytest.raises(ConfigError, match="layer4"):
        Padim(PadimParams(layers=("layer1", "layer4"), n_features=10), features, seed=0)
    built = build_detector("padim", {"layers": list(LAYERS), "n_features": 448}, features, 0)
    assert isinstance(built, Padim) and built.idx.shape == (448,)


def test_misuse_is_reported(
    fitted: Padim, features: FeatureCache, data: dict[str, list[Sample]], tmp_path: Path
) -> None:
    fresh = Padim(PadimParams(layers=LAYERS, n_features=8), features, seed=0)
    with pytest.raises(ResultsError, match="call fit"):
        fresh.score(data["test"])
    with pytest.raises(DatasetError, match="at least 2"):
        fresh.fit(data["train"][:1])
    reversed_layers = Padim(PadimParams(layers=("layer3", "layer1"), n_features=8), features, 0)
    with pytest.raises(ConfigError, match="highest-resolution layer first"):
        reversed_layers.fit(data["train"])
    with pytest.raises(ResultsError, match="padim state"):
        Padim.load(tmp_path / "nothing", features)
    fitted.save(tmp_path / "model")
    other = FeatureCache(
        Backbone.from_config(BackboneConfig(name="resnet34", pretrained=False, crop=SIZE)), LAYERS
    )
    with pytest.raises(ConfigError, match="resnet34"):
        Padim.load(tmp_path / "model", other)


def test_explicit_cpu_device_gives_the_default_bits(
    fitted: Padim, features: FeatureCache, data: dict[str, list[Sample]], tmp_path: Path
) -> None:
    """The device code path on the CPU: the same fit, statistics and scores, bit for bit."""
    expected = fitted.score(data["test"])
    mean, inv_covariance = fitted._fitted()
    for device in (torch.device("cpu"), "cpu"):
        model = Padim(PadimParams(layers=LAYERS, n_features=24), features, seed=7, device=device)
        assert model.device == torch.device("cpu")
        model.fit(data["train"])
        got_mean, got_inv = model._fitted()
        assert torch.equal(got_mean, mean) and torch.equal(got_inv, inv_covariance)
        scores = model.score(data["test"])
        np.testing.assert_array_equal(scores.image, expected.image)
        np.testing.assert_array_equal(scores.maps, expected.maps)
    fitted.save(tmp_path / "model")
    loaded = Padim.load(tmp_path / "model", features, device=torch.device("cpu"))
    assert loaded.device == torch.device("cpu") and loaded._fitted()[0].device.type == "cpu"
    np.testing.assert_array_equal(loaded.score(data["test"]).maps, expected.maps)


def test_device_names_are_checked(features: FeatureCache, monkeypatch: pytest.MonkeyPatch) -> None:
    params = PadimParams(layers=LAYERS, n_features=8)
    with pytest.raises(ConfigError, match="choose one of auto, cpu, cuda"):
        Padim(params, features, seed=0, device="gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(WeightsError, match="no CUDA device is visible"):
        Padim(params, features, seed=0, device="cuda")
    assert Padim(params, features, seed=0, device="auto").device == torch.device("cpu")
    assert Padim(params, features, seed=0).device == torch.device("cpu")


def test_search_then_scores_from_is_score(
    fitted: Padim, features: FeatureCache, data: dict[str, list[Sample]]
) -> None:
    for names in (Padim.SEARCH_PARAMS, Padim.SCORING_PARAMS):
        assert isinstance(names, frozenset) and not names
    before = fitted.searched_images
    evidence = fitted.search(data["test"])
    assert fitted.searched_images == before + len(data["test"])
    assert fitted.scores_from(evidence) is evidence
    assert fitted.scores_from(evidence, {}) is evidence
    scores = fitted.score(data["test"])
    assert fitted.searched_images == before + 2 * len(data["test"])
    np.testing.assert_array_equal(scores.image, evidence.image)
    np.testing.assert_array_equal(scores.maps, evidence.maps)
    again = fitted.search(data["test"][:3], params={})
    np.testing.assert_array_equal(again.image, evidence.image[:3])
    assert fitted.searched_images == before + 2 * len(data["test"]) + 3
    fresh = Padim(PadimParams(layers=LAYERS, n_features=8), features, seed=0)
    assert fresh.searched_images == 0
    with pytest.raises(ResultsError, match="call fit"):
        fresh.search(data["test"])
    assert fresh.searched_images == 0
