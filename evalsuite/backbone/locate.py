"""Where a backbone's weights are on this machine, found without torch or timm.

The local steps of weight resolution (explicit file -> Hugging Face hub cache -> torch hub
cache -> bundled Lite0) need only the weights' hub source: timm's `pretrained_cfg` keys
`architecture`, `hf_hub_id`, `hf_hub_filename` and `url`. `resolve_weights` reads them from the
timm model it builds; `evalsuite plan` reads them from `HUB_SOURCES`, a copy for the backbones
the presets name (tests/backbone/test_locate.py checks it against timm), so a plan learns the
weights' SHA-256 (part of every fit id) without importing a model library. A backbone not in
the table, or weights found nowhere locally, make the plan ask timm (see `local_digest`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from evalsuite import regular
from evalsuite.backbone.config import BackboneConfig, WeightsSource
from evalsuite.backbone.lite0 import LITE0_ARCHITECTURE, LITE0_PACKAGE, bundled_lite0_file

HF_FILENAMES = ("model.safetensors", "pytorch_model.bin")

HUB_SOURCES: dict[str, dict[str, Any]] = {
    "wide_resnet50_2.tv_in1k": {
        "architecture": "wide_resnet50_2",
        "hf_hub_id": "timm/wide_resnet50_2.tv_in1k",
        "hf_hub_filename": None,
        "url": "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
    },
    "resnet18.tv_in1k": {
        "architecture": "resnet18",
        "hf_hub_id": "timm/resnet18.tv_in1k",
        "hf_hub_filename": None,
        "url": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    },
    "tf_efficientnet_lite0": {
        "architecture": "tf_efficientnet_lite0",
        "hf_hub_id": "timm/tf_efficientnet_lite0.in1k",
        "hf_hub_filename": None,
        "url": "https://github.com/rwightman/pytorch-image-models/releases/download/"
        "v0.1-weights/tf_efficientnet_lite0-0aa007d2.pth",
    },
}
"""timm's pretrained_cfg source keys (timm 1.0, as pinned) of the presets' backbones."""


class NeedsTimm(LookupError):
    """The weights' digest cannot be told without timm (unknown source, or not on disk)."""


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache, from the environment at call time (as huggingface_hub)."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return _xdg_cache() / "huggingface" / "hub"


def torch_hub_checkpoints() -> Path:
    """torch hub's checkpoint folder, as `torch.hub.get_dir()`/checkpoints computes it:
    $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub, else ~/.cache/torch/hub."""
    home = os.environ.get("TORCH_HOME") or str(_xdg_cache() / "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def _xdg_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")).expanduser()


def hf_filenames(cfg: dict[str, Any]) -> tuple[str, ...]:
    """The file names timm's hub repos use for these weights."""
    explicit = cfg.get("hf_hub_filename")
    return (explicit,) if explicit else HF_FILENAMES


def cached_files(cfg: dict[str, Any], looked: list[str]) -> list[Path]:
    """Files of these weights already in the HF hub cache or the torch hub cache; each place
    looked at is appended to `looked`."""
    from huggingface_hub import try_to_load_from_cache

    found: list[Path] = []
    repo = cfg.get("hf_hub_id")
    if repo:
        cache = hf_hub_cache()
        for filename in hf_filenames(cfg):
            hit = try_to_load_from_cache(repo, filename, cache_dir=cache)
            if isinstance(hit, str):
                found.append(Path(hit))
        looked.append(f"Hugging Face cache {cache} (repo {repo}: {', '.join(hf_filenames(cfg))})")
    url = str(cfg.get("url") or "")
    if url:
        candidate = torch_hub_checkpoints() / os.path.basename(urlparse(url).path)
        if candidate.is_file():
            found.append(candidate)
        looked.append(f"torch hub cache {candidate}")
    return found


def local_weights(
    config: BackboneConfig, cfg: dict[str, Any], looked: list[str]
) -> tuple[Path, WeightsSource] | None:
    """The first local weights file of a pretrained backbone, in resolution order, and its
    source; None when only a download could provide one (places looked at in `looked`).

    Args:
        config: the backbone configuration (`pretrained` true).
        cfg: timm's pretrained_cfg of the model (or its `HUB_SOURCES` entry).
        looked: appended with every place looked at, for the not-found message.
    """
    if config.weights_file is not None:
        return config.weights_file, "file"
    cached = cached_files(cfg, looked)
    if cached:
        return cached[0], "hub_cache"
    if cfg.get("architecture") != LITE0_ARCHITECTURE:
        looked.append(f"bundled weights (only for {LITE0_ARCHITECTURE})")
    elif (bundled := bundled_lite0_file()) is not None:
        return bundled, "bundled"
    else:
        looked.append(f"bundled Lite0 (package {LITE0_PACKAGE} is not installed)")
    return None


def local_digest(config: BackboneConfig) -> str | None:
    """The SHA-256 of the weights a run of `config` will load (None: random weights), found
    without torch or timm.

    Raises:
        NeedsTimm: the backbone is not in `HUB_SOURCES`, or its weights are not on this
            machine (a run would download them): ask `Backbone.from_config` instead.
        WeightsError: the weights file is a FIFO, a device or larger than
            `MAX_WEIGHTS_BYTES` (refused unread: see `evalsuite.regular`).
        OSError: the weights file is missing or cannot be read.
    """
    if not config.pretrained:
        return None
    if config.weights_file is not None:
        return regular.sha256(config.weights_file, regular.WEIGHTS, "weights file")
    cfg = HUB_SOURCES.get(config.name)
    if cfg is None:
        raise NeedsTimm(f"backbone {config.name!r} is not in the table of known hub sources")
    found = local_weights(config, cfg, [])
    if found is None:
        raise NeedsTimm(f"the weights of {config.name!r} are not on this machine")
    return regular.sha256(found[0], regular.WEIGHTS, "weights file")
