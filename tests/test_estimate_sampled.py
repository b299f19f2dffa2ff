"""`plan --estimate` for a detector without a cost model: timed on a small sample of the run's
own inputs, its fits and scoring extrapolated into the projection; a sample that raises keeps
it unpriced with one line naming it; nothing is left behind in the temporary folder, the cache
or the results. Structure and arithmetic are asserted, never speeds."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from evalsuite.atomic import write_json
from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.params import DetectorParams
from evalsuite.detectors.registry import DETECTORS, DetectorEntry
from evalsuite.runner.estimate.model import estimate, makespan, plan_kernels, reference_rates
from evalsuite.runner.estimate.sample import (
    GROWTH_RANGE,
    SAMPLE_TEST,
    Sampled,
    SampleError,
    sample_unpriced,
)
from evalsuite.runner.estimate.text import sampled_line
from evalsuite.runner.preparation.context import prepare

INPUT = {"resize": 64, "crop": 64}
STUDY = {
    "name": "sampled",
    "kinds": ["clean/none", "shift/retrain"],
    "scopes": ["per_class", "unified"],
    "data": {
        "categories": ["hazelnut", "zipper"],
        "synthetic": {"size": 64, "n_train": 10, "n_test_good": 4, "n_test_defect": 6},
    },
    "detectors": [
        {"name": "patchcore", "backbone": INPUT, "params": {"coreset_ratio": 0.25}},
        {"name": "pairs", "backbone": INPUT},
        {"name": "broken", "backbone": INPUT, "params": {"fail": True}},
        {
            "name": "anomalib",
            "label": "dfm",
            "backbone": INPUT,
            "params": {"model": "Dfm", "pooling_kernel_size": 2},
        },
    ],
    "evaluation": {"bootstrap": 5, "artifacts_per_cell": 1},
}
"""10 train images per category, 2 of them held out for val: 8 train images per per-category
fit, 16 per unified fit; 10 test images per category."""


class PairsParams(DetectorParams):
    """The test detector's params: its layer, and whether its fit raises."""

    config_name: ClassVar[str] = "pairs params"
    layers: tuple[str, ...] = ("blocks.4",)
    fail: bool = False


class Pairs:
    """A detector without a cost model whose fit grows with the square of its train images: it
    keeps each train image's pooled feature and their pairwise distances (N, N). It scores
    each position by its distance to the nearest kept feature."""

    def __init__(
        self,
        params: PairsParams,
        features: FeatureSource,
        seed: int,
        *,
        device: torch.device | None = None,
    ) -> None:
        self.params, self.features = params, features
        self.bank = np.zeros((0, 0), dtype=np.float32)
        self.scale = 1.0

    def _grids(self, samples: Sequence[Sample]) -> Iterator[np.ndarray]:
        for batch in self.features.iter_features(samples, self.params.layers):
            yield batch[self.params.layers[0]].numpy()

    def fit(self, samples: Sequence[Sample]) -> None:
        if self.params.fail:
            raise ValueError("no luck with these images\nsecond line")
        bank = np.concatenate([grid.mean(axis=(2, 3)) for grid in self._grids(samples)])
        squared = (bank**2).sum(axis=1)
        pairs = squared[:, None] + squared[None, :] - 2 * bank @ bank.T
        self.bank, self.scale = bank, float(np.sqrt(np.maximum(pairs, 0.0)).mean()) + 1e-6

    def score(self, samples: Sequence[Sample]) -> Scores:
        height, width = self.features.input_size
        maps = []
        for grid in self._grids(samples):
            batch, channels, rows, cols = grid.shape
            flat = grid.transpose(0, 2, 3, 1).reshape(-1, channels)
            nearest = np.sqrt(((flat[:, None, :] - self.bank[None]) ** 2).sum(-1)).min(axis=1)
            distance = torch.from_numpy(nearest.reshape(batch, 1, rows, cols) / self.scale)
            up = torch.nn.functional.interpolate(distance, size=(height, width), mode="bilinear")
            maps.append(up[:, 0].numpy().astype(np.float32))
        stacked = np.concatenate(maps)
        return Scores(image=stacked.max(axis=(1, 2)), maps=stacked)

    def save(self, directory: Path) -> None:
        np.save(directory / "bank.npy", self.bank, allow_pickle=False)
        write_json(directory / "pairs.json", {"scale": self.scale})

    @classmethod
    def load(
        cls, directory: Path, features: FeatureSource, *, device: torch.device | None = None
    ) -> Pairs:
        model = cls(PairsParams(), features, 0, device=device)
        model.bank = np.load(directory / "bank.npy", allow_pickle=False)
        model.scale = json.loads((directory / "pairs.json").read_text(encoding="utf-8"))["scale"]
        return model


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`pairs` and `broken` registered for the test; temporary folders go to `<tmp>/tmp`,
    which is returned."""
    entry = DetectorEntry(__name__, "Pairs", __name__, "PairsParams")
    monkeypatch.setitem(DETECTORS, "pairs", entry)
    monkeypatch.setitem(DETECTORS, "broken", entry)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    return temporary


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` -> (size, modification time in ns)."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_sampled_arithmetic() -> None:
    """The growth is the measured one clamped to the range; a fit on N images is the build
    plus the larger sample's fit times (N / 2n)^growth; the line says how."""
    low, high = GROWTH_RANGE
    assert (low, high) == (1.0, 2.0)

    def sampled(growth: float) -> Sampled:
        return Sampled("x", (8, 16), 8, 0.5, (1.0, 2.0), 0.25, growth, 100)

    assert sampled(0.4).growth == 1.0 and sampled(3.2).growth == 2.0
    assert sampled(1.5).growth == 1.5
    assert sampled(1.5).fit_at(64) == 0.5 + 2.0 * 4**1.5 == 16.5
    assert sampled(0.4).fit_at(64) == 0.5 + 2.0 * 4 == 8.5
    assert sampled(3.2).fit_at(64) == 0.5 + 2.0 * 16 == 32.5
    payload = sampled(0.4).to_dict()
    assert payload["train_images"] == [8, 16] and payload["fit_s"] == [1.0, 2.0]
    assert payload["growth"] == 1.0 and payload["measured_growth"] == 0.4
    assert sampled_line("x", payload) == (
        "x: no cost model; timed on a sample of 16 train / 8 test inputs: fit ~ 2.0 s "
        "(1.0 s on 8; build 500 ms), score ~ 250 ms per image (extrapolated: each fit as "
        "build + 2.0 s x (train images / 16)^1.00, measured growth 0.40, taken as 1; scoring "
        "per scored image)"
    )
    assert "measured growth 1.50;" in sampled_line("x", sampled(1.5).to_dict())
    assert sampled_line("y", SampleError("y", "it broke").to_dict()) == (
        "y: no cost model, and timing it on a sample of the run's inputs failed (it broke), "
        "so its fits and scoring are not in this projection (only its features and metrics "
        "are)"
    )


def test_unpriced_detectors_are_timed_on_a_sample_and_priced_from_it(
    registered: Path, tmp_path: Path
) -> None:
    """`pairs` (quadratic fit) and anomalib's DFM are timed on a sample of their first
    per-category fit's own inputs; their fits and scoring enter the projection by exactly the
    extrapolated amounts, nothing else changes; `broken` stays unpriced with its error; the
    run's feature sources, the cache and the temporary folder are as they were."""
    config = StudyConfig.model_validate(STUDY)
    cache = tmp_path / "cache"
    data, sources, plan, device = prepare(config, cache, progress=False)
    before = _listing(cache)
    sampled = sample_unpriced(plan, data, sources, device)
    assert _listing(cache) == before and list(registered.iterdir()) == []
    assert all(source.forward_passes == 0 for source in sources.values())
    assert set(sampled) == {"pairs", "broken", "dfm"}
    for label in ("pairs", "dfm"):
        found = sampled[label]
        assert isinstance(found, Sampled), found
        assert found.train_images == (4, 8) and found.test_images == SAMPLE_TEST
        assert found.build_s > 0 and min(found.fit_s) > 0 and found.score_s > 0
        assert GROWTH_RANGE[0] <= found.growth <= GROWTH_RANGE[1]
    assert sampled["pairs"].traced_peak_bytes > 0  # its NumPy arrays
    broken = sampled["broken"]
    assert isinstance(broken, SampleError)
    assert broken.error == (
        "detector 'broken' raised ValueError in fit(): no luck with these images"
    )

    rates = reference_rates(plan_kernels(plan))
    plain = estimate(plan, data, sources, rates, workers=2, bootstrap=5)
    priced = estimate(plan, data, sources, rates, workers=2, bootstrap=5, sampled=sampled)
    assert plain.unpriced == ["pairs", "broken", "dfm"] and plain.sampled == {}
    assert priced.unpriced == ["broken"]
    added = 0.0
    for without, cost in zip(plain.fits, priced.fits, strict=True):
        sample = sampled.get(cost.label)
        if not isinstance(sample, Sampled):
            assert cost == without and not cost.sampled
            continue
        assert cost.sampled and not cost.priced and without.fit_s == without.score_s == 0
        assert cost.train_images == (8 if cost.scope == "per_class" else 16)
        assert cost.fit_s == sample.fit_at(cost.train_images) > 0
        assert cost.score_s == sample.score_s * cost.searched_images > 0
        assert (cost.eval_s, cost.peak_bytes) == (without.eval_s, without.peak_bytes)
        added += cost.fit_s + cost.score_s
    assert added > 0
    assert sum(priced.units.values()) == pytest.approx(sum(plain.units.values()) + added)
    assert priced.features_s == plain.features_s and priced.cache_bytes == plain.cache_bytes
    assert priced.wall_s == priced.features_s + makespan(list(priced.units.values()), 2)
    payload = priced.to_dict()
    assert payload["sampled"]["broken"] == {"error": broken.error}
    assert payload["sampled"]["pairs"]["train_images"] == [4, 8]
    dfm = sampled["dfm"]
    assert isinstance(dfm, Sampled) and payload["sampled"]["dfm"]["fit_s"] == list(dfm.fit_s)
    assert [f["sampled"] for f in payload["fits"]] == [f.sampled for f in priced.fits]


def test_plan_estimate_says_what_it_sampled(registered: Path, tmp_path: Path) -> None:
    """The command prints one line per sampled detector and one naming the failing one, exits
    0, gives the same as JSON, and leaves the cache, the results folder and the temporary
    folder as they were."""
    study = {**STUDY, "detectors": STUDY["detectors"][1:3]}  # pairs and broken
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    out = tmp_path / "out"
    args = ["plan", "--config", str(path), "--cache", str(tmp_path / "cache"), "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0  # the data, as any plan writes it
    before = _listing(tmp_path / "cache")
    shown = CliRunner().invoke(main, [*args, "--estimate"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    pairs = [line for line in lines if line.startswith("pairs: ")]
    assert len(pairs) == 1 and pairs[0].startswith(
        f"pairs: no cost model; timed on a sample of 8 train / {SAMPLE_TEST} test inputs: fit ~ "
    )
    assert "(extrapolated: each fit as build + " in pairs[0]
    assert [line for line in lines if line.startswith("broken: ")] == [
        "broken: no cost model, and timing it on a sample of the run's inputs failed "
        "(detector 'broken' raised ValueError in fit(): no luck with these images), so its "
        "fits and scoring are not in this projection (only its features and metrics are)"
    ]
    as_json = CliRunner().invoke(main, [*args, "--estimate", "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output[as_json.output.index("{") :])["estimate"]
    assert report["unpriced"] == ["broken"] and set(report["sampled"]) == {"pairs", "broken"}
    assert {f["label"] for f in report["fits"] if f["sampled"] and f["fit_s"] > 0} == {"pairs"}
    assert _listing(tmp_path / "cache") == before
    assert not out.exists() and list(registered.iterdir()) == []
