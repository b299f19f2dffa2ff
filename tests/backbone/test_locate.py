"""Finding weights without torch: the hub-source table agrees with timm, the cache folders
with torch's and huggingface_hub's, and the digest with the one a built backbone records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.data import resolve_data_config

from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.backbone.layers import FEATURE_CHANNELS, FEATURE_LAYERS, INPUT_SIDE
from evalsuite.backbone.locate import (
    HUB_SOURCES,
    NeedsTimm,
    hf_hub_cache,
    local_digest,
    torch_hub_checkpoints,
)


@pytest.mark.parametrize("name", sorted(HUB_SOURCES))
def test_the_table_is_timms_pretrained_cfg(name: str) -> None:
    cfg = timm.models.get_pretrained_cfg(name).to_dict()
    assert HUB_SOURCES[name] == {key: cfg.get(key) for key in HUB_SOURCES[name]}


@pytest.mark.parametrize("name", sorted(FEATURE_CHANNELS))
def test_the_layer_tables_are_timms_feature_info(name: str) -> None:
    model = timm.create_model(name, pretrained=False, features_only=True)
    assert FEATURE_LAYERS[name] == tuple(str(info["module"]) for info in model.feature_info)
    assert FEATURE_CHANNELS[name] == {
        str(info["module"]): int(info["num_chs"]) for info in model.feature_info
    }
    assert INPUT_SIDE[name] == resolve_data_config({}, model=model)["input_size"][-1]


def test_every_preset_backbone_is_in_the_tables() -> None:
    from evalsuite.config import load_config
    from evalsuite.presets import PRESETS
    from evalsuite.runner.planning.plan import variants

    for name in PRESETS:
        for variant in variants(load_config(preset_name=name)):
            backbone = variant.spec.backbone.name
            assert backbone in HUB_SOURCES and backbone in FEATURE_CHANNELS, (name, backbone)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TORCH_HOME": "/x/th"},
        {"XDG_CACHE_HOME": "/x/xdg"},
        {"TORCH_HOME": "~/t", "XDG_CACHE_HOME": "/y"},
    ],
    ids=["default", "torch-home", "xdg", "both"],
)
def test_cache_folders_are_the_libraries_own(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in (
        "TORCH_HOME",
        "XDG_CACHE_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HOME",
    ):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    assert torch_hub_checkpoints() == Path(torch.hub.get_dir()) / "checkpoints"
    # huggingface_hub reads its cache folder from the environment once, at import
    probe = "import huggingface_hub.constants as c; print(c.HF_HUB_CACHE)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert hf_hub_cache() == Path(done.stdout.strip())


def _digest_as_built(config: BackboneConfig) -> str | None:
    return Backbone.from_config(config).weights.sha256


def test_bundled_lite0_digest_is_the_backbones(isolated_caches: Path) -> None:
    config = BackboneConfig(name="tf_efficientnet_lite0")
    assert local_digest(config) == _digest_as_built(config)


def test_hub_cache_digest_is_the_backbones(isolated_caches: Path) -> None:
    name = "resnet18.tv_in1k"
    repo_dir = (
        isolated_caches
        / "hf"
        / "hub"
        / f"models--{HUB_SOURCES[name]['hf_hub_id'].replace('/', '--')}"
    )
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text("0123abcd")
    target = repo_dir / "snapshots" / "0123abcd" / "model.safetensors"
    target.parent.mkdir(parents=True)
    torch.manual_seed(7)
    save_file(timm.create_model("resnet18", pretrained=False).state_dict(), str(target))
    config = BackboneConfig(name=name)
    assert local_digest(config) == _digest_as_built(config)


def test_torch_hub_digest_is_the_backbones(isolated_caches: Path) -> None:
    name = "resnet18.tv_in1k"
    target = torch_hub_checkpoints() / os.path.basename(HUB_SOURCES[name]["url"])
    target.parent.mkdir(parents=True)
    torch.manual_seed(8)
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), target)
    config = BackboneConfig(name=name)
    assert local_digest(config) == _digest_as_built(config)


def test_explicit_file_and_random_weights(tmp_path: Path, isolated_caches: Path) -> None:
    path = tmp_path / "mine.pth"
    torch.manual_seed(9)
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    config = BackboneConfig(name="resnet18", weights_file=path)
    assert local_digest(config) == _digest_as_built(config)
    assert local_digest(BackboneConfig(name="resnet18", pretrained=False)) is None


def test_what_only_timm_can_tell(isolated_caches: Path) -> None:
    with pytest.raises(NeedsTimm, match="not in the table"):
        local_digest(BackboneConfig(name="resnet34"))
    with pytest.raises(NeedsTimm, match="not on this machine"):
        local_digest(BackboneConfig(name="wide_resnet50_2.tv_in1k"))
