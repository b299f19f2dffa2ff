"""Device selection, CUDA determinism settings and the device's provenance name (on CPU)."""

from __future__ import annotations

import os

import pytest
import torch

from evalsuite.backbone.device import (
    as_device,
    configure_determinism,
    device_name,
    resolve_device,
)
from evalsuite.errors import ConfigError, WeightsError


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide any GPU, so the tests mean the same on a machine that has one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.usefixtures("no_gpu")
def test_auto_and_cpu_resolve_to_the_cpu_without_a_gpu() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert device_name(resolve_device("auto")) == "cpu"


def test_auto_is_the_cpu_here_when_torch_sees_no_gpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.usefixtures("no_gpu")
def test_cuda_without_a_gpu_is_an_environment_error() -> None:
    with pytest.raises(WeightsError, match=r"no CUDA device is visible.*--device cpu") as error:
        resolve_device("cuda")
    assert 'device = "cpu"' in str(error.value)
    assert error.value.exit_code == 3


def test_unknown_device_lists_the_choices() -> None:
    for name in ("gpu", "CUDA", "cuda:0", ""):
        with pytest.raises(ConfigError, match=r"is unknown; choose one of auto, cpu, cuda"):
            resolve_device(name)


def test_as_device_reads_none_strings_and_devices() -> None:
    assert as_device(None) == torch.device("cpu")
    assert as_device("cpu") == torch.device("cpu")
    device = torch.device("cpu")
    assert as_device(device) is device
    with pytest.raises(ConfigError, match="choose one of"):
        as_device("tpu")


def test_determinism_on_the_cpu_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    configure_determinism(torch.device("cpu"))
    after = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    assert after == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_determinism_on_cuda_sets_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only flags and an environment variable: no CUDA call, so it runs without a GPU."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    tf32 = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        configure_determinism(torch.device("cuda"))
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.benchmark is False
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # a user's choice is kept
        configure_determinism(torch.device("cuda"))
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
