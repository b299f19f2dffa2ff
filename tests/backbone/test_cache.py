"""The feature cache: one forward pass per distinct input, keyed by content, streamed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import DescribedFeatureSource, FeatureSource
from evalsuite.errors import ConfigError, DatasetError

SampleFactory = Callable[..., list[Sample]]

LAYERS = ("layer1", "layer2", "layer3")


def _collect(
    cache: FeatureCache, samples: list[Sample], layers: tuple[str, ...], batch: int = 2
) -> dict[str, torch.Tensor]:
    batches = list(cache.iter_features(samples, layers, batch))
    return {layer: torch.cat([b[layer] for b in batches]) for layer in layers}


def test_second_request_costs_no_forward_pass(
    resnet18: Backbone, make_samples: SampleFactory
) -> None:
    samples = make_samples(5)
    cache = FeatureCache(resnet18, LAYERS, batch_size=2)
    assert isinstance(cache, FeatureSource) and isinstance(cache, DescribedFeatureSource)
    assert cache.input_size == (32, 32)
    first = _collect(cache, samples, LAYERS)
    assert (cache.forward_passes, cache.distinct_inputs) == (5, 5)
    second = _collect(cache, samples, LAYERS, batch=3)
    assert (cache.forward_passes, cache.distinct_inputs) == (5, 5)
    for layer in LAYERS:
        assert torch.equal(first[layer], second[layer])
    # the cached features are the backbone's own
    images = torch.stack([resnet18.preprocessing.load_image(s.path) for s in samples])
    direct = resnet18.forward(images, LAYERS)
    for layer in LAYERS:
        torch.testing.assert_close(first[layer], direct[layer])
    assert first["layer2"].shape == (5, 128, 4, 4)


def test_batches_are_streamed_in_sample_order(
    resnet18: Backbone, make_samples: SampleFactory
) -> None:
    samples = make_samples(5)
    cache = FeatureCache(resnet18, LAYERS, batch_size=4)
    stream = cache.iter_features(samples, ("layer3",), 2)
    assert next(stream)["layer3"].shape[0] == 2
    assert cache.forward_passes == 2  # nothing beyond the first batch computed yet
    sizes = [batch["layer3"].shape[0] for batch in stream]
    assert sizes == [2, 1] and cache.forward_passes == 5


def test_same_id_different_bytes_are_distinct_entries(
    resnet18: Backbone, make_samples: SampleFactory
) -> None:
    clean = make_samples(2, name="clean", seed=1)
    other_paths = [sample.path for sample in make_samples(2, name="shift", seed=2)]
    shifted = [
        dataclasses.replace(sample, path=path)
        for sample, path in zip(clean, other_paths, strict=True)
    ]
    assert [s.id for s in clean] == [s.id for s in shifted]
    cache = FeatureCache(resnet18, LAYERS)
    a = _collect(cache, clean, ("layer1",))
    b = _collect(cache, shifted, ("layer1",))
    assert (cache.forward_passes, cache.distinct_inputs) == (4, 4)
    assert not torch.allclose(a["layer1"], b["layer1"])


def test_identical_files_share_one_entry(resnet18: Backbone, make_samples: SampleFactory) -> None:
    samples = make_samples(1)
    copy = samples[0].path.with_name("copy.png")
    copy.write_bytes(samples[0].path.read_bytes())
    twin = dataclasses.replace(samples[0], id="thing/train/good/copy", path=copy)
    cache = FeatureCache(resnet18, LAYERS)
    features = _collect(cache, [samples[0], twin], ("layer2",))
    assert (cache.forward_passes, cache.distinct_inputs) == (1, 1)
    assert torch.equal(features["layer2"][0], features["layer2"][1])


def test_union_of_layers_extracted_once(resnet18: Backbone, make_samples: SampleFactory) -> None:
    samples = make_samples(3)
    cache = FeatureCache(resnet18, LAYERS)
    _collect(cache, samples, ("layer2", "layer3"))  # PatchCore's layers
    _collect(cache, samples, ("layer1", "layer2", "layer3"))  # PaDiM's layers
    _collect(cache, samples, ("layer1",))
    assert cache.forward_passes == 3
    with pytest.raises(ConfigError, match="layer4"):
        cache.iter_features(samples, ("layer4",))
    assert cache.channels(("layer1", "layer3")) == {"layer1": 64, "layer3": 256}
    assert cache.backbone_name == "resnet18"


def test_disk_store_survives_the_process(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(3)
    store = tmp_path / "features"
    first = FeatureCache(resnet18, LAYERS, cache_dir=store)
    expected = _collect(first, samples, LAYERS)
    files = sorted(store.rglob("*.npz"))
    assert len(files) == 3 and not list(store.rglob("*.tmp"))
    second = FeatureCache(resnet18, LAYERS, cache_dir=store)
    got = _collect(second, samples, LAYERS)
    assert second.forward_passes == 0 and second.distinct_inputs == 3
    for layer in LAYERS:
        assert torch.equal(got[layer], expected[layer])
    # a damaged entry is recomputed, not trusted
    files[0].write_bytes(b"not an npz")
    third = FeatureCache(resnet18, LAYERS, cache_dir=store)
    _collect(third, samples, LAYERS)
    assert third.forward_passes == 1


def test_memory_is_bounded(resnet18: Backbone, make_samples: SampleFactory) -> None:
    samples = make_samples(4)
    per_image = 4 * (64 * 8 * 8 + 128 * 4 * 4 + 256 * 2 * 2)  # float32 bytes of one entry
    cache = FeatureCache(resnet18, LAYERS, memory_bytes=2 * per_image)
    _collect(cache, samples, LAYERS)
    assert cache.forward_passes == 4
    _collect(cache, samples[2:], LAYERS)  # the two most recent are still held
    assert cache.forward_passes == 4
    _collect(cache, samples[:1], LAYERS)  # evicted without a disk store: computed again
    assert cache.forward_passes == 5


def test_changed_file_content_is_a_new_entry(
    resnet18: Backbone, make_samples: SampleFactory
) -> None:
    samples = make_samples(1)
    cache = FeatureCache(resnet18, LAYERS)
    key = cache.key(samples[0].path)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(samples[0].path)
    assert cache.key(samples[0].path) != key
    samples[0].path.unlink()
    with pytest.raises(DatasetError, match="image file not found"):
        next(cache.iter_features(samples, ("layer1",)))


def test_lite0_layer_names_survive_the_disk_store(
    make_samples: SampleFactory, tmp_path: Path
) -> None:
    lite0 = Backbone.from_config(BackboneConfig(crop=32))
    samples = make_samples(2)
    layers = ("blocks.2", "blocks.4")  # PatchCore's "layers 2+3" on Lite0
    expected = _collect(FeatureCache(lite0, layers, cache_dir=tmp_path / "store"), samples, layers)
    again = FeatureCache(lite0, layers, cache_dir=tmp_path / "store")
    got = _collect(again, samples, layers)
    assert again.forward_passes == 0
    assert got["blocks.2"].shape == (2, 40, 4, 4) and got["blocks.4"].shape == (2, 112, 2, 2)
    for layer in layers:
        assert torch.equal(got[layer], expected[layer])
