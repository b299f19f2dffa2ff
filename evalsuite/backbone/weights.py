"""Weight resolution: explicit file -> hub caches -> bundled Lite0 -> download (online only).

Resolution is two steps. `locate_weights` finds the file and records its SHA-256 without
reading it as tensors: what a plan, a cache key and a record need, done once per run by the
calling process and handed to its workers. `load_weights` reads it as tensors only, checks it
key by key against the architecture and proves it is still the file located: only a process
that runs the network does it. The local steps come first, so a backbone whose weights
are on this machine (the demo's bundled Lite0 included) never opens a connection. Nothing waits
on the network: offline (HF_HUB_OFFLINE) or unreachable hosts (a 2 s socket probe; any error
from it counts as unreachable) skip the download step, and when no step finds a file a
WeightsError lists every place looked and how to provide the weights.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError
from torch import nn

from evalsuite.backbone.checkpoint import (
    StateDict,
    check_fits,
    read_state_dict,
    weights_sha256,
)
from evalsuite.backbone.config import BackboneConfig, WeightsInfo
from evalsuite.backbone.lite0 import is_efficientnet_pytorch_layout, map_lite0_keys
from evalsuite.backbone.locate import (
    hf_filenames,
    hf_hub_cache,
    local_weights,
    torch_hub_checkpoints,
)
from evalsuite.errors import WeightsError

HF_HOST = "huggingface.co"
PROBE_TIMEOUT_S = 2.0
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class ResolvedWeights:
    """A state dict that fits the architecture, and where it came from."""

    state: StateDict
    info: WeightsInfo


def resolve_weights(config: BackboneConfig, model: nn.Module) -> ResolvedWeights:
    """Find, load and check the weights of `config` for `model` (a full timm model):
    `locate_weights` then `load_weights`.

    Args:
        config: the backbone configuration.
        model: a freshly built timm model of `config.name` (random init); its state dict is
            the template the weights are checked against, and the result when
            `config.pretrained` is false.

    Raises:
        WeightsError: a file that does not fit, or no weights anywhere (message lists where
            it looked and how to provide them).
    """
    info = locate_weights(config, dict(getattr(model, "pretrained_cfg", None) or {}))
    return ResolvedWeights(load_weights(info, config, model), info)


def locate_weights(config: BackboneConfig, cfg: Mapping[str, Any]) -> WeightsInfo:
    """Where the weights of `config` are (downloading them when online and nowhere local),
    and their SHA-256; the file is hashed, not read as tensors.

    Args:
        config: the backbone configuration.
        cfg: timm's pretrained_cfg of the model (its hub source).

    Raises:
        WeightsError: no weights anywhere (message lists where it looked and how to provide
            them), or a file that is missing, a folder, a FIFO or device, or too large.
    """
    if not config.pretrained:
        return WeightsInfo("random", None, None)
    source_cfg = dict(cfg)
    looked: list[str] = []
    found = local_weights(config, source_cfg, looked)
    if found is not None:
        return WeightsInfo(found[1], str(found[0]), weights_sha256(found[0]))
    downloaded = _download(source_cfg, looked)
    if downloaded is None:
        raise WeightsError(_not_found_message(config.name, source_cfg, looked))
    return WeightsInfo("download", str(downloaded), weights_sha256(downloaded))


def load_weights(info: WeightsInfo, config: BackboneConfig, model: nn.Module) -> StateDict:
    """The state dict of located weights, checked key by key against `model`.

    The file is hashed again after it is read, and refused unless it is still the file
    `locate_weights` digested: a file changed on disk between the two (another process, or
    the calling process of a pool that located it) would otherwise be recorded under the old
    SHA-256. Size and modification time would not prove it (a copy can keep both), so the
    bytes are hashed; only a process that loads the network pays for it.

    Args:
        info: from `locate_weights`; source `random` gives `model`'s own state.
        config: the backbone configuration.
        model: a freshly built timm model of `config.name` (seeded random init).

    Raises:
        WeightsError: not a tensor file, does not fit `model`, or changed since located.
    """
    if info.path is None:
        return model.state_dict()
    path = Path(info.path)
    state = read_state_dict(path)
    if is_efficientnet_pytorch_layout(state) and hasattr(model, "blocks"):
        state = map_lite0_keys(state, model, path)
    state = check_fits(state, model.state_dict(), path, config.name)
    digest = weights_sha256(path)
    if digest != info.sha256:
        raise WeightsError(
            f"weights file {path} changed since it was located (SHA-256 {info.sha256} then, "
            f"{digest} now); leave it unchanged while a run uses it and run again"
        )
    return state


def offline_reason(host: str) -> str | None:
    """Why downloading from `host` is not possible now, or None when it is.

    HF_HUB_OFFLINE decides first; otherwise one TCP connection with a 2 s timeout. Any error
    from that probe means offline: not only OSError (refused, timed out, no route, DNS) but
    whatever a sandbox raises instead, e.g. pytest-socket's SocketBlockedError (a
    RuntimeError), so a blocked network skips the download instead of failing the run.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return "HF_HUB_OFFLINE is set"
    try:
        with socket.create_connection((host, 443), timeout=PROBE_TIMEOUT_S):
            return None
    except Exception as error:  # every failure of the probe means "offline"
        return f"{host} unreachable ({type(error).__name__}: {error})"


def _download(cfg: dict[str, Any], looked: list[str]) -> Path | None:
    """Download the weights into the hub cache when online; None (reason in `looked`) if not."""
    repo, url = cfg.get("hf_hub_id"), str(cfg.get("url") or "")
    host = HF_HOST if repo else (urlparse(url).hostname if url else None)
    if host is None:
        looked.append("download (no source known to timm)")
        return None
    reason = offline_reason(host)
    if reason is not None:
        looked.append(f"download from {host} (skipped: {reason})")
        return None
    try:
        if repo:
            return _download_hf(repo, hf_filenames(cfg))
        target = torch_hub_checkpoints() / os.path.basename(urlparse(url).path)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(target), progress=False)
        return target
    except (HfHubHTTPError, OSError, ValueError) as error:
        looked.append(f"download from {host} (failed: {error})")
        return None


def _download_hf(repo: str, filenames: tuple[str, ...]) -> Path:
    """The first of `filenames` the repo has, downloaded into the HF cache."""
    last: Exception | None = None
    for filename in filenames:
        try:
            return Path(hf_hub_download(repo, filename, cache_dir=hf_hub_cache()))
        except HfHubHTTPError as error:
            last = error
    raise OSError(f"none of {', '.join(filenames)} in {repo}: {last}")


def _not_found_message(name: str, cfg: dict[str, Any], looked: list[str]) -> str:
    """Everything looked at, and three ways to provide the weights."""
    repo = cfg.get("hf_hub_id") or "<repo>"
    filename = hf_filenames(cfg)[0]
    return (
        f"no weights found for backbone {name!r}. Looked in: " + "; ".join(looked) + ". "
        f"Provide them by (1) `weights_file: /path/to/weights.safetensors` under backbone in the "
        f'config; (2) downloading once online: `HF_HUB_OFFLINE=0 python -c "import timm; '
        f"timm.create_model('{name}', pretrained=True)\"` (or `huggingface-cli download {repo} "
        f"{filename}`), which fills {hf_hub_cache()}; or (3) copying the file to "
        f"{hf_hub_cache()}/models--{repo.replace('/', '--')}/snapshots/<revision>/{filename} "
        f"with refs/main naming <revision>. Or use backbone tf_efficientnet_lite0 (bundled)."
    )
