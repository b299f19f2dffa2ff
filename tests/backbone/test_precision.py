"""Backbone precision and device: float32 on the CPU gives today's bits, digests and keys."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable

import pytest
import torch

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
from evalsuite.data.samples import Sample
from evalsuite.digest import file_sha256
from evalsuite.errors import ConfigError

SampleFactory = Callable[..., list[Sample]]

LAYERS = ("layer1", "layer2", "layer3")
CONFIG = {"name": "resnet18", "pretrained": False, "resize": 32, "crop": 32}


@pytest.fixture(scope="module")
def bf16() -> Backbone:
    return Backbone.from_config(BackboneConfig(**CONFIG, precision="bfloat16"))


def test_precision_defaults_to_float32_and_stays_out_of_dumps() -> None:
    """Plan keys hash `model_dump`: a float32 configuration dumps exactly as before."""
    config = BackboneConfig(**CONFIG)
    assert config.precision == "float32"
    expected = {**CONFIG, "weights_file": None}
    assert config.model_dump(mode="json") == expected
    assert json.loads(config.model_dump_json()) == expected
    assert BackboneConfig(**CONFIG, precision="float32") == config
    half = BackboneConfig(**CONFIG, precision="bfloat16")
    assert half.model_dump(mode="json") == {**expected, "precision": "bfloat16"}
    assert BackboneConfig.model_validate_json(half.model_dump_json()) == half
    with pytest.raises(ConfigError, match="precision"):
        BackboneConfig(**CONFIG, precision="float16")


def test_float32_digest_is_unchanged_and_bfloat16_differs(
    resnet18: Backbone, bf16: Backbone
) -> None:
    assert resnet18.digest == "resnet18@random-init-seed-0"
    assert bf16.digest == "resnet18@random-init-seed-0+bfloat16-autocast"


def test_explicit_cpu_gives_the_default_bits(resnet18: Backbone) -> None:
    on_cpu = Backbone.from_config(BackboneConfig(**CONFIG), torch.device("cpu"))
    assert resnet18.device == on_cpu.device == torch.device("cpu")
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    # today's forward pass: the timm features_only extractor, called directly
    indices = (1, 2, 3)
    with torch.no_grad():
        today = resnet18._extractor(indices)(images)
    for backbone in (resnet18, on_cpu):
        got = backbone.forward(images, LAYERS)
        for layer, expected in zip(LAYERS, today, strict=True):
            assert got[layer].dtype == torch.float32
            assert torch.equal(got[layer], expected)


def test_bfloat16_is_close_float32_and_on_the_cpu(resnet18: Backbone, bf16: Backbone) -> None:
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    exact = resnet18.forward(images, LAYERS)
    approximate = bf16.forward(images, LAYERS)
    for layer in LAYERS:
        got = approximate[layer]
        assert got.dtype == torch.float32 and got.device.type == "cpu"
        assert got.shape == exact[layer].shape
        assert not torch.equal(got, exact[layer])
        error = (got - exact[layer]).abs().max() / exact[layer].abs().max()
        assert error < 0.05


def _todays_key(cache: FeatureCache, sample: Sample) -> str:
    """The cache key of a CPU float32 entry: content, backbone, preprocessing, layers and the
    fixed batch size of every forward pass (no device, no precision)."""
    context = json.dumps(
        {
            "backbone": cache.backbone.digest,
            "preprocessing": cache.backbone.preprocessing.to_dict(),
            "layers": list(cache.layers),
            "batch": cache.batch_size,
        },
        sort_keys=True,
    )
    return hashlib.sha256(f"{file_sha256(sample.path)}|{context}".encode()).hexdigest()


def test_cache_keys_stay_on_the_cpu_and_change_elsewhere(
    resnet18: Backbone, bf16: Backbone, make_samples: SampleFactory
) -> None:
    sample = make_samples(1)[0]
    cpu = FeatureCache(resnet18, LAYERS)
    key = cpu.key(sample.path)
    assert key == _todays_key(cpu, sample)
    explicit = Backbone.from_config(BackboneConfig(**CONFIG), torch.device("cpu"))
    assert FeatureCache(explicit, LAYERS).key(sample.path) == key
    assert FeatureCache(bf16, LAYERS).key(sample.path) != key
    # a backbone on a GPU (only its device attribute: no CUDA call is made)
    on_gpu = copy.copy(resnet18)
    on_gpu.device = torch.device("cuda")
    gpu_key = FeatureCache(on_gpu, LAYERS).key(sample.path)
    assert gpu_key != key
    assert gpu_key != FeatureCache(bf16, LAYERS).key(sample.path)
