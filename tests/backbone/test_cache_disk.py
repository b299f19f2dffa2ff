"""The feature cache's disk accounting: bytes written, bytes stored, and the disk budget."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
from evalsuite.data.samples import Sample
from evalsuite.errors import ConfigError

SampleFactory = Callable[..., list[Sample]]

LAYERS = ("layer1", "layer2", "layer3")
PER_INPUT = 4 * (64 * 8 * 8 + 128 * 4 * 4 + 256 * 2 * 2)  # ResNet-18 at 32 px, float32


def _read(cache: FeatureCache, samples: list[Sample], batch: int = 2) -> None:
    for _ in cache.iter_features(samples, LAYERS, batch):
        pass


def _stored(store: Path) -> set[str]:
    return {path.stem for path in store.glob("??/*.npz")}


def _entry_size(resnet18: Backbone, sample: Sample, store: Path) -> int:
    """File size of one .npz entry (all entries of a backbone and layers have the same size)."""
    cache = FeatureCache(resnet18, LAYERS, cache_dir=store)
    _read(cache, [sample])
    return cache.disk_bytes_written


def test_bytes_written_and_stored(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(3)
    assert FeatureCache(resnet18, LAYERS).disk_bytes() == 0  # no store
    store = tmp_path / "features"
    cache = FeatureCache(resnet18, LAYERS, cache_dir=store)
    assert (cache.disk_bytes_written, cache.disk_bytes(), cache.evictions) == (0, 0, 0)
    _read(cache, samples)
    sizes = [path.stat().st_size for path in store.rglob("*.npz")]
    assert len(sizes) == 3
    assert cache.disk_bytes_written == cache.disk_bytes() == sum(sizes)
    reader = FeatureCache(resnet18, LAYERS, cache_dir=store)
    _read(reader, samples)
    assert reader.disk_bytes_written == 0 and reader.disk_bytes() == sum(sizes)
    (store / "ab").mkdir(exist_ok=True)
    (store / "ab" / ".abc.npz.123.tmp").write_bytes(b"x" * 100)  # a writer's temp file
    assert reader.disk_bytes() == sum(sizes)


def test_bytes_per_input_matches_a_real_entry(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(1)
    cache = FeatureCache(resnet18, LAYERS, cache_dir=tmp_path / "r18")
    assert cache.bytes_per_input() == PER_INPUT
    _read(cache, samples)
    (entry,) = (tmp_path / "r18").rglob("*.npz")
    with np.load(entry) as stored:
        assert sum(stored[layer].nbytes for layer in LAYERS) == PER_INPUT
    assert PER_INPUT < entry.stat().st_size < PER_INPUT + 1024  # plus the zip and npy headers
    # Lite0 at 32 px: blocks.2 (40 ch, stride 8) and blocks.4 (112 ch, stride 16)
    lite0 = Backbone.from_config(BackboneConfig(crop=32))
    layers = ("blocks.2", "blocks.4")
    small = FeatureCache(lite0, layers, cache_dir=tmp_path / "lite0")
    assert small.bytes_per_input() == 4 * (40 * 4 * 4 + 112 * 2 * 2)
    features = next(small.iter_features(samples, layers))
    assert sum(features[layer][0].numel() * 4 for layer in layers) == small.bytes_per_input()
    # a crop that is no multiple of the stride: the maps round up, as the network does
    odd = Backbone.from_config(BackboneConfig(name="resnet18", pretrained=False, crop=40))
    odd_cache = FeatureCache(odd, LAYERS)
    got = next(odd_cache.iter_features(samples, LAYERS))
    assert sum(got[layer][0].numel() * 4 for layer in LAYERS) == odd_cache.bytes_per_input()


def test_budget_evicts_least_recently_used(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(6)
    entry = _entry_size(resnet18, samples[0], tmp_path / "probe")
    store = tmp_path / "features"
    budget = 3 * entry
    # memory for one entry only, so evicted entries must come from disk (or be recomputed)
    cache = FeatureCache(
        resnet18, LAYERS, cache_dir=store, memory_bytes=PER_INPUT, disk_budget_bytes=budget
    )
    keys = [cache.key(sample.path) for sample in samples]
    _read(cache, samples[:4])
    assert _stored(store) == set(keys[1:4]) and cache.evictions == 1
    _read(cache, samples[1:2])  # used again: now the most recent
    _read(cache, samples[4:6])
    assert _stored(store) == {keys[1], keys[4], keys[5]}
    assert cache.evictions == 3
    assert cache.disk_bytes() == budget and cache.disk_bytes_written == 6 * entry
    assert (cache.forward_passes, cache.distinct_inputs) == (6, 6)
    _read(cache, samples[:1])  # evicted: recomputed
    assert (cache.forward_passes, cache.distinct_inputs) == (7, 6)
    assert cache.disk_bytes() <= budget


def test_budget_never_evicts_the_current_batch(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(6)
    entry = _entry_size(resnet18, samples[0], tmp_path / "probe")
    store = tmp_path / "features"
    cache = FeatureCache(resnet18, LAYERS, cache_dir=store, disk_budget_bytes=entry)
    keys = [cache.key(sample.path) for sample in samples]
    batches = cache.iter_features(samples, LAYERS, 3)
    next(batches)
    assert _stored(store) == set(keys[:3]) and cache.evictions == 0  # over budget, protected
    next(batches)
    assert _stored(store) == set(keys[3:]) and cache.evictions == 3


def test_untouched_entries_go_first_oldest_first(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(5)
    store = tmp_path / "features"
    writer = FeatureCache(resnet18, LAYERS, cache_dir=store)
    _read(writer, samples[:3])
    entry = writer.disk_bytes_written // 3
    keys = [writer.key(sample.path) for sample in samples]
    for key, age in zip(keys[:3], (100, 300, 200), strict=True):  # seconds old
        path = store / key[:2] / f"{key}.npz"
        stamp = path.stat().st_mtime - age
        os.utime(path, (stamp, stamp))
    cache = FeatureCache(
        resnet18, LAYERS, cache_dir=store, memory_bytes=PER_INPUT, disk_budget_bytes=3 * entry
    )
    _read(cache, samples[1:2])  # the oldest file, but used by this instance
    assert cache.forward_passes == 0
    _read(cache, samples[3:4])  # evicts the oldest untouched: sample 2 (200 s)
    assert _stored(store) == {keys[0], keys[1], keys[3]}
    _read(cache, samples[4:5])  # then sample 0; sample 1 was used, so it stays
    assert _stored(store) == {keys[1], keys[3], keys[4]}
    assert cache.evictions == 2


def test_budget_settings_are_checked(resnet18: Backbone, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs an on-disk store; give cache_dir"):
        FeatureCache(resnet18, LAYERS, disk_budget_bytes=10**9)
    with pytest.raises(ConfigError, match="disk_budget_bytes=-1 is negative"):
        FeatureCache(resnet18, LAYERS, cache_dir=tmp_path, disk_budget_bytes=-1)


def test_no_budget_keeps_everything(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(4)
    cache = FeatureCache(resnet18, LAYERS, cache_dir=tmp_path / "features")
    _read(cache, samples)
    assert cache.evictions == 0 and len(_stored(tmp_path / "features")) == 4
