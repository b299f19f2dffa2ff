"""Weight files: read them without unpickling, digest them, check they fit an architecture."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file

from evalsuite import regular
from evalsuite.errors import WeightsError

StateDict = dict[str, torch.Tensor]

_WRAPPER_KEYS = ("state_dict", "model", "state_dict_ema")
_PREFIXES = ("module.", "_orig_mod.")
_SHOWN = 5


def read_state_dict(path: Path) -> StateDict:
    """Read a state dict from .safetensors, or from a torch file with `weights_only=True`.

    Training checkpoints that wrap the weights (`state_dict`, `model`, `state_dict_ema`) are
    unwrapped and DDP / torch.compile prefixes (`module.`, `_orig_mod.`) stripped.

    Only a regular file (or a link to one) of at most `MAX_WEIGHTS_BYTES` is opened (see
    `evalsuite.regular`): a folder gets its own message, and a FIFO, socket or device is refused
    before reading, since reading one could block or never end.

    Raises:
        WeightsError: missing, not a regular file, too large, unreadable, not a tensor file
            (text, say), pickled objects other than tensors, or no tensors.
    """
    check_weights_path(path)
    with regular.open_file(path, regular.WEIGHTS, "weights file") as stream:
        try:
            if path.suffix == ".safetensors":  # mapped by path: the file just checked and held
                loaded: object = load_file(str(path), device="cpu")
            else:
                loaded = torch.load(stream, map_location="cpu", weights_only=True)
        except Exception as error:  # any parser failure on untrusted bytes: not a tensor file
            raise WeightsError(
                f"weights file {path} cannot be read as tensors only ({type(error).__name__}: "
                f"{error}); give a state dict saved with torch.save(model.state_dict(), ...) or "
                "safetensors.torch.save_file"
            ) from error
    return _clean(_unwrap(loaded, path), path)


def check_weights_path(path: Path) -> None:
    """Raise unless `path` exists and is not a folder (the two mistakes a user makes most).

    Raises:
        WeightsError: naming the path and what to give instead.
    """
    if not path.exists():
        raise WeightsError(f"weights file {path} does not exist; check the weights_file path")
    if path.is_dir():
        raise WeightsError(
            f"weights file {path} is a folder; give the path of the .safetensors/.pth file in it"
        )


def weights_sha256(path: Path) -> str:
    """Hex SHA-256 of a weights file, read as `read_state_dict` reads it (same refusals).

    Raises:
        WeightsError: missing, a folder, not a regular file, too large, or unreadable.
    """
    check_weights_path(path)
    try:
        return regular.sha256(path, regular.WEIGHTS, "weights file")
    except OSError as error:
        raise WeightsError(
            f"weights file {path} cannot be read ({error.strerror or error}); check its "
            "permissions or give another weights_file"
        ) from error


def _unwrap(loaded: object, path: Path) -> Mapping[str, object]:
    """The mapping of tensors inside a (possibly wrapped) checkpoint."""
    if not isinstance(loaded, Mapping):
        raise WeightsError(f"weights file {path} holds a {type(loaded).__name__}, not a state dict")
    for key in _WRAPPER_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, Mapping):
            return inner
    return loaded


def _clean(mapping: Mapping[str, object], path: Path) -> StateDict:
    """Keep tensors only, with wrapper prefixes stripped from the keys."""
    state: StateDict = {}
    for key, value in mapping.items():
        if not isinstance(value, torch.Tensor):
            continue
        name = str(key)
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        state[name] = value
    if not state:
        raise WeightsError(f"weights file {path} holds no tensors")
    return state


def check_fits(state: StateDict, template: StateDict, path: Path, backbone: str) -> StateDict:
    """Check that `state` has exactly the keys and shapes of `template` (a model's state dict).

    BatchNorm `num_batches_tracked` counters that old checkpoints lack are filled from the
    template (they do not affect inference).

    Returns:
        `state`, completed with those counters.

    Raises:
        WeightsError: naming the file and the first missing, unexpected and mis-shaped keys.
    """
    completed = dict(state)
    for key in template.keys() - state.keys():
        if key.endswith("num_batches_tracked"):
            completed[key] = template[key].clone()
    missing = sorted(template.keys() - completed.keys())
    unexpected = sorted(completed.keys() - template.keys())
    mis_shaped = [
        f"{key} {tuple(completed[key].shape)} vs {tuple(template[key].shape)}"
        for key in template
        if key in completed and completed[key].shape != template[key].shape
    ]
    if missing or unexpected or mis_shaped:
        problems = []
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches (file vs model)", mis_shaped),
        ):
            if keys:
                shown = ", ".join(keys[:_SHOWN]) + (", ..." if len(keys) > _SHOWN else "")
                problems.append(f"{len(keys)} {label}: {shown}")
        raise WeightsError(
            f"weights file {path} does not fit backbone {backbone!r} ({'; '.join(problems)}); "
            f"give weights trained for {backbone} or change backbone.name"
        )
    return completed
