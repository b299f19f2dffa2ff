"""The opt-in float16 feature cache: half the disk, the same values from the backbone, the
memory and the disk, a key of its own, and runs that say they used it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from evalsuite.backbone import Backbone, FeatureCache
from evalsuite.data.samples import Sample
from evalsuite.errors import ConfigError

SampleFactory = Callable[..., list[Sample]]
LAYERS = ("layer1", "layer2")


def _features(cache: FeatureCache, samples: list[Sample]) -> dict[str, torch.Tensor]:
    batches = list(cache.iter_features(samples, LAYERS, 2))
    return {layer: torch.cat([b[layer] for b in batches]) for layer in LAYERS}


def test_float16_storage_rounds_once_and_halves_the_disk(
    resnet18: Backbone, make_samples: SampleFactory, tmp_path: Path
) -> None:
    samples = make_samples(3)
    exact = FeatureCache(resnet18, LAYERS, cache_dir=tmp_path / "f32", batch_size=2)
    half = FeatureCache(
        resnet18, LAYERS, cache_dir=tmp_path / "f16", batch_size=2, storage="float16"
    )
    reference = _features(exact, samples)
    computed = _features(half, samples)
    for layer in LAYERS:  # float32 tensors holding exactly the float16-rounded values
        assert computed[layer].dtype == torch.float32
        torch.testing.assert_close(computed[layer], reference[layer].half().float(), rtol=0, atol=0)
        assert not torch.equal(computed[layer], reference[layer])
        scale = reference[layer].abs().max()
        assert (computed[layer] - reference[layer]).abs().max() <= scale * 2**-11
    assert half.bytes_per_input() * 2 == exact.bytes_per_input()
    assert half.disk_bytes() < 0.6 * exact.disk_bytes()
    reread = FeatureCache(
        resnet18, LAYERS, cache_dir=tmp_path / "f16", batch_size=2, storage="float16"
    )
    from_disk = _features(reread, samples)
    assert reread.forward_passes == 0
    for layer in LAYERS:
        assert torch.equal(from_disk[layer], computed[layer])
    stored = next((tmp_path / "f16").rglob("*.npz"))
    with np.load(stored) as arrays:
        assert {arrays[layer].dtype for layer in LAYERS} == {np.dtype(np.float16)}
    assert exact.key(samples[0].path) != half.key(samples[0].path)


def test_an_unknown_storage_is_refused(resnet18: Backbone) -> None:
    with pytest.raises(ConfigError, match="storage='int8'"):
        FeatureCache(resnet18, LAYERS, storage="int8")
