"""Backbone features computed once per run and shared by every fit and cell that needs them."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
STORAGE_BYTES = {"float32": 4, "float16": 2}
"""Bytes per stored feature value of each storage precision."""


class FeatureCache:
    """Features of the union of layers a run needs, keyed by image content; a FeatureSource.

    An entry is keyed by the SHA-256 of the image file's bytes (the clean and the shifted copy
    of an image share a sample id but not their bytes), the preprocessing, the backbone name
    and weights digest, and the layer union. Entries live in an in-memory LRU bounded in bytes
    and, with `cache_dir`, in one .npz per input written atomically, so a run never holds all
    features in RAM and a second request never repeats a forward pass. A backbone on a device
    other than the CPU adds its device type to the key (its features differ in the last bits);
    on the CPU the key is what it always was.

    With `disk_budget_bytes`, the on-disk store is kept under that many bytes: after each
    batch written, the least recently used .npz entries are deleted (in the order this
    instance used them; entries it never touched go first, oldest modification time first),
    never those of the batch being served. An evicted entry is recomputed if it is needed
    again, so `forward_passes` may then exceed `distinct_inputs`. The budget covers the
    features folder (`cache_dir`) only, nothing else of a run's output. The bytes are those
    of the store's files as this instance last listed them; other processes writing to the
    same store are seen at the next listing, which happens whenever the budget looks exceeded.

    With `storage="float16"` (opt-in, an approximation) every entry is rounded to float16 as
    soon as it is computed, kept in memory as float32 of those rounded values and stored as
    float16: half the disk, and the same values whether an entry comes from the backbone, the
    memory or the disk. The storage enters the key, so float32 entries are never reused for it.

    Nothing here needs the network until an entry is missing: the key, shapes and sizes come
    from the backbone's description (`BackboneSpec`), so a backbone made from one loads its
    weights and builds its network only on the first miss (or at `build_backbone_if_missing`);
    a run whose features are all stored never does.

    Args:
        backbone: the network (built or not).
        layers: the union of the layers any fit or cell of the run reads (empty when only
            detectors that read raw images use the backbone: the cache then extracts nothing).
        cache_dir: optional on-disk store.
        batch_size: images per forward pass.
        memory_bytes: bound of the in-memory LRU.
        disk_budget_bytes: optional bound of the on-disk store (needs `cache_dir`).
        storage: `float32` (exact, the default) or `float16`.

    Raises:
        ConfigError: a layer the backbone lacks, or a negative budget or one without
            `cache_dir`.

    Attributes:
        input_size: (H, W) of the network input.
        forward_passes: images pushed through the backbone so far.
        distinct_inputs: distinct entries requested so far.
        disk_bytes_written: bytes of .npz entries this instance wrote.
        evictions: .npz entries this instance deleted to keep within `disk_budget_bytes`.
    """

    def __init__(
        self,
        backbone: Backbone,
        layers: Sequence[str],
        cache_dir: Path | None = None,
        batch_size: int = 16,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        disk_budget_bytes: int | None = None,
        storage: str = "float32",
    ) -> None:
        if layers:  # none: a backbone only detectors that read raw images use (never run)
            backbone.channels(layers)
        if storage not in STORAGE_BYTES:
            raise ConfigError(
                f"feature cache storage={storage!r} is not one of {', '.join(STORAGE_BYTES)}"
            )
        self.storage = storage
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
        context: dict[str, Any] = {
            "backbone": backbone.digest,
            "preprocessing": backbone.preprocessing.to_dict(),
            "layers": list(self.layers),
            "batch": batch_size,  # every pass has this many images (see `_compute`)
        }
        if backbone.device.type != "cpu":
            context["device"] = backbone.device.type
        if storage != "float32":
            context["storage"] = storage
        self._context = json.dumps(context, sort_keys=True)
        self.disk_budget_bytes = disk_budget_bytes
        self.disk_bytes_written = 0
        self.evictions = 0
        self._store = DiskUsage()
        self._protected: set[str] = set()
        if disk_budget_bytes is not None:
            self._check_budget(disk_budget_bytes)

    @property
    def distinct_inputs(self) -> int:
        """Distinct (content, preprocessing, backbone, layers) entries requested so far."""
        return len(self._seen)

    @property
    def backbone_name(self) -> str:
        """The timm name of the backbone the features come from."""
        return self.backbone.config.name

    def bytes_per_input(self) -> int:
        """Bytes of one stored input's features (the layer union), from shapes alone.

        The sum over layers of C * ceil(crop / stride)^2 * (4 for float32 storage, 2 for
        float16); no forward pass is run. The .npz file of an entry is this plus a few
        hundred bytes of headers.
        """
        crop = self.backbone.preprocessing.crop
        strides = self.backbone.strides(self.layers)
        channels = self.backbone.channels(self.layers)
        size = STORAGE_BYTES[self.storage]
        return sum(
            size * channels[layer] * (-(-crop // strides[layer])) ** 2 for layer in self.layers
        )

    def disk_bytes(self) -> int:
        """Bytes of the .npz entries now in the on-disk store (0 without one), by listing it."""
        if self.cache_dir is None:
            return 0
        return sum(entry.size for entry in _list_store(self.cache_dir))

    def channels(self, layers: Sequence[str]) -> dict[str, int]:
        """Channels of each layer's feature map (ConfigError for a layer not in the union)."""
        self._check(layers)
        return self.backbone.channels(layers)

    def build_backbone_if_missing(self, samples: Sequence[Sample]) -> bool:
        """Build the backbone now if any of `samples` has no stored entry, so that weights
        that cannot be loaded are refused before any work; True when it was needed.

        Raises:
            WeightsError: as `Backbone.build`.
            DatasetError: an image file does not exist.
        """
        for sample in samples:
            key = self.key(sample.path)
            path = self._disk_path(key)
            if key not in self._memory and (path is None or not path.is_file()):
                self.backbone.build()
                return True
        return False

    @property
    def held_bytes(self) -> int:
        """Bytes of features held in this process's memory (the LRU)."""
        return self._held_bytes

    def forget_memory(self) -> None:
        """Drop the features held in memory; later reads come from the on-disk store.

        Raises:
            ValueError: the cache has no on-disk store, so nothing could be read back.
        """
        if self.cache_dir is None:
            raise ValueError("a feature cache without a folder cannot forget its memory")
        self._memory.clear()
        self._held_bytes = 0

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
            self._protected = set(keys)
            try:
                found = self._lookup(batch, keys)
            finally:
                self._protected = set()
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
            self._store.touch(key)
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
        """Run the backbone on the missing inputs, `batch_size` images per pass.

        Every pass has exactly `batch_size` images: a short last batch is padded by repeating
        its last image (the padding's outputs are dropped and not counted). On the CPU, oneDNN
        picks its convolution path by batch size and thread count (EfficientNet-Lite0's
        features differ by up to 3e-5 between a batch of 2 and one of 16 on one thread), while
        at a fixed batch size each image gets the same bits whatever its companions. So an
        image's features never depend on which other images are extracted with it (the order
        of a shard, a resume, a cache hit).
        """
        computed: dict[str, Features] = {}
        items = list(missing.items())
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            loader = self.backbone.preprocessing.load_image
            images = torch.stack([loader(path) for _, path in chunk])
            if len(chunk) < self.batch_size:
                padding = images[-1:].expand(self.batch_size - len(chunk), -1, -1, -1)
                images = torch.cat([images, padding])
            outputs = self.backbone.forward(images, self.layers)
            self.forward_passes += len(chunk)
            for row, (key, _) in enumerate(chunk):
                features = {layer: self._stored(outputs[layer][row]) for layer in self.layers}
                self._remember(key, features)
                self._to_disk(key, features)
                computed[key] = features
            self._enforce_budget()
        return computed

    def _stored(self, tensor: torch.Tensor) -> torch.Tensor:
        """A float32 copy of one layer's features as the storage keeps them."""
        if self.storage == "float16":
            return tensor.to(torch.float16).to(torch.float32)
        return tensor.clone()

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
                features = {
                    layer: torch.from_numpy(stored[layer].astype(np.float32, copy=False))
                    for layer in self.layers
                }
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        self._remember(key, features)
        return features

    def _to_disk(self, key: str, features: Features) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        buffer = io.BytesIO()
        dtype = np.float16 if self.storage == "float16" else np.float32
        arrays: dict[str, Any] = {
            layer: tensor.numpy().astype(dtype, copy=False) for layer, tensor in features.items()
        }
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
        write_bytes(path, data, durable=False)
        self.disk_bytes_written += len(data)
        self._store.wrote(key, len(data))

    def _check_budget(self, budget: int) -> None:
        if self.cache_dir is None:
            raise ConfigError(
                f"disk_budget_bytes={budget} needs an on-disk store; give cache_dir or drop it"
            )
        if budget < 0:
            raise ConfigError(
                f"disk_budget_bytes={budget} is negative; give a byte count, e.g. "
                f"{100 * self.bytes_per_input()} for about 100 inputs"
            )

    def _enforce_budget(self) -> None:
        """Delete least recently used entries until the store is within the budget."""
        budget = self.disk_budget_bytes
        if budget is None or self.cache_dir is None or self._store.total <= budget:
            return
        entries = _list_store(self.cache_dir)
        total = sum(entry.size for entry in entries)
        for entry in sorted(entries, key=self._store.eviction_order):
            if total <= budget:
                break
            if entry.key in self._protected:
                continue
            entry.path.unlink(missing_ok=True)
            total -= entry.size
            self.evictions += 1
            self._store.forget(entry.key)
        self._store.total = total


@dataclass(frozen=True)
class StoredEntry:
    """One .npz file of an on-disk store."""

    key: str
    path: Path
    size: int
    mtime_ns: int


class DiskUsage:
    """What a FeatureCache knows of its on-disk store: use order and a running byte total.

    Attributes:
        total: bytes of the store as last listed plus what was written since; starts at
            infinity, so the first check lists the store.
    """

    def __init__(self) -> None:
        self.total: float = float("inf")
        self._order: dict[str, int] = {}
        self._clock = 0

    def touch(self, key: str) -> None:
        """Record a use of `key` (a hit in memory or on disk, or a computation)."""
        self._clock += 1
        self._order[key] = self._clock

    def wrote(self, key: str, size: int) -> None:
        """Record a written entry of `size` bytes."""
        self.touch(key)
        self.total += size

    def forget(self, key: str) -> None:
        """Drop an evicted entry from the use order."""
        self._order.pop(key, None)

    def eviction_order(self, entry: StoredEntry) -> tuple[int, int]:
        """Sort key: entries never used by this instance first (oldest file first), then
        used ones, least recently used first."""
        used = self._order.get(entry.key)
        return (0, entry.mtime_ns) if used is None else (1, used)


def _list_store(cache_dir: Path) -> list[StoredEntry]:
    """The .npz entries of a store (`<cache_dir>/<key[:2]>/<key>.npz`), with size and mtime."""
    entries = []
    for path in cache_dir.glob("??/*.npz"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted meanwhile by another process
            continue
        entries.append(StoredEntry(path.stem, path, stat.st_size, stat.st_mtime_ns))
    return entries


def _nbytes(features: Features) -> int:
    return sum(tensor.numel() * tensor.element_size() for tensor in features.values())
