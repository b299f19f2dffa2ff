"""Write the split assignment of each seed into the results folder (see
`evalsuite.results.splits`): which sample ids a run trained, calibrated and tested on; and the
per-image parameters of each shifted tree it read."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from evalsuite import atomic
from evalsuite.data.reader import SHIFT_MARKER
from evalsuite.data.shift_family import REAL, tree_name
from evalsuite.data.splits import SPLITS
from evalsuite.results.splits import (
    SHIFT_SCHEMA,
    SPLITS_SCHEMA,
    shift_relpath,
    splits_relpath,
    tree_relpath,
)
from evalsuite.runner.planning.study_data import StudyData


def splits_document(data: StudyData, seed: int) -> dict[str, Any]:
    """The split file of `seed`: its seed, ratios, dataset fingerprint and ids per category.

    Returns:
        {"schema", "seed", "val_normal_ratio", "val_anomaly_ratio", "dataset_fingerprint",
        "categories": {category: {"train": [ids], "val": [ids], "test": [ids]}}}, ids sorted.
    """
    splits = data.splits[seed]
    ids: dict[str, dict[str, list[str]]] = defaultdict(lambda: {name: [] for name in SPLITS})
    for sample in data.clean.samples:
        ids[sample.category][splits.split_of(sample)].append(sample.id)
    return {
        "schema": SPLITS_SCHEMA,
        "seed": seed,
        "val_normal_ratio": splits.config.val_normal_ratio,
        "val_anomaly_ratio": splits.config.val_anomaly_ratio,
        "dataset_fingerprint": data.fingerprints["clean"],
        "categories": {
            category: {name: sorted(members) for name, members in ids[category].items()}
            for category in sorted(ids)
        },
    }


def shift_document(data: StudyData, severity: int) -> dict[str, Any]:
    """The shift parameters of the tree of `severity`: its `evalsuite-shift.json` (version,
    seed, severity, `relabelled`, `images`: sample id -> the transform's parameters) without
    the absolute `source` path, with the clean and shifted fingerprints."""
    root = data.shifted[severity].root
    return _document(data, root, data.fingerprints[f"shift-s{severity}"])


def variant_trees(data: StudyData) -> dict[str, Path]:
    """`shift_family.tree_name` -> root of each variant tree of `data` (`StudyData.factored`;
    not the real conditions, read from the clean tree itself), in name order."""
    found = {
        tree_name(severity, factors, family): dataset.root
        for (family, severity, factors), dataset in data.factored.items()
        if family != REAL
    }
    return dict(sorted(found.items()))


def _document(data: StudyData, root: Path, shift_fingerprint: str) -> dict[str, Any]:
    """A shifted tree's marker without its absolute `source`, with the fingerprints."""
    content = json.loads((root / SHIFT_MARKER).read_text(encoding="utf-8"))  # read_dataset read it
    marker = {key: value for key, value in content.items() if key != "source"}
    return {
        "schema": SHIFT_SCHEMA,
        **marker,
        "dataset_fingerprint": data.fingerprints["clean"],
        "dataset_fingerprint_shift": shift_fingerprint,
    }


def write_splits_files(out: Path, data: StudyData) -> dict[str, str]:
    """Write the split file of every seed of `data` and the shift parameters of every shifted
    tree (the mixed shift's and each variant tree's) into the results folder `out` (atomically).

    Returns:
        seed (as text) -> the split file's path relative to `out`, as the manifest names them.
    """
    written = {}
    for seed in sorted(data.splits):
        relpath = splits_relpath(seed)
        atomic.write_json(out / relpath, splits_document(data, seed))
        written[str(seed)] = str(relpath)
    for severity in sorted(data.shifted):
        atomic.write_json(out / shift_relpath(severity), shift_document(data, severity))
    for name, root in variant_trees(data).items():
        document = _document(data, root, data.factor_fingerprints[name])
        atomic.write_json(out / tree_relpath(name), document)
    return written
