"""The nightly's history: one entry per night, built from a finished results folder.

A night holds its run time (the manifest's `created`, which also identifies the night), the
headline metrics of every headline cell with their 95% intervals, the verdicts `evalsuite diff`
gave against the night before (from its `--json` file), and the provenance that explains a
change: the code commit, the package versions, each detector's weights (source and SHA-256),
the dataset's fingerprints and versions, and the digest of the study's configuration.

Headline cells are the cells of the index's headline table: scope per_class, no sweep, every
detector, category, condition/regime and seed; their metrics are `diff`'s headline metrics
(`diff_metrics.HEADLINE`). No machine path enters a night: the weights keep their source and
digest only, and the configuration's digest leaves out its data root and weights paths.
The file itself (format, validation, appending) is `history_file`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalsuite import regular
from evalsuite.errors import ResultsError
from evalsuite.results.cells import iter_cells
from evalsuite.results.diff_metrics import HEADLINE
from evalsuite.results.diff_report import DIFF_SCHEMA
from evalsuite.results.manifest import read_manifest
from evalsuite.results.provenance_diff import Change
from evalsuite.results.validation import loads_strict

KEY_FIELDS = ("label", "scope", "regime", "condition", "category", "seed")
"""What a headline cell is (`diff`'s `CellKey` without the sweep, which headline cells lack)."""
HEADLINE_SCOPE = "per_class"
"""The scope of the index's headline table."""

Night = dict[str, Any]
"""One night as the history file holds it (see `night_entry`)."""


def night_entry(results: Path, diff_json: Path | None = None) -> Night:
    """The night of the finished results folder `results`.

    Args:
        results: a results folder with its manifest (`evalsuite run` or `merge` wrote it).
        diff_json: what `evalsuite diff PREVIOUS results --json FILE` wrote, for the verdicts;
            None: the night is not compared (its first night).

    Returns:
        {"run": manifest created, "date": YYYY-MM-DD, "study", "provenance", "against": the
        compared night's run or None, "cells": [{key fields..., "path", "status",
        "change": diff's status or None, "metrics": {metric: {"value", "ci95", "verdict"}}}]}.

    Raises:
        ResultsError: the folder has no (valid) manifest or a corrupt record; the diff file is
            not a diff JSON, or compares another run than `results`.
    """
    manifest = read_manifest(results)
    compared = _read_diff(diff_json, manifest["created"]) if diff_json is not None else None
    verdicts = _verdicts(compared, diff_json) if compared is not None else {}
    cells = [_cell(relpath, record, verdicts) for relpath, record in _headline(results)]
    return {
        "run": manifest["created"],
        "date": manifest["created"][:10],
        "study": manifest["study"],
        "provenance": provenance(manifest),
        "against": None if compared is None else compared["base"]["created"],
        "cells": cells,
    }


def provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    """What explains a change between nights, by kind (the kinds of `provenance_diff`)."""
    versions = dict(manifest["versions"])
    dataset = manifest["dataset"]
    return {
        "code": {
            "git_commit": manifest["git_commit"],
            "evalsuite": versions.pop("evalsuite", None),
        },
        "versions": versions,
        "weights": {
            label: {"source": w["source"], "sha256": w["sha256"]}
            for label, w in sorted(manifest["weights"].items())
        },
        "dataset": {
            "fingerprint": dataset["fingerprint_clean"],
            "fingerprint_shift": dataset["fingerprint_shift"],
            "generator_version": dataset.get("generator_version"),
            "shift_version": dataset.get("shift_version"),
        },
        "config": {"sha256": config_digest(manifest["config"])},
    }


def config_digest(config: dict[str, Any]) -> str:
    """SHA-256 of the study's configuration (canonical JSON) without its machine paths: the
    data root, and each detector's weights file reduced to its name."""
    copy = json.loads(json.dumps(config))
    if isinstance(copy.get("data"), dict):
        copy["data"].pop("root", None)
    for detector in copy.get("detectors") or []:
        backbone = detector.get("backbone") if isinstance(detector, dict) else None
        if isinstance(backbone, dict) and backbone.get("weights_file"):
            backbone["weights_file"] = Path(str(backbone["weights_file"])).name
    text = json.dumps(copy, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def provenance_changes(before: Night, after: Night) -> list[Change]:
    """What changed in provenance from the night `before` to `after`, leaf by leaf, in the
    order code, versions, weights, dataset, config."""
    a, b = before["provenance"], after["provenance"]
    found = []
    for kind in ("code", "versions", "weights", "dataset", "config"):
        found += [Change(kind, key, x, y) for key, x, y in _leaves(a[kind], b[kind])]
    return found


def cell_id(cell: dict[str, Any]) -> str:
    """A headline cell's id in the history: `label/category/condition/regime/seed`."""
    return f"{cell['label']}/{cell['category']}/{cell['condition']}/{cell['regime']}/{cell['seed']}"


def _leaves(a: Any, b: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            yield from _leaves(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
    elif a != b:
        yield prefix, a, b


def _headline(results: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for relpath, record in iter_cells(results):
        if record["scope"] == HEADLINE_SCOPE and record["sweep"] is None:
            yield str(relpath), record


def _cell(relpath: str, record: dict[str, Any], verdicts: dict[tuple[Any, ...], Any]) -> Night:
    key = tuple(record[field] for field in KEY_FIELDS)
    change, by_metric = verdicts.get(key, (None, {}))
    metrics = {}
    for metric in HEADLINE:
        found = (record["metrics"] or {}).get(metric) or {"value": None, "ci95": None}
        metrics[metric] = {
            "value": found["value"],
            "ci95": found["ci95"],
            "verdict": by_metric.get(metric),
        }
    return {
        **{field: record[field] for field in KEY_FIELDS},
        "path": relpath,
        "status": record["status"],
        "change": change,
        "metrics": metrics,
    }


def _read_diff(path: Path, created: str) -> dict[str, Any]:
    """The diff JSON at `path`, checked to compare a run with the night `created`."""
    try:
        data = loads_strict(regular.read_text(path, regular.RESULTS, "diff JSON"))
    except FileNotFoundError:
        raise ResultsError(
            f"--diff {path} does not exist; write it with `evalsuite diff PREVIOUS RESULTS "
            "--json FILE`, or leave --diff out on the first night"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ResultsError(
            f"--diff {path} cannot be read as JSON ({error}); write it again"
        ) from error
    if not isinstance(data, dict) or data.get("schema") != DIFF_SCHEMA:
        raise ResultsError(
            f"--diff {path} is not an {DIFF_SCHEMA!r} file; give what `evalsuite diff --json` wrote"
        )
    new = data["new"].get("created") if isinstance(data.get("new"), dict) else None
    if new != created:
        raise ResultsError(
            f"--diff {path} compares the run of {new}, not this night ({created}); run "
            "`evalsuite diff PREVIOUS RESULTS --json FILE` on these results"
        )
    return data


def _verdicts(data: dict[str, Any], path: Path | None) -> dict[tuple[Any, ...], Any]:
    """Headline cell key -> (diff's status, {metric: verdict or None})."""
    found = {}
    try:
        for cell in data["cells"]:
            key = cell["key"]
            if key["scope"] != HEADLINE_SCOPE or key["sweep"] is not None:
                continue
            metrics = {m["metric"]: m["verdict"] for m in cell["metrics"]}
            found[tuple(key[field] for field in KEY_FIELDS)] = (cell["status"], metrics)
        against = data["base"]["created"]
    except (KeyError, TypeError) as error:
        raise ResultsError(
            f"--diff {path} lacks {error} where `evalsuite diff --json` writes it; write it again"
        ) from None
    if against is not None and not isinstance(against, str):
        raise ResultsError(f"--diff {path}: base.created is not a date; write it again")
    return found
