"""docker/fetch_weights.py, the image's weights step, against Hugging Face caches made here."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import timm
import torch
from safetensors.torch import save_file

import evalsuite.backbone.weights as weights
from evalsuite.backbone import BackboneConfig
from evalsuite.errors import WeightsError

SCRIPT = Path(__file__).resolve().parents[1] / "docker" / "fetch_weights.py"


@pytest.fixture(scope="module")
def fetch_weights() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_weights", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty Hugging Face hub cache under a fresh HF_HOME, offline, torch on one thread."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "hf" / "hub"
    torch.set_num_threads(threads)


def _write_hub_file(cache: Path, repo: str, filename: str) -> Path:
    """A random ResNet-18 state dict where huggingface_hub keeps `repo`'s `filename`."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text("feedc0de")
    target = folder / "snapshots" / "feedc0de" / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_file(timm.create_model("resnet18", pretrained=False).state_dict(), str(target))
    return target


def test_fetch_covers_the_paper_backbones(fetch_weights: ModuleType) -> None:
    names = [config.name for config in fetch_weights.paper_backbones()]
    assert names == ["wide_resnet50_2.tv_in1k", "resnet18.tv_in1k"]


def test_check_accepts_weights_in_the_hub_cache(fetch_weights: ModuleType, hf_cache: Path) -> None:
    cached = _write_hub_file(hf_cache, "timm/resnet18.tv_in1k", "model.safetensors")
    (info,) = fetch_weights.check([BackboneConfig(name="resnet18.tv_in1k")])
    assert (info.source, info.path) == ("hub_cache", str(cached))


def test_check_fails_when_the_cache_lacks_them(fetch_weights: ModuleType, hf_cache: Path) -> None:
    with pytest.raises(WeightsError) as caught:
        fetch_weights.check([BackboneConfig(name="resnet18.tv_in1k")])
    assert str(hf_cache) in str(caught.value)
    assert fetch_weights.main(["--check"]) == 3  # the paper backbones are not cached either


def test_fetch_downloads_into_the_cache_that_check_reads(
    fetch_weights: ModuleType, hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Online, with the hub replaced by one that serves a file into the HF cache."""
    downloads: list[str] = []

    def fake_hub(repo: str, filename: str, cache_dir: Path) -> str:
        downloads.append(f"{repo}/{filename}")
        return str(_write_hub_file(Path(cache_dir), repo, filename))

    monkeypatch.setattr(weights, "offline_reason", lambda host: None)
    monkeypatch.setattr(weights, "hf_hub_download", fake_hub)
    config = BackboneConfig(name="resnet18.tv_in1k")
    (fetched,) = fetch_weights.fetch([config])
    assert fetched.source == "download" and downloads == ["timm/resnet18.tv_in1k/model.safetensors"]
    (checked,) = fetch_weights.check([config])
    assert (checked.source, checked.sha256) == ("hub_cache", fetched.sha256)
    assert checked.path is not None and Path(checked.path).is_relative_to(hf_cache)
