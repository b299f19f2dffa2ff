"""Detector plug-ins named by import path (`impl`) or entry point: clear errors (exit 2) for
what cannot be a detector, and malformed output or a raised error failing only that
detector's cells, with one line naming it and what was wrong."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from studies import plugin_study, write_plugin

from evalsuite import results
from evalsuite.cli import main
from evalsuite.config import DetectorSpec
from evalsuite.detectors import plugins, registry

GOOD = '''
import json
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from evalsuite.detectors.base import Scores
from evalsuite.detectors.params import DetectorParams
from evalsuite.detectors.plugins import Declarations


class MeanParams(DetectorParams):
    config_name: ClassVar[str] = "mean params"
    layers: tuple[str, ...] = ("blocks.4",)
    fault: str = "none"
    gain: float = Field(default=1.0, gt=0)


class Mean:
    """Each position's distance to the mean training feature; `fault` breaks it on purpose."""

    params_class = MeanParams

    def __init__(self, params, features, seed, *, device=None):
        self.params, self.features = params, features
        self.mean = np.zeros(0, dtype=np.float32)

    def _grids(self, samples):
        layer = self.params.layers[0]
        batches = self.features.iter_features(samples, [layer])
        return np.concatenate([batch[layer].numpy() for batch in batches])

    def fit(self, samples):
        if self.params.fault == "raise":
            raise ValueError("the bank is empty\\nsecond line")
        self.mean = self._grids(samples).mean(axis=(0, 2, 3)).astype(np.float32)

    def score(self, samples):
        grid = self._grids(samples)
        distance = np.linalg.norm(grid - self.mean[None, :, None, None], axis=1) * self.params.gain
        if self.params.fault == "grid":  # maps at the feature grid, not the input size
            return Scores(distance.max(axis=(1, 2)).astype(np.float32), distance.astype(np.float32))
        maps = torch.nn.functional.interpolate(
            torch.from_numpy(distance)[:, None], size=self.features.input_size, mode="bilinear"
        )[:, 0].numpy().astype(np.float32)
        image = maps.max(axis=(1, 2))
        if self.params.fault == "nan":
            image[0] = np.nan
        if self.params.fault == "float64":
            image = image.astype(np.float64)
        if self.params.fault == "tuple":
            return image, maps
        return Scores(image=image, maps=maps)

    def save(self, directory):
        np.save(directory / "mean.npy", self.mean, allow_pickle=False)
        (directory / "mean.json").write_text(json.dumps(self.params.model_dump(mode="json")))

    @classmethod
    def load(cls, directory, features, *, device=None):
        params = MeanParams.model_validate(json.loads((directory / "mean.json").read_text()))
        model = cls(params, features, 0, device=device)
        model.mean = np.load(directory / "mean.npy", allow_pickle=False)
        return model


class OnlyFit:
    params_class = MeanParams

    def fit(self, samples):
        pass


class Liar(Mean):
    declares = Declarations(memory_bank=True)
'''


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    write_plugin(tmp_path, name, text)
    monkeypatch.syspath_prepend(str(tmp_path))


def _study(tmp_path: Path, detectors: list[dict[str, Any]], **extra: Any) -> Path:
    return plugin_study(tmp_path, "plugins", detectors, **extra)


def _show(config: Path) -> tuple[int, str]:
    shown = CliRunner().invoke(main, ["config", "show", "--config", str(config)])
    return shown.exit_code, shown.output


CASES = {
    "no such module": (
        "knn",
        "plug_absent_xyz:Mean",
        {},
        ["module plug_absent_xyz does not import"],
    ),
    "module failing on import": (
        "knn",
        "plug_broken:Mean",
        {},
        ["module plug_broken does not import (RuntimeError: broken on import)"],
    ),
    "no such attribute": ("knn", "plug_good_a:Nope", {}, ["has no attribute Nope"]),
    "not an import path": ("knn", "plug_good_a.Mean", {}, ["is not an import path"]),
    "not a detector": (
        "knn",
        "plug_good_a:OnlyFit",
        {},
        ["is not an evalsuite detector: it lacks score, save, load"],
    ),
    "declared but not implemented": (
        "knn",
        "plug_good_a:Liar",
        {},
        ["lacks search (declared split), scores_from (declared split)", "nearest_categories_from"],
    ),
    "a built-in's name": ("patchcore", "plug_good_a:Mean", {}, ["'patchcore' is a built-in"]),
    "unknown param": ("knn", "plug_good_a:Mean", {"gian": 2}, ["unknown key 'gian'"]),
    "invalid param": ("knn", "plug_good_a:Mean", {"gain": 0}, ["gain", "greater than 0"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_cannot_be_a_detector_is_refused_naming_it(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _module(tmp_path, monkeypatch, "plug_good_a", GOOD)
    _module(tmp_path, monkeypatch, "plug_broken", "raise RuntimeError('broken on import')\n")
    name, impl, params, expected = CASES[case]
    code, output = _show(_study(tmp_path, [{"name": name, "impl": impl, "params": params}]))
    assert code == 2, output
    assert output.startswith("error: ") and output.count("\n") == 1, output
    assert "Traceback" not in output
    for fragment in expected:
        assert fragment in output, output


def test_an_entry_point_taking_a_builtin_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = metadata.EntryPoint("patchcore", "elsewhere:Det", plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda: {"patchcore": point})
    code, output = _show(_study(tmp_path, [{"name": "patchcore"}]))
    assert code == 2 and "takes the name of a built-in detector" in output, output


def test_an_entry_point_names_a_detector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered under the group (no install here: the group's reader is replaced), a name
    resolves to the class; a module on no distribution is `unversioned`."""
    _module(tmp_path, monkeypatch, "plug_good_b", GOOD)
    point = metadata.EntryPoint("mean", "plug_good_b:Mean", plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda: {"mean": point})
    code, output = _show(_study(tmp_path, [{"name": "mean", "params": {"gain": 2}}]))
    assert code == 0, output
    shown = json.loads(output[output.index("{") :])
    detector = shown["detectors"][0]
    assert detector["params"] == {"layers": ["blocks.4"], "fault": "none", "gain": 2.0}
    assert "impl" not in detector
    assert registry.provenance("mean") == {"class": "plug_good_b:Mean", "version": "unversioned"}


def test_builtins_dump_as_before() -> None:
    """No `impl` key in a built-in's dump: records, ids and site bytes are unchanged."""
    assert "impl" not in DetectorSpec.model_validate({"name": "patchcore"}).model_dump()
    assert registry.provenance("patchcore") is None


def test_malformed_output_fails_only_that_detectors_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One study, one good plug-in and five broken ones (by import path): the broken ones'
    cells fail, each with one line naming the detector and what was wrong; the good one's
    cells are ok, with its class and version in the fit key and the provenance."""
    _module(tmp_path, monkeypatch, "plug_good_c", GOOD)
    faults = {
        "raise": r"raised ValueError in fit\(\): the bank is empty$",
        "grid": r"returned maps of shape \((\d+), 4, 4\); expected \(\1, 64, 64\) float32",
        "nan": r"returned image scores with 1 NaN value\(s\) of \d+$",
        "float64": r"returned image scores of dtype float64; expected \(\d+,\) float32$",
        "tuple": r"returned tuple, not evalsuite.detectors.base.Scores$",
    }
    detectors = [{"name": "good", "impl": "plug_good_c:Mean"}] + [
        {"name": f"bad_{fault}", "impl": "plug_good_c:Mean", "params": {"fault": fault}}
        for fault in faults
    ]
    where = ["--config", str(_study(tmp_path, detectors)), "--cache", str(tmp_path / "cache")]
    ran = CliRunner().invoke(main, ["run", *where, "--out", str(tmp_path / "out"), "--quiet"])
    assert ran.exit_code == 1, ran.output
    records = [record for _, record in results.iter_cells(tmp_path / "out")]
    assert len(records) == 6 * 2
    for record in records:
        label = record["label"]
        if label == "good":
            assert record["status"] == "ok", record["error"]
            impl = {"class": "plug_good_c:Mean", "version": "unversioned"}
            assert record["provenance"]["detector_impl"] == impl
            assert record["config"]["fit"]["impl"] == impl
            continue
        message = record["error"]["message"]
        assert record["status"] == "failed" and record["error"]["type"] == "DetectorError"
        assert message.startswith(f"detector '{label}' (plug_good_c:Mean) "), message
        assert re.search(faults[label.removeprefix("bad_")], message), message
        assert "\n" not in message
