"""Weight resolution: explicit file, hub caches, bundled Lite0, download; strict loading."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

import evalsuite.backbone.weights as weights
from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.backbone.checkpoint import read_state_dict
from evalsuite.backbone.lite0 import bundled_lite0_file, map_lite0_keys
from evalsuite.errors import ConfigError, WeightsError


def _resnet18_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return timm.create_model("resnet18", pretrained=False).state_dict()


def _hf_cache_file(cache: Path, repo: str, filename: str) -> Path:
    """Where huggingface_hub keeps `filename` of `repo` at revision refs/main."""
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text("0123abcd")
    target = repo_dir / "snapshots" / "0123abcd" / filename
    target.parent.mkdir(parents=True)
    return target


def _first_conv(backbone: Backbone) -> torch.Tensor:
    return backbone.state_dict()["conv1.weight"]


def test_explicit_file_loaded_and_digested(tmp_path: Path) -> None:
    state = _resnet18_state(seed=1)
    path = tmp_path / "mine.pth"
    torch.save(state, path)
    backbone = Backbone.from_config(BackboneConfig(name="resnet18", weights_file=path, crop=32))
    assert backbone.weights.source == "file"
    assert backbone.weights.path == str(path)
    assert backbone.weights.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(_first_conv(backbone), state["conv1.weight"])
    # the features are those of a timm model holding the file's weights
    reference = timm.create_model("resnet18", pretrained=False).eval()
    reference.load_state_dict(state)
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = reference.forward_intermediates(images, indices=[1, 3], intermediates_only=True)
    got = backbone.forward(images, ("layer1", "layer3"))
    torch.testing.assert_close(got["layer1"], expected[0])
    torch.testing.assert_close(got["layer3"], expected[1])


def test_explicit_file_comes_before_the_hub_cache(tmp_path: Path, isolated_caches: Path) -> None:
    cfg = timm.models.get_pretrained_cfg("resnet18")
    cached = _hf_cache_file(isolated_caches / "hf" / "hub", cfg.hf_hub_id, "model.safetensors")
    save_file(_resnet18_state(seed=2), str(cached))
    explicit = tmp_path / "explicit.safetensors"
    save_file(_resnet18_state(seed=3), str(explicit))
    backbone = Backbone.from_config(BackboneConfig(name="resnet18", weights_file=explicit))
    assert backbone.weights.source == "file" and backbone.weights.path == str(explicit)


def test_hugging_face_cache(isolated_caches: Path) -> None:
    cfg = timm.models.get_pretrained_cfg("resnet18")
    cached = _hf_cache_file(isolated_caches / "hf" / "hub", cfg.hf_hub_id, "model.safetensors")
    state = _resnet18_state(seed=4)
    save_file(state, str(cached))
    backbone = Backbone.from_config(BackboneConfig(name="resnet18"))
    assert backbone.weights.source == "hub_cache"
    assert backbone.weights.path is not None and Path(backbone.weights.path) == cached
    assert backbone.weights.sha256 == hashlib.sha256(cached.read_bytes()).hexdigest()
    assert torch.equal(_first_conv(backbone), state["conv1.weight"])


def test_torch_hub_cache(isolated_caches: Path) -> None:
    url = timm.models.get_pretrained_cfg("resnet18").url
    cached = isolated_caches / "torch" / "hub" / "checkpoints" / os.path.basename(url)
    cached.parent.mkdir(parents=True)
    state = _resnet18_state(seed=5)
    del state["layer1.0.bn1.num_batches_tracked"]  # old torchvision files lack these counters
    torch.save(state, cached)
    backbone = Backbone.from_config(BackboneConfig(name="resnet18"))
    assert backbone.weights.source == "hub_cache" and backbone.weights.path == str(cached)
    assert torch.equal(_first_conv(backbone), state["conv1.weight"])


def test_hub_cache_comes_before_the_bundled_lite0(isolated_caches: Path) -> None:
    bundled = bundled_lite0_file()
    assert bundled is not None
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    mapped = map_lite0_keys(read_state_dict(bundled), model, bundled)
    repo = timm.models.get_pretrained_cfg("tf_efficientnet_lite0").hf_hub_id
    cached = _hf_cache_file(isolated_caches / "hf" / "hub", repo, "model.safetensors")
    save_file({key: value.contiguous() for key, value in mapped.items()}, str(cached))
    backbone = Backbone.from_config(BackboneConfig(name="tf_efficientnet_lite0"))
    assert backbone.weights.source == "hub_cache" and backbone.weights.path == str(cached)


def test_bundled_lite0_when_nothing_else() -> None:
    backbone = Backbone.from_config(BackboneConfig(name="tf_efficientnet_lite0"))
    assert backbone.weights.source == "bundled"
    assert backbone.weights.path == str(bundled_lite0_file())


def _no_download(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """A download fails the test; the network probes made are recorded (address, timeout)."""
    probes: list[tuple[object, ...]] = []
    connect = weights.socket.create_connection

    def probe(address: tuple[str, int], timeout: float, *args: object, **kwargs: object) -> object:
        probes.append((address, timeout))
        return connect(address, timeout, *args, **kwargs)

    def download(*args: object, **kwargs: object) -> str:
        raise AssertionError("a download was tried")

    monkeypatch.setattr(weights.socket, "create_connection", probe)
    monkeypatch.setattr(weights, "hf_hub_download", download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    return probes


def test_offline_without_weights_fails_fast_and_says_where_it_looked(
    isolated_caches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fast: offline, not even a probe of the network is made, let alone a download."""
    probes = _no_download(monkeypatch)
    with pytest.raises(WeightsError) as caught:
        Backbone.from_config(BackboneConfig(name="wide_resnet50_2.tv_in1k"))
    assert probes == []
    message = str(caught.value)
    assert "'wide_resnet50_2.tv_in1k'" in message
    assert str(isolated_caches / "hf" / "hub") in message  # Hugging Face cache looked at
    assert "timm/wide_resnet50_2.tv_in1k" in message
    assert str(isolated_caches / "torch" / "hub" / "checkpoints" / "wide_resnet50_2") in message
    assert "HF_HUB_OFFLINE" in message and "bundled" in message
    assert "weights_file" in message and "huggingface-cli download" in message


def test_unreachable_hub_is_detected_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(weights, "HF_HOST", "127.0.0.1")  # nothing listens on 443 here

    probes = _no_download(monkeypatch)
    with pytest.raises(WeightsError, match="unreachable"):
        Backbone.from_config(BackboneConfig(name="resnet18"))
    # one bounded probe, then no download: a hub that does not answer costs at most 2 s
    assert probes == [(("127.0.0.1", 443), weights.PROBE_TIMEOUT_S)]
    assert weights.PROBE_TIMEOUT_S <= 2.0


def test_random_weights_only_when_asked() -> None:
    backbone = Backbone.from_config(BackboneConfig(name="resnet18", pretrained=False))
    assert backbone.weights.to_dict() == {"source": "random", "path": None, "sha256": None}
    again = Backbone.from_config(BackboneConfig(name="resnet18", pretrained=False))
    assert torch.equal(_first_conv(backbone), _first_conv(again))  # seeded initialisation
    with pytest.raises(ConfigError, match="pretrained is false"):
        BackboneConfig(name="resnet18", pretrained=False, weights_file=Path("w.pth"))


def test_wrong_architecture_names_file_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(_resnet18_state(seed=6), path)
    with pytest.raises(WeightsError) as caught:
        Backbone.from_config(BackboneConfig(name="resnet34", weights_file=path))
    message = str(caught.value)
    assert str(path) in message and "'resnet34'" in message
    assert "missing keys: layer1.2." in message  # resnet34 has 3 blocks in layer1, resnet18 2


def test_shape_mismatch_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "lite0_for_resnet.pth"
    state = _resnet18_state(seed=7)
    state["fc.weight"] = torch.zeros(10, 512)
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"fc.weight \(10, 512\) vs \(1000, 512\)"):
        Backbone.from_config(BackboneConfig(name="resnet18", weights_file=path))


class _Payload:
    """Not a tensor: loading it would need unpickling arbitrary code."""


def test_files_are_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": _Payload()}, path)
    with pytest.raises(WeightsError, match="tensors only"):
        Backbone.from_config(BackboneConfig(name="resnet18", weights_file=path))


def test_missing_file_and_unknown_model() -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        Backbone.from_config(BackboneConfig(name="resnet18", weights_file=Path("/nonexistent.pth")))
    with pytest.raises(ConfigError, match="not a timm model"):
        Backbone.from_config(BackboneConfig(name="no_such_network", pretrained=False))
    with pytest.raises(ConfigError, match="unknown key 'weights'"):
        BackboneConfig.model_validate({"name": "resnet18", "weights": "x"})


def test_download_when_online_and_nothing_cached(
    monkeypatch: pytest.MonkeyPatch, isolated_caches: Path
) -> None:
    """The network is replaced by a fake hub that serves a file into the HF cache."""
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(weights, "offline_reason", lambda host: None)
    requests: list[tuple[str, str]] = []

    def fake_hub(repo: str, filename: str, cache_dir: Path) -> str:
        requests.append((repo, filename))
        target = _hf_cache_file(Path(cache_dir), repo, filename)
        save_file(_resnet18_state(seed=8), str(target))
        return str(target)

    monkeypatch.setattr(weights, "hf_hub_download", fake_hub)
    backbone = Backbone.from_config(BackboneConfig(name="resnet18"))
    assert requests == [("timm/resnet18.a1_in1k", "model.safetensors")]
    assert backbone.weights.source == "download"
    assert backbone.weights.path is not None
    assert backbone.weights.path.startswith(str(isolated_caches / "hf" / "hub"))
    # once downloaded, the next build finds it in the cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Backbone.from_config(BackboneConfig(name="resnet18")).weights.source == "hub_cache"


def test_offline_flag_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("1", "ON", "true", "yes"):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        assert weights.offline_reason("huggingface.co") == "HF_HUB_OFFLINE is set"
