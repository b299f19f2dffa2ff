"""The generator's difficulty calibration: the easy half (below 0.5) is calibrated apart, so the
demo can reach MVTec AD's AUROC range while difficulties from 0.5 up draw what they always drew."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from evalsuite.data.synthetic import SyntheticConfig
from evalsuite.data.synthetic.defects import extent, strength, variation
from evalsuite.data.synthetic.scenes import render, sample_seed


def draws(function: object, difficulty: float, n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([function(rng, difficulty) for _ in range(n)])  # type: ignore[operator]


@pytest.mark.parametrize(
    ("difficulty", "low", "high"), [(0.0, 0.8, 1.0), (0.5, 0.25, 0.75), (1.0, 0.1, 0.5)]
)
def test_strength_ranges_are_as_documented(difficulty: float, low: float, high: float) -> None:
    values = draws(strength, difficulty)
    assert values.min() >= low - 1e-9 and values.max() <= high + 1e-9
    assert values.min() < low + 0.02 and values.max() > high - 0.02


@pytest.mark.parametrize(
    ("difficulty", "low", "high"), [(0.0, 1.2, 1.8), (0.5, 0.7, 1.2), (1.0, 0.5, 0.9)]
)
def test_extent_ranges_are_as_documented(difficulty: float, low: float, high: float) -> None:
    values = draws(extent, difficulty)
    assert values.min() >= low - 1e-9 and values.max() <= high + 1e-9
    assert values.min() < low + 0.02 and values.max() > high - 0.02


def test_easier_is_monotone_and_continuous_at_the_middle() -> None:
    levels = np.linspace(0.0, 1.0, 21)
    normal = [variation(d) for d in levels]
    assert normal == sorted(normal) and normal[0] == pytest.approx(0.3)
    assert variation(0.5) == 1.0 and variation(1.0) == pytest.approx(1.4)
    mean_strength = [draws(strength, d, 500).mean() for d in levels]
    assert all(a > b for a, b in itertools.pairwise(mean_strength))
    # continuous at 0.5: just below draws nearly what 0.5 draws
    assert abs(draws(strength, 0.4999).mean() - draws(strength, 0.5).mean()) < 1e-3


def test_the_demos_difficulty_draws_stronger_defects_and_quieter_normals() -> None:
    """The demo's difficulty 0.1 against the default 0.5: the defect changes more pixels by
    more, and two normal images of the category differ less from each other."""

    def change_and_spread(difficulty: float) -> tuple[float, float]:
        config = SyntheticConfig(size=64, difficulty=difficulty)
        change, normals = 0.0, []
        for index in range(6):
            seed = sample_seed(config, "zipper", "test", "rough", index)
            image, _ = render("zipper", config, seed, "rough")
            base, _ = render("zipper", config, seed)
            change += float(np.abs(image.astype(np.int16) - base.astype(np.int16)).sum())
            normals.append(base.astype(np.float32))
        spread = float(np.std(np.stack(normals), axis=0).mean())
        return change, spread

    demo, default = change_and_spread(0.1), change_and_spread(0.5)
    assert demo[0] > 1.5 * default[0]
    assert demo[1] < default[1]
