"""The detector registry: names, building, loading, and its errors."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from evalsuite.data.samples import Sample
from evalsuite.detectors.patchcore import PatchCore, PatchCoreParams
from evalsuite.detectors.registry import (
    DETECTORS,
    build_detector,
    load_detector,
    resolve_params,
)
from evalsuite.errors import ConfigError


class NoiseFeatures:
    """Deterministic per-sample features: a seeded (4, 4, 4) tensor per image."""

    input_size = (16, 16)

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            seeds = [int(sample.id.rsplit("/", 1)[1]) for sample in chunk]
            yield {
                layer: torch.stack(
                    [
                        torch.randn(4, 4, 4, generator=torch.Generator().manual_seed(s))
                        for s in seeds
                    ]
                )
                for layer in layers
            }


def _samples(count: int, offset: int = 0) -> list[Sample]:
    return [
        Sample(f"carpet/train/good/{i}", Path(f"/v/{i}.png"), "carpet", "train", 0, "good", None)
        for i in range(offset, offset + count)
    ]


def test_known_names() -> None:
    assert sorted(DETECTORS) == ["anomalib", "padim", "patchcore"]


def test_naming_patchcore_does_not_import_anomalib() -> None:
    resolve_params("patchcore", {})
    if "evalsuite.detectors.padim" not in sys.modules:
        assert not any(name.startswith("anomalib") for name in sys.modules)


def test_build_patchcore_with_validated_params() -> None:
    detector = build_detector(
        "patchcore", {"layers": ["a"], "coreset_ratio": 0.5}, NoiseFeatures(), 3
    )
    assert isinstance(detector, PatchCore)
    assert detector.params == PatchCoreParams(layers=("a",), coreset_ratio=0.5)
    assert detector.seed == 3


def test_unknown_detector_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown detector 'fastflow'; use 'patchcore', 'padim' or 'anomalib'"
    ):
        build_detector("fastflow", {}, NoiseFeatures(), 0)


def test_bad_params_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"coreset_ratio=2\.0.*\(0, 1\]"):
        build_detector("patchcore", {"coreset_ratio": 2.0}, NoiseFeatures(), 0)
    with pytest.raises(ConfigError, match="unknown key 'k'"):
        resolve_params("patchcore", {"k": 1})


def test_build_fit_save_and_load_by_name(tmp_path: Path) -> None:
    features = NoiseFeatures()
    detector = build_detector("patchcore", {"layers": ["a"], "target_dim": None}, features, 0)
    detector.fit(_samples(4))
    detector.save(tmp_path)
    loaded = load_detector("patchcore", tmp_path, features)
    test = _samples(2, offset=10)
    np.testing.assert_array_equal(detector.score(test).image, loaded.score(test).image)


@pytest.mark.skipif(
    importlib.util.find_spec("evalsuite.detectors.padim") is None,
    reason="evalsuite.detectors.padim is not in the tree yet",
)
def test_padim_resolves_through_the_registry() -> None:
    params = resolve_params("padim", {})
    assert type(params).__name__ == "PadimParams"
    with pytest.raises(ConfigError):
        resolve_params("padim", {"no_such_key": 1})
