"""Backbone features computed once per run and shared by every fit and cell that needs them."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalsuite.atomic import write_bytes
from evalsuite.backbone.extractor import Backbone
from evalsuite.data.samples import Sample
from evalsuite.digest import file_sha256
from evalsuite.errors import ConfigError, DatasetError

Features = dict[str, torch.Tensor]
DEFAULT_MEMORY_BYTES = 2 << 30


class FeatureCache:
    """Features of the union of layers a run needs, keyed by image content; a FeatureSource.

    An entry is keyed by the SHA-256 of the image file's bytes (the clean and the shifted copy
    of an image share a sample id but not their bytes), the preprocessing, the backbone name
    and weights digest, and the layer union. Entries live in an in-memory LRU bounded in bytes
    and, with `cache_dir`, in one .npz per input written atomically, so a run never holds all
    features in RAM and a second request never repeats a forward pass.

    Args:
        backbone: the network.
        layers: the union of the layers any fit or cell of the run reads.
        cache_dir: optional on-disk store.
        batch_size: images per forward pass.
        memory_bytes: bound of the in-memory LRU.

    Attributes:
        input_size: (H, W) of the network input.
        forward_passes: images pushed through the backbone so far.
        distinct_inputs: distinct entries requested so far.
    """

    def __init__(
        self,
        backbone: Backbone,
        layers: Sequence[str],
        cache_dir: Path | None = None,
        batch_size: int = 16,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        backbone.channels(layers)
        self.backbone = backbone
        self.layers: tuple[str, ...] = tuple(dict.fromkeys(layers))
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.memory_bytes = memory_bytes
        crop = backbone.preprocessing.crop
        self.input_size: tuple[int, int] = (crop, crop)
        self.forward_passes = 0
        self._memory: OrderedDict[str, Features] = OrderedDict()
        self._held_bytes = 0
        self._seen: set[str] = set()
        self._content: dict[Path, tuple[int, int, str]] = {}
        self._context = json.dumps(
            {
                "backbone": backbone.digest,
                "preprocessing": backbone.preprocessing.to_dict(),
                "layers": list(self.layers),
            },
            sort_keys=True,
        )

    @property
    def distinct_inputs(self) -> int:
        """Distinct (content, preprocessing, backbone, layers) entries requested so far."""
        return len(self._seen)

    @property
    def backbone_name(self) -> str:
        """The timm name of the backbone the features come from."""
        return self.backbone.config.name

    def channels(self, layers: Sequence[str]) -> dict[str, int]:
        """Channels of each layer's feature map (ConfigError for a layer not in the union)."""
        self._check(layers)
        return self.backbone.channels(layers)

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Yield features batch by batch, in sample order, computing only missing entries.

        Yields:
            layer -> (B, C_layer, h_layer, w_layer) float32, for each batch of `batch_size`.

        Raises:
            ConfigError: at the call, for a layer outside the union the cache was built with.
        """
        self._check(layers)
        return self._iterate(samples, tuple(layers), batch_size)

    def _iterate(
        self, samples: Sequence[Sample], layers: tuple[str, ...], batch_size: int
    ) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            keys = [self.key(sample.path) for sample in batch]
            self._seen.update(keys)
            found = self._lookup(batch, keys)
            yield {layer: torch.stack([found[key][layer] for key in keys]) for layer in layers}

    def key(self, path: Path) -> str:
        """Cache key of an image file: SHA-256 over its content hash and this cache's context.

        Raises:
            DatasetError: the file does not exist.
        """
        try:
            stat = path.stat()
        except FileNotFoundError as error:
            raise DatasetError(f"{path}: image file not found; check the dataset tree") from error
        known = self._content.get(path)
        if known is None or known[:2] != (stat.st_size, stat.st_mtime_ns):
            content = file_sha256(path)
            known = (stat.st_size, stat.st_mtime_ns, content)
            self._content[path] = known
        return hashlib.sha256(f"{known[2]}|{self._context}".encode()).hexdigest()

    def _check(self, layers: Sequence[str]) -> None:
        missing = [layer for layer in layers if layer not in self.layers]
        if missing or not layers:
            raise ConfigError(
                f"layers {missing or list(layers)} were not requested when the feature cache "
                f"was built (union: {', '.join(self.layers)}); add them to the run's layers"
            )

    def _lookup(self, batch: Sequence[Sample], keys: list[str]) -> dict[str, Features]:
        """Features of every key: memory, then disk, then one forward pass for the rest."""
        found: dict[str, Features] = {}
        missing: dict[str, Path] = {}
        for sample, key in zip(batch, keys, strict=True):
            if key in found or key in missing:
                continue
            features = self._from_memory(key)
            if features is None:
                features = self._from_disk(key)
            if features is None:
                missing[key] = sample.path
            else:
                found[key] = features
        if missing:
            found.update(self._compute(missing))
        return found

    def _compute(self, missing: dict[str, Path]) -> dict[str, Features]:
        """Run the backbone on the missing inputs, `batch_size` images per pass."""
        computed: dict[str, Features] = {}
        items = list(missing.items())
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            loader = self.backbone.preprocessing.load_image
            images = torch.stack([loader(path) for _, path in chunk])
            outputs = self.backbone.forward(images, self.layers)
            self.forward_passes += len(chunk)
            for row, (key, _) in enumerate(chunk):
                features = {layer: outputs[layer][row].clone() for layer in self.layers}
                self._remember(key, features)
                self._to_disk(key, features)
                computed[key] = features
        return computed

    def _from_memory(self, key: str) -> Features | None:
        features = self._memory.get(key)
        if features is not None:
            self._memory.move_to_end(key)
        return features

    def _remember(self, key: str, features: Features) -> None:
        """Keep an entry in the LRU, evicting the least recently used beyond `memory_bytes`."""
        if key in self._memory:
            return
        self._memory[key] = features
        self._held_bytes += _nbytes(features)
        while self._held_bytes > self.memory_bytes and len(self._memory) > 1:
            _, evicted = self._memory.popitem(last=False)
            self._held_bytes -= _nbytes(evicted)

    def _disk_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / key[:2] / f"{key}.npz"

    def _from_disk(self, key: str) -> Features | None:
        """An entry from the on-disk store; None when absent or unreadable (recomputed)."""
        path = self._disk_path(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                features = {layer: torch.from_numpy(stored[layer]) for layer in self.layers}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        self._remember(key, features)
        return features

    def _to_disk(self, key: str, features: Features) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {layer: tensor.numpy() for layer, tensor in features.items()}
        np.savez(buffer, **arrays)
        write_bytes(path, buffer.getvalue(), durable=False)


def _nbytes(features: Features) -> int:
    return sum(tensor.numel() * tensor.element_size() for tensor in features.values())
