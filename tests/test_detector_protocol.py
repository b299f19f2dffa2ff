"""The detector protocol: the runner knows detectors only through it and the registry; the
built-ins implement what they declare; a minimal detector (fit, score, save, load and nothing
else) registered for the test runs a study end to end."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from evalsuite import results
from evalsuite.atomic import write_json
from evalsuite.cli import main
from evalsuite.data.samples import Sample
from evalsuite.detectors import registry
from evalsuite.detectors.base import FeatureSource, Scores
from evalsuite.detectors.padim_params import PadimParams
from evalsuite.detectors.params import DetectorParams
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.detectors.registry import DETECTORS, DetectorEntry
from evalsuite.errors import EvalsuiteError

RUNNER = Path(__file__).resolve().parents[1] / "evalsuite" / "runner"
PROTOCOL_NAMES = {"layers", "search", "scores_from", "score", "fit", "save", "load"}
"""Names the protocol itself uses (a built-in's param may share one, e.g. PatchCore's `search`)."""


def _builtin_params() -> set[str]:
    """Every param of the built-in detectors but those of the protocol (`layers`)."""
    names = set(PatchCoreParams.model_fields) | set(PadimParams.model_fields)
    return names - set(DetectorParams.model_fields)


def _runner_modules() -> Iterator[tuple[Path, str, ast.Module]]:
    for path in sorted(RUNNER.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        yield path, text, ast.parse(text)


def test_the_runner_names_no_builtin_detector_nor_its_params() -> None:
    """Nothing under evalsuite/runner/ imports PatchCore's or PaDiM's modules, names them, or
    names one of their params (in code, strings or prose): they reach it through the protocol
    and the registry only."""
    params = _builtin_params()
    underscored = re.compile(r"\b(" + "|".join(p for p in params if "_" in p) + r")\b")
    found = []
    for path, text, tree in _runner_modules():
        where = path.relative_to(RUNNER.parent)
        if re.search(r"patchcore|padim", text, re.IGNORECASE):
            found.append(f"{where}: names patchcore or padim")
        found += [f"{where}: names {m.group(1)}" for m in underscored.finditer(text)]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                modules += [alias.name for alias in node.names]
                found += [
                    f"{where}:{node.lineno}: imports {m}"
                    for m in modules
                    if m.startswith(("evalsuite.detectors.patchcore", "evalsuite.detectors.padim"))
                ]
            elif isinstance(node, ast.Constant) and node.value in params:
                found.append(f"{where}:{node.lineno}: the string {node.value!r}")
            elif isinstance(node, ast.Attribute) and node.attr in params - PROTOCOL_NAMES:
                found.append(f"{where}:{node.lineno}: the attribute {node.attr}")
            elif isinstance(node, ast.Name) and node.id in params - PROTOCOL_NAMES:
                found.append(f"{where}:{node.lineno}: the name {node.id}")
    assert not found, "\n".join(found)


def test_the_check_sees_what_it_forbids() -> None:
    """The check above reads real source: today's runner has modules, and the params it
    forbids include the ones the runner used to read."""
    assert len(list(_runner_modules())) > 10
    assert {"coreset_ratio", "n_features", "search", "coreset_scope"} <= _builtin_params()


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_builtins_implement_what_they_declare(name: str) -> None:
    entry = DETECTORS[name]
    params = registry.params_class(name)
    assert issubclass(params, DetectorParams) and "layers" in params.model_fields
    detector = registry._detector_class(name)  # imports the detector's module
    methods = {member for member in dir(detector) if callable(getattr(detector, member))}
    assert {"fit", "score", "save", "load"} <= methods
    fields = set(params.model_fields)
    free = params.SEARCH_PARAMS | params.SCORING_PARAMS
    assert free <= fields and params.SEARCH_PARAMS.isdisjoint(params.SCORING_PARAMS)
    assert entry.split or not free, "search/scoring-only params without the split"
    assert entry.split == ({"search", "scores_from"} <= methods)
    assert entry.memory_bank == (entry.split and "nearest_categories_from" in methods)
    assert (entry.selection_param is not None) == ("fit_shared" in methods)
    if entry.selection_param is not None:
        assert entry.selection_param in fields - free
    model = registry.cost_model(name)
    assert (model is None) == (entry.cost_model is None)
    if model is not None:
        kernels = [kernel.name for kernel in model.kernels]
        assert len(set(kernels)) == len(kernels) and all(k.reference_s > 0 for k in model.kernels)


def test_a_declaration_the_detector_does_not_implement_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runner trusts declarations, never guesses: one the class lacks is an error that
    names the detector and what it lacks."""
    entry = DetectorEntry(__name__, "MeanDistance", __name__, "MeanParams", memory_bank=True)
    monkeypatch.setitem(DETECTORS, "liar", entry)
    detector = MeanDistance(MeanParams(), _Features(), 0)
    with pytest.raises(EvalsuiteError, match=r"'liar' declares memory_bank.*nearest_categories"):
        registry.as_memory_bank("liar", detector)
    assert registry.as_split("liar", detector) is None  # not declared: not asked for
    assert registry.fit_free_params("liar") == frozenset()


class MeanParams(DetectorParams):
    """The test double's params: only the protocol's `layers`."""

    config_name: ClassVar[str] = "mean params"
    layers: tuple[str, ...] = ("blocks.4",)


class MeanDistance:
    """A minimal detector: each position's distance to the mean training feature. It has
    fit, score, save and load, and nothing else (no split, no capability, no cost model)."""

    def __init__(
        self,
        params: MeanParams,
        features: FeatureSource,
        seed: int,
        *,
        device: torch.device | None = None,
    ) -> None:
        self.params, self.features, self.seed = params, features, seed
        self.mean = np.zeros(0, dtype=np.float32)

    def _grids(self, samples: Sequence[Sample]) -> Iterator[np.ndarray]:
        """(B, C, h, w) features of the first layer, batch by batch."""
        for batch in self.features.iter_features(samples, self.params.layers):
            yield batch[self.params.layers[0]].numpy()

    def fit(self, samples: Sequence[Sample]) -> None:
        grids = np.concatenate(list(self._grids(samples)))
        self.mean = grids.mean(axis=(0, 2, 3)).astype(np.float32)

    def score(self, samples: Sequence[Sample]) -> Scores:
        height, width = self.features.input_size
        maps = []
        for grid in self._grids(samples):
            distance = np.linalg.norm(grid - self.mean[None, :, None, None], axis=1)
            up = torch.nn.functional.interpolate(
                torch.from_numpy(distance)[:, None], size=(height, width), mode="bilinear"
            )
            maps.append(up[:, 0].numpy().astype(np.float32))
        stacked = np.concatenate(maps)
        return Scores(image=stacked.max(axis=(1, 2)), maps=stacked)

    def save(self, directory: Path) -> None:
        np.save(directory / "mean.npy", self.mean, allow_pickle=False)
        write_json(directory / "mean.json", {"params": self.params.model_dump(mode="json")})

    @classmethod
    def load(
        cls, directory: Path, features: FeatureSource, *, device: torch.device | None = None
    ) -> MeanDistance:
        state = json.loads((directory / "mean.json").read_text(encoding="utf-8"))
        model = cls(MeanParams.model_validate(state["params"]), features, 0, device=device)
        model.mean = np.load(directory / "mean.npy", allow_pickle=False)
        return model


class _Features:
    input_size = (8, 8)

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        yield {layer: torch.ones(len(samples), 2, 2, 2) for layer in layers}


STUDY = {
    "name": "double",
    "kinds": ["clean/none", "shift/none"],
    "scopes": ["per_class", "unified"],
    "data": {
        "categories": ["hazelnut", "zipper"],
        "synthetic": {"size": 64, "n_train": 4, "n_test_good": 5, "n_test_defect": 10},
    },
    "detectors": [
        {"name": "mean", "backbone": {"resize": 64, "crop": 64}},
        {"name": "liar", "backbone": {"resize": 64, "crop": 64}},
    ],
    "evaluation": {"bootstrap": 5, "artifacts_per_cell": 1},
}


def test_a_minimal_detector_runs_a_study_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registered for the test only: planned (with an estimate that says it has no cost
    model and times it on a sample), run in this process, and every cell recorded with real
    metrics; the unified cells' shortcut matrices have no nearest-neighbour provenance (no
    memory bank). The same class registered with a memory bank it lacks fails its cells (and
    its sample), saying so; the run goes on."""
    entry = DetectorEntry(__name__, "MeanDistance", __name__, "MeanParams")
    monkeypatch.setitem(DETECTORS, "mean", entry)
    liar = DetectorEntry(__name__, "MeanDistance", __name__, "MeanParams", memory_bank=True)
    monkeypatch.setitem(DETECTORS, "liar", liar)
    config = tmp_path / "double.yaml"
    config.write_text(json.dumps(STUDY))
    where = ["--config", str(config), "--cache", str(tmp_path / "cache")]
    planned = CliRunner().invoke(main, ["plan", *where, "--estimate", "--json"])
    assert planned.exit_code == 0, planned.output
    report = json.loads(planned.output[planned.output.index("{") :])
    assert report["counts"]["cells"] == 2 * 2 * 2 * 2  # detectors x scopes x kinds x categories
    # no cost model: `mean` is timed on a sample; `liar`'s sample fails as its cells will
    assert report["estimate"]["unpriced"] == ["liar"]
    assert "declares memory_bank" in report["estimate"]["sampled"]["liar"]["error"]
    fits = report["estimate"]["fits"]
    assert all(not fit["priced"] for fit in fits)
    assert all(fit["sampled"] and fit["fit_s"] > 0 for fit in fits if fit["label"] == "mean")
    assert all(not fit["sampled"] and fit["fit_s"] == 0 for fit in fits if fit["label"] == "liar")
    shown = CliRunner().invoke(main, ["plan", *where, "--estimate"])
    assert "mean: no cost model" in shown.output, shown.output
    ran = CliRunner().invoke(main, ["run", *where, "--out", str(tmp_path / "out"), "--quiet"])
    assert ran.exit_code == 1 and "liar" in ran.output, ran.output  # its cells failed
    records = [record for _, record in results.iter_cells(tmp_path / "out")]
    failed = [r for r in records if r["detector"] == "liar"]
    assert len(failed) == 8 and all(r["status"] == "failed" for r in failed)
    assert all("declares memory_bank" in r["error"]["message"] for r in failed)
    records = [r for r in records if r["detector"] == "mean"]
    assert len(records) == 8 and all(r["status"] == "ok" for r in records), records
    assert {r["config"]["detector"]["name"] for r in records} == {"mean"}
    assert {r["config"]["detector"]["params"]["layers"][0] for r in records} == {"blocks.4"}
    for record in records:
        assert 0.0 <= record["metrics"]["image_auroc"]["value"] <= 1.0
        assert record["provenance"]["approximations"] == []
        fit = results.fit_dir(tmp_path / "out", record["fit_id"])
        assert np.load(fit / "mean.npy").shape == (112,)  # Lite0 blocks.4 channels
    unified = [r for r in records if r["scope"] == "unified"]
    assert unified and all(r["shortcut"]["nn_provenance"] is None for r in unified)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    assert counts["score_passes"] == counts["distinct_fit_inputs"] > 0
