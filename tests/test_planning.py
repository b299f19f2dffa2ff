"""`evalsuite plan` without a model library: the same fit and cell ids as a run's plan, and
the device kind `auto` resolves to, told without torch where no GPU driver is present."""

from __future__ import annotations

import ctypes.util
import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from studies import SMALL

import evalsuite.backbone.device_kind as device_kind_module
from evalsuite.backbone.device import resolve_device
from evalsuite.backbone.device_kind import device_kind
from evalsuite.config import StudyConfig
from evalsuite.errors import ConfigError
from evalsuite.runner.planning.study import study_plan
from evalsuite.runner.preparation.context import prepare


def _ids(plan) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    return [(fit.id, [cell.id for cell in plan.cells_of(fit)]) for fit in plan.fits]


@pytest.mark.parametrize("pretrained", [True, False], ids=["bundled-weights", "random-weights"])
def test_the_plan_is_the_runs(pretrained: bool, tmp_path: Path) -> None:
    raw = json.loads(json.dumps(SMALL))
    for detector in raw["detectors"]:
        detector.setdefault("backbone", {})["pretrained"] = pretrained
    config = StudyConfig.model_validate(raw)
    _, plan, kind = study_plan(config, tmp_path / "cache")
    _, _, expected, device = prepare(config, tmp_path / "cache", progress=False)
    assert kind == device.type
    assert _ids(plan) == _ids(expected) and len(plan.fits) > 2


def test_a_weights_file_and_an_unknown_backbone(tmp_path: Path) -> None:
    """A backbone outside the table of hub sources is built, as a run builds it."""
    import timm

    weights = tmp_path / "r18.pth"
    torch.manual_seed(3)
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), weights)
    raw = json.loads(json.dumps(SMALL))
    raw["detectors"][0]["backbone"] = {"name": "resnet18", "weights_file": str(weights)}
    raw["detectors"][1]["backbone"] = {"name": "resnet18.a1_in1k", "pretrained": False}
    for detector in raw["detectors"]:
        detector.setdefault("params", {})["layers"] = ["layer2", "layer3"]
    config = StudyConfig.model_validate(raw)
    _, plan, _ = study_plan(config, tmp_path / "cache")
    assert _ids(plan) == _ids(prepare(config, tmp_path / "cache", progress=False)[2])


def _with_backbone(backbone: str, detector: int, params: dict[str, object]) -> dict[str, object]:
    raw = json.loads(json.dumps(SMALL))
    raw["detectors"][detector]["backbone"] = {"name": backbone, "pretrained": False}
    raw["detectors"][detector].setdefault("params", {}).update(params)
    return raw


BAD_LAYERS = {"layers": ["layer2", "nope"]}
TOO_MANY_FEATURES = {"layers": ["layer1", "layer2"], "n_features": 193}  # resnets: 64 + 128
BAD_DETECTORS = [
    (0, BAD_LAYERS, "are not feature layers of backbone"),
    (1, TOO_MANY_FEATURES, "n_features=193 exceeds the 192 channels of layers"),
]


@pytest.mark.parametrize(("detector", "params", "says"), BAD_DETECTORS, ids=["layers", "channels"])
def test_a_table_backbones_layers_and_channels_are_checked_by_the_configuration(
    detector: int, params: dict[str, object], says: str
) -> None:
    """For the presets' backbones the layers and PaDiM's n_features are checked against the
    channel tables when the configuration is read: before any data or backbone is touched."""
    with pytest.raises(ValidationError) as refused:
        StudyConfig.model_validate(_with_backbone("resnet18.tv_in1k", detector, params))
    assert f"detectors.{detector}" in str(refused.value) and says in str(refused.value)


@pytest.mark.parametrize(("detector", "params", "says"), BAD_DETECTORS, ids=["layers", "channels"])
def test_a_built_backbones_layers_and_channels_are_checked_as_a_run_checks_them(
    detector: int, params: dict[str, object], says: str, tmp_path: Path
) -> None:
    """Other backbones are built (no feature extracted): plan and run refuse alike."""
    config = StudyConfig.model_validate(_with_backbone("resnet34", detector, params))
    with pytest.raises(ConfigError) as planned:
        study_plan(config, tmp_path / "cache")
    with pytest.raises(ConfigError) as ran:
        prepare(config, tmp_path / "cache", progress=False)
    assert str(planned.value) == str(ran.value) and says in str(planned.value)


def test_device_kind_is_resolve_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("auto", "cpu"):
        assert device_kind(name) == resolve_device(name).type
    assert device_kind("cuda") == "cuda"  # a plan for a GPU machine; `run` checks the GPU
    with pytest.raises(ConfigError, match="'tpu' is unknown"):
        device_kind("tpu")
    # with a driver library present, torch decides
    monkeypatch.setattr(device_kind_module, "gpu_driver_present", lambda: True)
    assert device_kind("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_driver_probe_agrees_with_the_dynamic_linker_and_torch() -> None:
    """A driver the dynamic linker knows is found; torch sees a GPU only where one is found;
    without one, `auto` is the CPU."""
    known = [ctypes.util.find_library(name) for name in ("cuda", "amdhip64")]
    present = device_kind_module.gpu_driver_present()
    if any(known):
        assert present, f"the linker knows {known} but the probe found no driver"
    if torch.cuda.is_available():
        assert present
    if not present:
        assert not torch.cuda.is_available() and device_kind("auto") == "cpu"


def test_without_a_driver_auto_is_the_cpu_and_torch_is_not_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every driver library fails to load: `auto` is the CPU without asking torch; one that
    loads (any of them, ROCm's too) makes torch decide."""

    def refuse(name: str, *args: object, **kwargs: object) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    def torch_asked() -> bool:
        raise AssertionError("torch was asked although no driver loads")

    monkeypatch.setattr(device_kind_module.ctypes, "CDLL", refuse)
    monkeypatch.setattr(torch.cuda, "is_available", torch_asked)
    assert not device_kind_module.gpu_driver_present()
    assert device_kind("auto") == "cpu"
    loaded: list[str] = []

    def only_rocm(name: str, *args: object, **kwargs: object) -> None:
        loaded.append(name)
        if name != "libamdhip64.so":
            refuse(name)

    monkeypatch.setattr(device_kind_module.ctypes, "CDLL", only_rocm)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_kind_module.gpu_driver_present() and loaded[-1] == "libamdhip64.so"
    assert device_kind("auto") == "cuda"  # torch was asked
