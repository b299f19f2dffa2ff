"""A backbone described without being built: the description is the built network's, the
weights are loaded on the first feature computed and never for stored ones, and a weights
file changed after it was located is refused when it is loaded."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch
from timm.data import resolve_data_config

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache, Preprocessing, spec
from evalsuite.backbone import extractor as extractor_module
from evalsuite.backbone.layers import FEATURE_CHANNELS
from evalsuite.backbone.spec import describe
from evalsuite.data.samples import Sample
from evalsuite.digest import file_sha256
from evalsuite.errors import WeightsError

SampleFactory = Callable[..., list[Sample]]

DESCRIBED = [
    ("tf_efficientnet_lite0", True),  # the demo's, bundled weights
    ("wide_resnet50_2.tv_in1k", False),  # the paper's (random weights: same architecture)
    ("resnet18.tv_in1k", False),
    ("resnet18", False),
    ("resnet18.a1_in1k", False),
    ("mobilenetv3_small_075", False),
    ("mobilenetv3_small_050", False),
    ("resnet34", False),
    ("convnext_atto", False),
]
"""The backbones the presets and the tests use."""


@pytest.mark.parametrize(("name", "pretrained"), DESCRIBED, ids=[n for n, _ in DESCRIBED])
def test_a_description_is_what_the_built_network_says(
    name: str, pretrained: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oracle: a full timm model built on the CPU (as a run built it before descriptions)."""
    config = BackboneConfig(name=name, pretrained=pretrained, resize=80, crop=64)
    with monkeypatch.context() as patch:  # described on the meta device, not on the CPU
        patch.setattr(spec, "create_model", _no_cpu_model)
        described = describe(config)
    with torch.random.fork_rng(devices=[]):
        model = timm.create_model(name, pretrained=False)
    info = model.feature_info
    assert described.layer_names == tuple(str(i["module"]) for i in info)
    assert dict(described.layer_channels) == {str(i["module"]): int(i["num_chs"]) for i in info}
    assert dict(described.layer_strides) == {str(i["module"]): int(i["reduction"]) for i in info}
    assert described.preprocessing == Preprocessing.from_data_config(
        resolve_data_config({}, model=model), 80, 64
    )
    if name in FEATURE_CHANNELS:
        assert dict(described.layer_channels) == FEATURE_CHANNELS[name]
    if pretrained:
        assert described.weights.source == "bundled" and described.weights.path is not None
        assert described.weights.sha256 == file_sha256(Path(described.weights.path))
        assert described.digest == f"{name}@{described.weights.sha256}"
    else:
        assert described.weights.path is None and described.digest == f"{name}@random-init-seed-0"


def _no_cpu_model(name: str) -> None:
    raise AssertionError(f"{name} was built on the CPU to be described")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The weights files (or `random`) loaded into a network, in order."""
    loaded: list[str] = []
    real = extractor_module.load_weights

    def counted(info, config, model):  # type: ignore[no-untyped-def]
        loaded.append(info.path or "random")
        return real(info, config, model)

    monkeypatch.setattr(extractor_module, "load_weights", counted)
    return loaded


def test_the_network_is_built_on_the_first_miss_only(
    loads: list[str], make_samples: SampleFactory, tmp_path: Path
) -> None:
    config = BackboneConfig(resize=48, crop=48)
    samples = make_samples(3)
    store = tmp_path / "features"
    first = FeatureCache(Backbone(describe(config)), ["blocks.2"], cache_dir=store, batch_size=2)
    assert first.bytes_per_input() == 4 * 40 * 6 * 6 and first.channels(["blocks.2"])
    assert loads == [] and not first.backbone.built  # key, shapes, sizes: no network
    computed = torch.cat([b["blocks.2"] for b in first.iter_features(samples, ["blocks.2"])])
    assert first.backbone.built and len(loads) == 1 and first.forward_passes == 3
    list(first.iter_features(samples, ["blocks.2"]))
    assert len(loads) == 1  # built once
    # another process's cache over the same store, from the same description: never built
    again = FeatureCache(Backbone(first.backbone.spec), ["blocks.2"], cache_dir=store, batch_size=2)
    assert not again.build_backbone_if_missing(samples)
    stored = torch.cat([b["blocks.2"] for b in again.iter_features(samples, ["blocks.2"])])
    assert len(loads) == 1 and not again.backbone.built and again.forward_passes == 0
    torch.testing.assert_close(stored, computed, rtol=0, atol=0)
    assert Backbone.from_config(config).state_dict().keys() == first.backbone.state_dict().keys()


def test_a_miss_builds_the_network_before_any_work(
    loads: list[str], make_samples: SampleFactory
) -> None:
    cache = FeatureCache(Backbone(describe(BackboneConfig(resize=48, crop=48))), ["blocks.2"])
    assert cache.build_backbone_if_missing(make_samples(1))
    assert cache.backbone.built and len(loads) == 1 and cache.forward_passes == 0


def _save(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    torch.save(timm.create_model("mobilenetv3_small_050", pretrained=False).state_dict(), path)


def test_weights_changed_after_they_were_located_are_refused(tmp_path: Path) -> None:
    """Even with the same size and modification time (a copy that keeps both): the bytes are
    hashed again when loaded."""
    path = tmp_path / "small.pth"
    _save(path, seed=1)
    config = BackboneConfig(name="mobilenetv3_small_050", weights_file=path, crop=64)
    described = describe(config)
    assert described.weights.sha256 == file_sha256(path)
    before = path.stat()
    _save(path, seed=2)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    backbone = Backbone(described)
    with pytest.raises(WeightsError, match=f"weights file {path} changed since it was located"):
        backbone.build()
    assert not backbone.built
    assert Backbone.from_config(config).weights.sha256 == file_sha256(path)  # located anew: fine


def test_a_model_the_meta_device_cannot_make_is_described_from_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = spec._timm_model

    def no_meta(name: str) -> torch.nn.Module:
        if torch.get_default_device().type == "meta":
            raise NotImplementedError("this model reads tensor values while it is made")
        return made(name)

    monkeypatch.setattr(spec, "_timm_model", no_meta)
    described = describe(BackboneConfig(name="resnet18", pretrained=False, crop=32))
    assert dict(described.layer_channels) == FEATURE_CHANNELS["resnet18.tv_in1k"]
    assert described.layer_strides == {
        "act1": 2,
        "layer1": 4,
        "layer2": 8,
        "layer3": 16,
        "layer4": 32,
    }
