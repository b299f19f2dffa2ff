"""anomalib's DFM and DFKDE through the protocol (`name = "anomalib"`), checked against
anomalib's own pipeline: its torch model with its own timm extractor, holding the same weights
(the bundled Lite0 our weights layer resolved), on the same preprocessed images."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
from evalsuite.backbone.weights import resolve_weights
from evalsuite.data.samples import Sample
from evalsuite.detectors.anomalib_models.model import AnomalibDetector
from evalsuite.detectors.registry import build_detector, load_detector, resolve_params
from evalsuite.errors import ConfigError, DatasetError, ResultsError

SIZE = 128
PATCH = (slice(40, 72), slice(48, 80))  # rows, columns of the synthetic defect
DFM = {"model": "Dfm", "layers": ["blocks.4"], "pooling_kernel_size": 2}
DFKDE = {"model": "Dfkde", "layers": ["blocks.6"], "n_pca_components": 4}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(patch_images: Callable[..., dict[str, list[Sample]]]) -> dict[str, list[Sample]]:
    """16 normal train images (smooth noise), 4 normal and 4 anomalous (a red patch) test ones."""
    return patch_images("anomalib_images", size=SIZE, sigma=4, n_train=16, patch=PATCH)


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    """The demo's backbone: EfficientNet-Lite0 with its bundled weights."""
    return Backbone.from_config(BackboneConfig(resize=SIZE, crop=SIZE))


def _features(backbone: Backbone, params: dict[str, Any]) -> FeatureCache:
    return FeatureCache(backbone, tuple(params["layers"]))


def _anomalib_model(backbone: Backbone, params: dict[str, Any]) -> torch.nn.Module:
    """anomalib's torch model built from its own constructor, its extractor holding the
    weights our weights layer resolved."""
    import timm
    from anomalib.models.image.dfkde.torch_model import DfkdeModel
    from anomalib.models.image.dfm.torch_model import DFMModel

    arguments = {k: v for k, v in params.items() if k not in ("model", "layers")}
    model: torch.nn.Module
    if params["model"] == "Dfm":
        layer = params["layers"][0]
        model = DFMModel(backbone.config.name, layer, pre_trained=False, **arguments)
    else:
        model = DfkdeModel(backbone.config.name, params["layers"], pre_trained=False, **arguments)
    network = timm.create_model(backbone.config.name, pretrained=False)
    network.load_state_dict(resolve_weights(backbone.config, network).state)
    extractor = model.feature_extractor.feature_extractor
    loaded = extractor.load_state_dict(network.state_dict(), strict=False)
    assert not loaded.missing_keys  # every extractor weight is ours
    return model


def _anomalib_pipeline(
    backbone: Backbone, params: dict[str, Any], data: dict[str, list[Sample]]
) -> tuple[np.ndarray, np.ndarray | None]:
    """anomalib's own model and extractor, fitted and run as its Lightning module does
    (train-mode forwards, fit, eval-mode forward) on our preprocessed images."""
    model = _anomalib_model(backbone, params)

    def tensors(samples: list[Sample]) -> torch.Tensor:
        return torch.stack([backbone.preprocessing.load_image(sample.path) for sample in samples])

    model.train()
    for start in range(0, len(data["train"]), 8):
        model(tensors(data["train"][start : start + 8]))
    torch.manual_seed(0)
    model.fit()
    model.eval()
    with torch.no_grad():
        output = model(tensors(data["test"]))
    maps = None if output.anomaly_map is None else output.anomaly_map[:, 0].numpy()
    return output.pred_score.numpy(), maps


@pytest.mark.parametrize("params", [DFM, DFKDE], ids=["Dfm", "Dfkde"])
def test_scores_equal_anomalibs_own_pipeline(
    backbone: Backbone, data: dict[str, list[Sample]], params: dict[str, Any]
) -> None:
    ours = build_detector("anomalib", params, _features(backbone, params), seed=0)
    ours.fit(data["train"])
    scores = ours.score(data["test"])
    image, maps = _anomalib_pipeline(backbone, params, data)
    np.testing.assert_allclose(scores.image, image, rtol=1e-4, atol=1e-6)
    assert scores.maps.shape == (len(data["test"]), SIZE, SIZE)
    assert scores.image.dtype == scores.maps.dtype == np.float32
    if maps is not None:
        np.testing.assert_allclose(scores.maps, maps, rtol=1e-4, atol=1e-5)
    else:  # image scores only: the map is the image score at every pixel
        assert np.array_equal(
            scores.maps, np.broadcast_to(scores.image[:, None, None], scores.maps.shape)
        )


def test_dfm_scores_defects_higher_and_locates_them(
    backbone: Backbone, data: dict[str, list[Sample]]
) -> None:
    detector = build_detector("anomalib", DFM, _features(backbone, DFM), seed=0)
    detector.fit(data["train"])
    scores = detector.score(data["test"])
    assert scores.image[4:].min() > scores.image[:4].max()
    for anomalous in scores.maps[4:]:
        assert anomalous[PATCH].mean() > 2 * np.delete(anomalous, np.s_[32:88], axis=0).mean()


@pytest.mark.parametrize("params", [DFM, DFKDE], ids=["Dfm", "Dfkde"])
def test_save_load_round_trip_gives_identical_scores(
    backbone: Backbone, data: dict[str, list[Sample]], params: dict[str, Any], tmp_path: Path
) -> None:
    features = _features(backbone, params)
    detector = build_detector("anomalib", params, features, seed=3)
    detector.fit(data["train"])
    detector.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"anomalib.json", "anomalib_state.pt"}
    loaded = load_detector("anomalib", tmp_path, features)
    before, after = detector.score(data["test"]), loaded.score(data["test"])
    assert np.array_equal(before.image, after.image)
    assert np.array_equal(before.maps, after.maps)


def test_dfkde_subset_of_training_vectors_is_seeded(
    backbone: Backbone, data: dict[str, list[Sample]]
) -> None:
    """Above max_training_points DFKDE draws a subset: the same seed gives the same scores,
    whatever the global RNG's state."""
    params = {**DFKDE, "max_training_points": 8}
    runs = []
    for noise in (1, 2):
        torch.manual_seed(noise)
        detector = build_detector("anomalib", params, _features(backbone, params), seed=5)
        detector.fit(data["train"])
        runs.append(detector.score(data["test"]).image)
    assert np.array_equal(runs[0], runs[1])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "Dfm", "n_comp": 0.9}, "unknown key 'n_comp'"),
        ({"model": "Dfkde", "layers": ["blocks.4", "blocks.6"]}, "exactly one layer"),
        ({"model": "Stfpm"}, "'Stfpm' is not an anomalib model the adapter runs"),
        ({"model": "Padim"}, "use name = 'padim'"),
        ({"layers": ["blocks.4"]}, "model: missing"),
        ({"model": "Dfm", "score_type": "ssim"}, "score_type='ssim': use 'fre'"),
        ({"model": "Dfm", "score_type": "nll"}, "fails inside anomalib 2.7"),
    ],
)
def test_invalid_params_are_config_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_params("anomalib", params)


def test_params_round_trip_through_their_dump() -> None:
    """The record's params (the dump) resolve to the same params class and values."""
    for params in (DFM, DFKDE):
        resolved = resolve_params("anomalib", params)
        again = resolve_params("anomalib", resolved.model_dump(mode="json"))
        assert again == resolved and type(again) is type(resolved)


def test_misuse_is_reported(
    backbone: Backbone, data: dict[str, list[Sample]], tmp_path: Path
) -> None:
    detector = build_detector("anomalib", DFM, _features(backbone, DFM), seed=0)
    with pytest.raises(ResultsError, match="call fit"):
        detector.score(data["test"])
    with pytest.raises(DatasetError, match="at least 2"):
        detector.fit(data["train"][:1])
    small = build_detector("anomalib", DFKDE, _features(backbone, DFKDE), seed=0)
    with pytest.raises(DatasetError, match="n_pca_components=4"):
        small.fit(data["train"][:3])
    with pytest.raises(ResultsError, match="anomalib state"):
        AnomalibDetector.load(tmp_path, _features(backbone, DFM))


SMALL = {"resize": 64, "crop": 64}
STUDY = {
    "name": "anomalib",
    "kinds": ["clean/none"],
    "scopes": ["per_class"],
    "data": {
        "categories": ["hazelnut"],
        "synthetic": {"size": 64, "n_train": 6, "n_test_good": 4, "n_test_defect": 6},
    },
    "detectors": [
        {"name": "anomalib", "label": "dfm", "params": {"model": "Dfm"}, "backbone": SMALL},
        {"name": "anomalib", "label": "dfkde", "params": DFKDE, "backbone": SMALL},
    ],
    "sweeps": [{"detector": "dfm", "param": "params.n_comps", "values": [0.9, 0.97]}],
    "evaluation": {"bootstrap": 5, "artifacts_per_cell": 1},
}


def test_a_study_runs_anomalib_models_and_records_their_provenance(tmp_path: Path) -> None:
    """DFM (with a sweep over one of its params) and DFKDE run as cells of a study; every
    record names the anomalib model, anomalib's version and the backbone's timm name and
    weights."""
    from importlib.metadata import version

    from click.testing import CliRunner

    from evalsuite import results
    from evalsuite.cli import main

    config = tmp_path / "anomalib.json"
    config.write_text(json.dumps(STUDY), encoding="utf-8")
    where = ["--config", str(config), "--cache", str(tmp_path / "cache")]
    ran = CliRunner().invoke(main, ["run", *where, "--out", str(tmp_path / "out"), "--quiet"])
    assert ran.exit_code == 0, ran.output
    records = [record for _, record in results.iter_cells(tmp_path / "out")]
    assert records and all(r["status"] == "ok" for r in records), ran.output
    models = {r["label"]: r["config"]["detector"]["params"]["model"] for r in records}
    assert models == {"dfm": "Dfm", "dfkde": "Dfkde"}
    swept = {r["config"]["detector"]["params"]["n_comps"] for r in records if r["sweep"]}
    assert swept == {0.9, 0.97}  # the sweep's cells carry their value of the param
    for record in records:
        assert record["provenance"]["versions"]["anomalib"] == version("anomalib")
        assert record["config"]["detector"]["backbone"]["name"] == "tf_efficientnet_lite0"
        assert record["provenance"]["weights"]["source"] == "bundled"
        assert len(record["provenance"]["weights"]["sha256"]) == 64
        assert 0.0 <= record["metrics"]["image_auroc"]["value"] <= 1.0
