"""What was run: data, backbones and weights, seeds, versions and run time, for the index page.

Read from the manifest; a run without one (partial results) is described from its records'
provenance instead, and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalsuite.data.real_conditions import CONDITIONS
from evalsuite.data.shift_family import MVTEC_SHIFT, title
from evalsuite.site.read.records import Results


@dataclass(frozen=True)
class Backbone:
    """One detector's feature extractor and weights.

    Attributes:
        label, detector: the detector's label and name.
        backbone: the timm model name.
        input: "resize → crop" as configured ("from the weights' config" when unset).
        source: where the weights came from (file, hub_cache, download, bundled, random).
        path: the weights file, when there is one.
        sha256: the weights' SHA-256 (None for random weights).
        params: the detector's hyperparameters, as "key = value" texts.
    """

    label: str
    detector: str
    backbone: str
    input: str
    source: str
    path: str | None
    sha256: str | None
    params: tuple[str, ...]


@dataclass(frozen=True)
class RunInfo:
    """The index page's description of the run.

    Attributes:
        study: the study's name.
        finished: False when the folder has no manifest (an unfinished run or a shard).
        facts: (name, value) of the few facts shown first.
        data: (name, value) rows on the dataset.
        backbones: one per detector.
        seeds: the seeds.
        run: (name, value) rows on time, commit, platform and counts.
        versions: (package, version) rows.
    """

    study: str
    finished: bool
    facts: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    backbones: tuple[Backbone, ...]
    seeds: tuple[int, ...]
    run: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, str], ...]


def _value(value: Any) -> str:
    """A hyperparameter as text: lists as "a, b", the rest as JSON writes it."""
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    return json.dumps(value) if not isinstance(value, str) else value


def _input(backbone: dict[str, Any]) -> str:
    resize, crop = backbone.get("resize"), backbone.get("crop")
    if resize is None and crop is None:
        return "from the weights' config"
    return (
        f"{resize if resize is not None else 'default'} → {crop if crop is not None else 'default'}"
    )


def _backbone(label: str, spec: dict[str, Any], weights: dict[str, Any]) -> Backbone:
    params = tuple(f"{key} = {_value(value)}" for key, value in sorted(spec["params"].items()))
    return Backbone(
        label=label,
        detector=spec["name"],
        backbone=spec["backbone"]["name"],
        input=_input(spec["backbone"]),
        source=weights["source"],
        path=weights["path"],
        sha256=weights["sha256"],
        params=params,
    )


def when(timestamp: str) -> str:
    """An ISO 8601 time as "YYYY-MM-DD HH:MM UTC" (or with its own offset when not UTC)."""
    moment = datetime.fromisoformat(timestamp)
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() == 0:
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M %z")


def _facts(
    results: Results, backbones: tuple[Backbone, ...], started: str | None, wall: float | None
) -> tuple[tuple[str, str], ...]:
    ok = sum(cell.ok for cell in results.cells)
    seeds = sorted({cell.key.seed for cell in results.cells} | {k.seed for k in results.missing})
    weights = sorted({f"{b.backbone} ({b.source} weights)" for b in backbones})
    facts = [
        ("data", "synthetic" if results.synthetic else "MVTec-layout (real)"),
        ("backbone", "; ".join(weights) or "—"),
        ("seeds", ", ".join(map(str, seeds)) or "—"),
        ("cells", f"{ok} ok · {len(results.failed)} failed · {len(results.missing)} missing"),
    ]
    if started is not None and wall is not None:
        facts += [("run", f"{when(started)}, {wall:.0f} s")]
    return tuple(facts)


def run_info(results: Results) -> RunInfo:
    """The description of a run, from its manifest or (partial results) its records."""
    manifest = results.manifest
    if manifest is None:
        return _from_records(results)
    config = manifest["config"]
    backbones = tuple(
        _backbone(spec["label"], spec, manifest["weights"][spec["label"]])
        for spec in sorted(config["detectors"], key=lambda spec: spec["label"])
        if spec["label"] in manifest["weights"]
    )
    return RunInfo(
        study=manifest["study"],
        finished=True,
        facts=_facts(results, backbones, manifest["created"], manifest["wall_time_s"]),
        data=_data_rows(config, manifest["dataset"]),
        backbones=backbones,
        seeds=tuple(sorted(manifest["seeds"])),
        run=_run_rows(manifest),
        versions=tuple(sorted(manifest["versions"].items())),
    )


def _data_rows(config: dict[str, Any], dataset: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The dataset rows of the manifest: source, categories, shift, fingerprints, splits."""
    source = (
        "synthetic (generated, MVTec-like)" if dataset["synthetic"] else config["data"]["source"]
    )
    evaluation = config["evaluation"]
    return (
        ("source", source),
        ("root", dataset["root"]),
        ("categories", ", ".join(sorted(config["data"]["categories"]))),
        _severity_row(config["shift"]),
        *_conditions_row(config),
        ("fingerprint (clean)", dataset["fingerprint_clean"]),
        ("fingerprint (shift)", dataset["fingerprint_shift"] or "—"),
        ("splits", ", ".join(f"{k} = {v}" for k, v in sorted(config["splits"].items()))),
        ("thresholds", f"{evaluation['image_threshold']['strategy']} on val (image and pixel)"),
        ("bootstrap resamples", str(evaluation["bootstrap"])),
    )


def _severity_row(shift: dict[str, Any]) -> tuple[str, str]:
    """The shift's severity, named by its family: `MVTec-Shift severity` (the study's, as it
    always was), `ImageNet-C corruption severity` (each one the study evaluates: the
    corruption family has no mixed shift at the study's severity)."""
    family = shift.get("family", MVTEC_SHIFT)
    if family == MVTEC_SHIFT:
        return (f"{title(family)} severity", str(shift["severity"]))
    severities = shift.get("severities") or [shift["severity"]]
    return (f"{title(family)} severity", ", ".join(str(s) for s in severities))


def _conditions_row(config: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """MVTec AD 2's real conditions the study evaluated (`shift.conditions`, else the layout's
    default), beside the clean `regular` one; none on the other layouts."""
    if config["data"].get("layout") != "mvtec_ad2":
        return ()
    conditions = config["shift"].get("conditions", list(CONDITIONS))
    return (("real conditions", ", ".join(conditions) or "none (regular only)"),)


def _run_rows(manifest: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The run rows of the manifest: time, commit, platform, counts, shards."""
    counts = manifest["counts"]
    platform = ", ".join(f"{k} {v}" for k, v in sorted(manifest["platform"].items()) if v)
    passes = f"{counts['forward_passes']} for {counts['distinct_inputs']} distinct inputs"
    raw = counts.get("raw_image_passes") or {}  # detectors that read raw images, uncached
    return (
        ("started", when(manifest["created"])),
        ("wall time", f"{manifest['wall_time_s']:.1f} s"),
        ("git commit", manifest["git_commit"] or "—"),
        ("platform", platform),
        ("cells", f"{counts['cells_ok']} ok, {counts['cells_failed']} failed"),
        ("cells reused from an earlier run", str(counts["cells_cached"])),
        ("fits", f"{counts['fits']} ({counts['fits_cached']} reused)"),
        ("backbone forward passes", passes),
        *((f"raw images fed to {label} (uncached)", str(n)) for label, n in raw.items()),
        ("shards", ", ".join(manifest["shards"]) if manifest["shards"] else "—"),
    )


def _from_records(results: Results) -> RunInfo:
    first: dict[str, dict[str, Any]] = {}
    for cell in results.cells:
        first.setdefault(cell.key.group.label, cell.record)
    backbones = tuple(
        _backbone(label, record["config"]["detector"], record["provenance"]["weights"])
        for label, record in sorted(first.items())
    )
    records = list(first.values())
    provenance = records[0]["provenance"] if records else {}
    fingerprints = sorted({r["provenance"]["dataset_fingerprint"] for r in records})
    data = (
        (
            "source",
            "synthetic (generated, MVTec-like)" if results.synthetic else "MVTec-layout tree",
        ),
        ("categories", ", ".join(sorted({c.key.group.category for c in results.cells}))),
        ("fingerprint (clean)", ", ".join(fingerprints) or "—"),
    )
    run = (
        ("manifest", "absent: the run did not finish (or this is a shard); partial results"),
        ("git commit", provenance.get("git_commit") or "—"),
        ("cells", f"{sum(c.ok for c in results.cells)} ok, {len(results.failed)} failed"),
    )
    return RunInfo(
        study=results.study or results.source.name,
        finished=False,
        facts=_facts(results, backbones, None, None),
        data=data,
        backbones=backbones,
        seeds=tuple(sorted({c.key.seed for c in results.cells})),
        run=run,
        versions=tuple(sorted(provenance.get("versions", {}).items())),
    )
