"""The pruned greedy coreset makes the full loop's selection bit for bit, computing far fewer
distances; its rounding bound holds; it is used exactly where it can be."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import evalsuite.detectors.patchcore.greedy as greedy
import evalsuite.detectors.patchcore.greedy_pruned as pruned
from evalsuite.detectors.patchcore.buffers import aligned_empty
from evalsuite.detectors.patchcore.greedy import greedy_k_center
from evalsuite.detectors.threads import limit_threads

pytestmark = pytest.mark.long  # minutes: started first (tests/conftest.py)

N = 32768  # the smallest bank the pruned loop takes


def _patch_like(seed: int, duplicates: bool = False) -> np.ndarray:
    """(N, 128) float32, 64-byte aligned: points near a few low-dimensional patches of a
    curved surface, as patch features are (most variance in a few directions)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(N, 6)) * np.array([4.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    clusters = rng.integers(0, 12, size=N)
    offsets = rng.normal(scale=6.0, size=(12, 128))
    mixing = rng.normal(size=(6, 128)) / np.sqrt(6)
    values = offsets[clusters] + np.tanh(latent) @ mixing + 0.05 * rng.normal(size=(N, 128))
    if duplicates:  # exact ties everywhere: every row appears four times
        values[N // 4 :] = np.tile(values[: N // 4], (3, 1))
    points = aligned_empty((N, 128))
    points[...] = values + 40.0  # far from the origin: the loop centres them
    return points


def _both(points: np.ndarray, size: int, start: int) -> tuple:  # type: ignore[type-arg]
    copy = aligned_empty(points.shape)
    copy[...] = points
    return greedy_k_center(points, size, start), greedy_k_center(copy, size, start, prune=False)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("duplicates", [False, True], ids=["distinct", "duplicates"])
def test_the_selection_is_the_full_loops(
    threads: int, duplicates: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = []
    full_distances = pruned._distances

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(args[3].size)
        return full_distances(*args, **kwargs)

    monkeypatch.setattr(pruned, "_distances", counting)
    with limit_threads(threads):
        fast, full = _both(_patch_like(threads, duplicates), 600, 123)
    assert np.array_equal(fast.indices, full.indices)
    assert np.array_equal(fast.radii.view(np.uint32), full.radii.view(np.uint32))
    assert len(np.unique(fast.indices)) == 600
    # the point of it: after the first (full) pass, most distances are never computed
    assert computed[0] == N and sum(computed[1:]) < 0.25 * N * 599, sum(computed[1:]) / N


def test_the_rounding_bound_holds() -> None:
    """|float32 ||x||^2 - 2 x.c + ||c||^2  -  exact| <= rounding_bound, on points whose
    expansion cancels badly (large norms, small distances)."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=128) * 30
    points = (base + rng.normal(scale=1e-2, size=(4096, 128))).astype(np.float32)
    norms = np.einsum("nk,nk->n", points, points)
    centre = points[7]
    computed = (
        torch.addmv(
            torch.from_numpy(norms), torch.from_numpy(points), torch.from_numpy(centre), alpha=-2.0
        ).numpy()
        + norms[7]
    )
    exact = ((points.astype(np.float64) - centre.astype(np.float64)) ** 2).sum(axis=1)
    worst = np.abs(computed - exact).max()
    bound = pruned.rounding_bound(128, float(norms.max()))
    assert 0 < worst <= bound and bound < 1e-3 * float(norms.max())


def test_used_only_where_it_gives_the_same_bits() -> None:
    assert pruned.usable(N, 128) and pruned.usable(10 * N, 64)
    assert not pruned.usable(N - 16, 128)  # small: the full loop is as fast
    assert not pruned.usable(N + 8, 128)  # a gemv tail the gathered rows would not have
    assert not pruned.usable(N, 152)  # rows not on 64-byte boundaries


def test_a_patchcore_fit_on_real_features_keeps_its_bank(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bundled ImageNet Lite0 features of 128 synthetic hazelnut images (32768 patches):
    the memory bank is the same with the pruned loop as with the full one."""
    from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
    from evalsuite.data.reader import read_dataset
    from evalsuite.data.synthetic import SyntheticConfig, generate
    from evalsuite.detectors.patchcore import PatchCore, PatchCoreParams

    root = tmp_path_factory.mktemp("pruned") / "synthetic"
    generate(root, SyntheticConfig(categories=("hazelnut",), size=128, n_train=128,
                                   n_test_good=1, n_test_defect=1))  # fmt: skip
    train = [s for s in read_dataset(root).of_category("hazelnut") if s.folder == "train"]
    params = PatchCoreParams(coreset_ratio=0.01)
    features = FeatureCache(
        Backbone.from_config(BackboneConfig(resize=128, crop=128)), params.layers
    )
    banks, calls = [], []
    monkeypatch.setattr(pruned, "_candidates", _recording(pruned._candidates, calls))
    for use in (True, False):
        monkeypatch.setattr(greedy, "usable", lambda n, k, use=use: use and pruned.usable(n, k))
        model = PatchCore(params, features, seed=0)
        with limit_threads(1):
            model.fit(train)
        assert model.num_train_patches == N
        banks.append(model._fitted_bank().features.copy())
    assert calls and np.array_equal(banks[0], banks[1])  # the first fit pruned, the second not


def _recording(function, calls: list[int]):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = function(*args, **kwargs)
        calls.append(result.size)
        return result

    return wrapper
