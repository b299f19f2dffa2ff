"""The results format: records built from real `evaluate_cell` output validate and round-trip,
bad records and files fail loudly naming the field or file, paths follow the rules, manifests
are checked, and shard folders merge (or refuse to) as documented."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest

from evalsuite.errors import OutputError, ResultsError
from evalsuite.evaluation.cell import NO_MASKS, PIXEL_METRICS, evaluate_cell
from evalsuite.evaluation.shortcut import threshold_transfer
from evalsuite.evaluation.thresholds import ValScores, threshold_from_val
from evalsuite.results import (
    CELL_SCHEMA,
    MANIFEST_SCHEMA,
    artifact_relpath,
    cell_done,
    cell_path,
    cell_relpath,
    cell_state,
    fit_dir,
    iter_cells,
    merge,
    read_cell,
    read_manifest,
    record_digest,
    validate_manifest,
    write_cell,
    write_manifest,
)

Record = dict[str, Any]
HAZELNUT = PurePosixPath("patchcore/per_class/none/clean/hazelnut.json")
CARPET = PurePosixPath("patchcore/per_class/none/clean/carpet.json")
RECORD_KEYS = (
    *("schema", "id", "fit_id", "detector", "label", "scope", "regime", "condition", "category"),
    *("seed", "sweep", "config", "status", "error", "metrics", "threshold", "scores", "roc"),
    *("shortcut", "artifacts", "timing_s", "provenance"),
)


def _split(rng: np.random.Generator, n: int = 8, size: int = 16) -> tuple[np.ndarray, ...]:
    """Random maps with square defects in the second half, their masks, image scores, labels."""
    labels = np.repeat([0, 1], n // 2)
    masks = np.zeros((n, size, size), dtype=bool)
    for i in np.flatnonzero(labels):
        top, left = rng.integers(0, size - 4, 2)
        masks[i, top : top + 4, left : left + 4] = True
    maps = rng.random((n, size, size)) + masks * rng.uniform(0.3, 1.0)
    return maps, masks, maps.reshape(n, -1).max(axis=1), labels


def _evaluated(category: str, with_masks: bool = True) -> Record:
    """The outputs part of an ok record, from real thresholds and a real evaluate_cell call."""
    rng = np.random.default_rng(len(category))
    val_maps, val_masks, val_scores, val_labels = _split(rng)
    maps, masks, scores, labels = _split(rng)
    val = ValScores("val", val_scores, val_labels, val_maps, val_masks if with_masks else None)
    image_t = threshold_from_val(val, "f1")
    pixel_t = threshold_from_val(val, "quantile", level="pixel") if with_masks else None
    result = evaluate_cell(
        scores,
        labels,
        maps,
        masks if with_masks else None,
        image_threshold=image_t.value,
        pixel_threshold=None if pixel_t is None else pixel_t.value,
        bootstrap_n=20,
        seed=0,
        roc_max_points=20,
    )
    ids = [f"{category}/test/{'crack' if y else 'good'}/{i:03d}" for i, y in enumerate(labels)]
    return {
        "metrics": result["metrics"],
        "roc": result["roc"],
        "threshold": {
            "image": image_t.to_dict(),
            "pixel": None if pixel_t is None else pixel_t.to_dict(),
        },
        "scores": [
            {"id": i, "label": int(y), "defect": "crack" if y else "good", "score": float(s)}
            for i, y, s in zip(ids, labels, scores, strict=True)
        ],
    }


def _record(
    category: str = "hazelnut", cell_id: str = "0123456789abcdef", **changes: Any
) -> Record:
    relpath = cell_relpath("patchcore", "per_class", "none", "clean", category, None, None)
    top = f"{category}/test/crack/007"
    record: Record = {
        "schema": CELL_SCHEMA,
        "id": cell_id,
        "fit_id": "fedcba9876543210",
        "detector": "patchcore",
        "label": "patchcore",
        "scope": "per_class",
        "regime": "none",
        "condition": "clean",
        "category": category,
        "seed": 0,
        "sweep": None,
        "config": {"detector": {"name": "patchcore", "params": {"coreset_ratio": 0.1}}},
        "status": "ok",
        "error": None,
        "shortcut": None,
        "artifacts": [
            {
                "id": top,
                "kind": "top_defect",
                "path": str(artifact_relpath(relpath, top, "top_defect")),
            }
        ],
        "timing_s": {"fit": 1.5, "score": 0.25, "total": 1.75},
        "provenance": {
            "evalsuite": "0.1.0",
            "versions": {"torch": "2.14.1", "timm": "1.0.31"},
            "weights": {"source": "bundled", "path": "/w/lite0.pth", "sha256": "ab" * 32},
            "dataset_fingerprint": "5f1e0c",
            "synthetic": True,
            "git_commit": None,
            "code_version": "1",
        },
        **_evaluated(category),
    }
    record.update(changes)
    return record


def _failed(category: str = "carpet", cell_id: str = "00000000000000ff") -> Record:
    outputs = dict.fromkeys(("metrics", "threshold", "scores", "roc"))
    error = {"type": "EvaluationError", "message": "val holds no anomalous image"}
    return _record(category, cell_id, status="failed", error=error, artifacts=[], **outputs)


def _planned(*paths: PurePosixPath) -> list[Record]:
    """The manifest's `planned` entries of baseline PatchCore cells (per_class, seed 0)."""
    entries = []
    for path in paths:
        label, scope, regime, condition, _ = path.parts
        entry = {"path": str(path), "label": label, "scope": scope, "condition": condition}
        entries.append(entry | {"regime": regime, "category": path.stem, "sweep": None, "seed": 0})
    return entries


def _manifest(**changes: Any) -> Record:
    counts = dict.fromkeys(("cells_cached", "fits_cached", "cells_failed"), 0)
    counts.update(cells_total=1, cells_ok=1, fits=1, forward_passes=24, distinct_inputs=24)
    manifest: Record = {
        "schema": MANIFEST_SCHEMA,
        "study": "demo",
        "config": {"name": "demo", "seeds": [0]},
        "created": "2026-01-02T03:04:05+00:00",
        "wall_time_s": 12.5,
        "versions": {"torch": "2.14.1"},
        "git_commit": None,
        "platform": {"python": "3.11.9", "system": "Linux", "machine": "x86_64", "processor": ""},
        "seeds": [0],
        "weights": {
            "patchcore": {"source": "bundled", "path": "/w/lite0.pth", "sha256": "ab" * 32}
        },
        "dataset": {
            "fingerprint_clean": "5f",
            "fingerprint_shift": "6a",
            "synthetic": True,
            "root": "/d",
        },
        "counts": counts,
        "failed": [],
        "shards": None,
        "planned": _planned(HAZELNUT),
    }
    manifest.update(changes)
    return manifest


@pytest.fixture(scope="module")
def record() -> Record:
    return _record()


@pytest.fixture
def good(record: Record) -> Record:
    """A fresh copy of the realistic ok record, free to modify."""
    return copy.deepcopy(record)


def _set(record: Record, dotted: str, value: Any) -> None:
    """Set `a.b.0.c` inside a record (digits index lists)."""
    *parents, last = dotted.split("/")
    node: Any = record
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value


# --- cell records -----------------------------------------------------------------------------


def test_realistic_record_round_trips(tmp_path: Path, good: Record) -> None:
    path = write_cell(tmp_path, HAZELNUT, good)
    assert path == tmp_path / "cells" / HAZELNUT
    assert read_cell(path) == good == read_cell(path, verify=True)
    assert json.loads(path.read_text()) == good | {"digest": record_digest(good)}
    assert set(good["metrics"]) == {
        "image_auroc",
        "image_aupr",
        "image_f1",
        "image_precision",
        "image_recall",
        "image_fpr",
        *PIXEL_METRICS,
    }
    assert good["roc"]["image"]["thresholds"][0] is None  # evaluate_cell's (0, 0) point


def test_record_without_masks_validates(tmp_path: Path, good: Record) -> None:
    good.update(_evaluated("hazelnut", with_masks=False))
    assert good["metrics"]["pixel_auroc"] == {"value": None, "ci95": None, "reason": NO_MASKS}
    assert good["roc"]["pixel"] is None and good["threshold"]["pixel"] is None
    assert read_cell(write_cell(tmp_path, HAZELNUT, good)) == good


def test_unified_sweep_record_with_shortcut(tmp_path: Path, good: Record) -> None:
    scores = np.array([0.1, 0.2, 0.9]), np.array([0, 0, 1])
    transfer = threshold_transfer(
        {"hazelnut": scores, "carpet": scores}, {"hazelnut": 0.5, "carpet": 0.15}
    )
    good.update(
        scope="unified",
        seed=2,
        sweep={"param": "params.layers", "value": ["blocks.2", "blocks.4"]},
        shortcut={"threshold_transfer": transfer},
    )
    relpath = cell_relpath(
        "patchcore",
        "unified",
        "none",
        "clean",
        "hazelnut",
        ("params.layers", ("blocks.2", "blocks.4")),
        2,
    )
    assert read_cell(write_cell(tmp_path, relpath, good)) == good


def test_failed_record_needs_an_error(tmp_path: Path) -> None:
    failed = _failed("hazelnut", "0123456789abcdef")
    assert read_cell(write_cell(tmp_path, HAZELNUT, failed))["status"] == "failed"
    failed["error"] = None
    with pytest.raises(ResultsError, match=r"field `error`.*a failed record says what failed"):
        write_cell(tmp_path, HAZELNUT, failed)


@pytest.mark.parametrize("key", RECORD_KEYS)
def test_missing_field_is_named(tmp_path: Path, good: Record, key: str) -> None:
    del good[key]
    with pytest.raises(ResultsError, match=rf"field `{key}` is missing"):
        write_cell(tmp_path, HAZELNUT, good)
    assert not (tmp_path / "cells").exists()


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("seed", "0", "seed"),
        ("seed", True, "seed"),
        ("id", "NOT-HEX", "id"),
        ("detector", "Fast Flow!", "detector"),  # any registered name, but a name
        ("condition", "noisy", "condition"),
        ("sweep", {"param": "params.k"}, "sweep.value"),
        ("metrics/image_auroc/value", "high", "metrics.image_auroc.value"),
        ("metrics/aupro_0.3/ci95", [0.1], "metrics.aupro_0.3.ci95"),
        (
            "metrics/image_aupr",
            {"value": None, "ci95": None, "reason": None},
            "metrics.image_aupr.reason",
        ),
        ("metrics/image_f1/value", float("nan"), "metrics.image_f1.value"),
        ("threshold/image/split", "test", "threshold.image.split"),
        ("threshold/image/level", "pixel", "threshold.image.level"),
        ("scores/0/label", 2, "scores[0].label"),
        ("scores/1/score", None, "scores[1].score"),
        ("roc/image/fpr/1", 1.5, "roc.image.fpr[1]"),
        ("artifacts/0/path", "artifacts/../../etc/x.png", "artifacts[0].path"),
        ("artifacts/0/kind", "best", "artifacts[0].kind"),
        ("timing_s/fit", -1.0, "timing_s.fit"),
        ("shortcut", {"bins": [np.int64(3)]}, "shortcut.bins[0]"),
        ("scores/2/score", np.float32(0.5), "scores[2].score"),
        ("provenance/weights/sha256", "abc", "provenance.weights.sha256"),
        ("provenance/synthetic", "yes", "provenance.synthetic"),
        ("metrics", None, "metrics"),
        ("error", {"type": "X", "message": "an ok record has no error"}, "error"),
        ("extra", 1, "(top level)"),
    ],
)
def test_bad_field_is_named(
    tmp_path: Path, good: Record, field: str, value: Any, named: str
) -> None:
    _set(good, field, value)
    with pytest.raises(ResultsError, match=re.escape(f"field `{named}`")):
        write_cell(tmp_path, HAZELNUT, good)
    assert not (tmp_path / "cells").exists()


def test_ok_record_without_outputs_says_why(tmp_path: Path, good: Record) -> None:
    good["roc"] = None
    with pytest.raises(
        ResultsError,
        match=r"field `roc`: None is not of type 'object' \(an ok record has its ROC curves\)",
    ):
        write_cell(tmp_path, HAZELNUT, good)


def test_record_at_the_wrong_path_is_refused(tmp_path: Path, good: Record) -> None:
    with pytest.raises(
        ResultsError, match=r"belongs at patchcore/per_class/none/clean/hazelnut.json"
    ):
        write_cell(tmp_path, CARPET, good)
    with_seed = cell_relpath("patchcore", "per_class", "none", "clean", "hazelnut", None, 0)
    assert write_cell(tmp_path, with_seed, good).name == "hazelnut__seed0.json"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"schema": "evalsuite.cell/1", "id": ', "is not valid JSON"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"schema": "evalsuite.cell/0"}', "has schema 'evalsuite.cell/0'"),
        ('{"schema": "evalsuite.cell/1"}', "field `id` is missing"),
        ('{"value": NaN}', "NaN is not a JSON number"),
        ("", "is not valid JSON"),
    ],
)
def test_corrupt_file_names_the_file_and_the_fix(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "cells" / HAZELNUT
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ResultsError) as caught:
        read_cell(path)
    message = str(caught.value)
    assert str(path) in message and problem in message
    assert message.endswith("delete it and rerun `evalsuite run` to recompute it")


def test_corrupt_value_in_a_written_file(tmp_path: Path, good: Record) -> None:
    path = write_cell(tmp_path, HAZELNUT, good)
    data = json.loads(path.read_text())
    data["scores"][3]["label"] = "1"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=r"hazelnut.json is invalid: field `scores\[3\].label`"):
        read_cell(path)


def test_cell_state_and_done(tmp_path: Path, good: Record) -> None:
    cell_id = good["id"]
    assert cell_state(tmp_path, HAZELNUT, cell_id) == "missing"
    write_cell(tmp_path, HAZELNUT, good)
    assert cell_state(tmp_path, HAZELNUT, cell_id) == "done" and cell_done(
        tmp_path, HAZELNUT, cell_id
    )
    assert cell_state(tmp_path, HAZELNUT, "ffffffffffffffff") == "stale"
    assert not cell_done(tmp_path, HAZELNUT, "ffffffffffffffff")
    write_cell(tmp_path, HAZELNUT, _failed("hazelnut", cell_id))
    assert cell_state(tmp_path, HAZELNUT, cell_id) == "failed" and not cell_done(
        tmp_path, HAZELNUT, cell_id
    )
    cell_path(tmp_path, HAZELNUT).write_text('{"schema": "evalsuite.cell/1", "id": "01')
    assert cell_state(tmp_path, HAZELNUT, cell_id) == "corrupt" and not cell_done(
        tmp_path, HAZELNUT, cell_id
    )


def test_iter_cells_sorted_and_loud_on_corrupt_files(tmp_path: Path, good: Record) -> None:
    write_cell(tmp_path, HAZELNUT, good)
    write_cell(tmp_path, CARPET, _failed())
    (tmp_path / "cells" / ".carpet.json.x1.tmp").write_text("{")  # an interrupted write
    found = list(iter_cells(tmp_path))
    assert [(p, r["category"]) for p, r in found] == [(CARPET, "carpet"), (HAZELNUT, "hazelnut")]
    cell_path(tmp_path, CARPET).write_text("not json")
    with pytest.raises(ResultsError, match=re.escape("carpet.json is not valid JSON")):
        list(iter_cells(tmp_path))
    with pytest.raises(ResultsError, match="does not exist"):
        list(iter_cells(tmp_path / "absent"))


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sweep", "seed", "name"),
    [
        (None, None, "hazelnut.json"),
        (None, 3, "hazelnut__seed3.json"),
        (("params.coreset_ratio", 0.1), None, "hazelnut__params.coreset_ratio=0.1.json"),
        (
            ("params.coreset_ratio", np.float64(0.1)),
            None,
            "hazelnut__params.coreset_ratio=0.1.json",
        ),
        (("params.coreset_ratio", 1e-05), 0, "hazelnut__params.coreset_ratio=1e-05__seed0.json"),
        (("params.k", 9), None, "hazelnut__params.k=9.json"),
        (
            ("params.layers", ["blocks.2", "blocks.4"]),
            None,
            "hazelnut__params.layers=blocks.2+blocks.4.json",
        ),
        (
            ("params.layers", ("blocks.2", "blocks.4")),
            1,
            "hazelnut__params.layers=blocks.2+blocks.4__seed1.json",
        ),
        (("params.whiten", True), None, "hazelnut__params.whiten=true.json"),
        (
            ("backbone name", "wide_resnet50_2.tv/in1k"),
            None,
            "hazelnut__backbone-name=wide_resnet50_2.tv-in1k.json",
        ),
        (
            ("params.sizes", {"b": 2, "a": [1, 0.5]}),
            None,
            "hazelnut__params.sizes=a=1+0.5+b=2.json",
        ),
    ],
)
def test_cell_relpath(sweep: tuple[str, Any] | None, seed: int | None, name: str) -> None:
    relpath = cell_relpath("padim_r18", "per_class", "retrain", "shift", "hazelnut", sweep, seed)
    assert relpath == PurePosixPath("padim_r18/per_class/retrain/shift") / name
    assert (
        cell_relpath("padim_r18", "per_class", "retrain", "shift", "hazelnut", sweep, seed)
        == relpath
    )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("patchcore", "global", "none", "clean", "hazelnut"), "unknown scope 'global'"),
        (("patchcore", "unified", "none", "foggy", "hazelnut"), "unknown condition 'foggy'"),
        (("patchcore", "unified", "both", "clean", "hazelnut"), "unknown regime 'both'"),
        (("patchcore", "unified", "none", "clean", "../etc"), "category '../etc' cannot name"),
        (("Patch Core", "unified", "none", "clean", "hazelnut"), "label 'Patch Core' cannot name"),
    ],
)
def test_cell_relpath_refuses_bad_fields(args: tuple[str, ...], problem: str) -> None:
    with pytest.raises(ResultsError, match=problem):
        cell_relpath(*args, sweep=None, seed=None)  # type: ignore[misc]
    with pytest.raises(ResultsError, match="seed -1"):
        cell_relpath("patchcore", "unified", "none", "clean", "hazelnut", None, -1)


def test_artifact_and_fit_paths(tmp_path: Path) -> None:
    relpath = cell_relpath("patchcore", "per_class", "none", "shift", "zipper", ("params.k", 3), 1)
    path = artifact_relpath(relpath, "zipper/test/broken teeth/004", "miss")
    assert path == PurePosixPath(
        "artifacts/patchcore/per_class/none/shift/zipper__params.k=3__seed1/miss/"
        "zipper__test__broken-teeth__004.png"
    )
    with pytest.raises(ResultsError, match="unknown artifact kind 'best'"):
        artifact_relpath(relpath, "zipper/test/good/000", "best")
    assert fit_dir(tmp_path, "0123456789abcdef") == tmp_path / "fits" / "0123456789abcdef"
    with pytest.raises(ResultsError, match="not a hex content key"):
        fit_dir(tmp_path, "../x")
    with pytest.raises(ResultsError, match="not a relative path"):
        cell_path(tmp_path, PurePosixPath("../outside.json"))


# --- manifest ---------------------------------------------------------------------------------


def test_manifest_round_trips(tmp_path: Path) -> None:
    manifest = _manifest()
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"created": "2026-01-02T03:04:05"}, "field `created`.*no UTC offset"),
        ({"created": "yesterday"}, "field `created`"),
        ({"seeds": []}, "field `seeds`"),
        ({"shards": ["1-2"]}, r"field `shards\[0\]`"),
        ({"shards": ["3/2"]}, "shard '3/2' has index above its total"),
        (
            {"failed": [{"path": "a.json", "error": {"message": "boom"}}]},
            r"field `failed\[0\].error`",
        ),
        ({"failed": [{"path": "/etc/a.json", "error": "boom"}]}, r"field `failed\[0\].path`"),
        ({"counts": {"cells_total": 2}}, "field `counts.cells_ok` is missing"),
        ({"wall_time_s": -1}, "field `wall_time_s`"),
        (
            {"weights": {"patchcore": {"source": "cdn", "path": None, "sha256": None}}},
            "field `weights.patchcore.source`",
        ),
    ],
)
def test_manifest_problems_are_named(changes: Record, problem: str) -> None:
    with pytest.raises(ResultsError, match=problem):
        validate_manifest(_manifest(**changes))


def test_manifest_counts_must_agree() -> None:
    counts = _manifest()["counts"] | {"cells_total": 3, "cells_failed": 1}
    with pytest.raises(ResultsError, match="cells_ok \\+ cells_failed = 2, not cells_total 3"):
        validate_manifest(_manifest(counts=counts))
    with pytest.raises(
        ResultsError, match=re.escape("field `failed`: 0 entries, but counts.cells_failed is 1")
    ):
        validate_manifest(_manifest(counts=counts | {"cells_ok": 2}))
    with pytest.raises(ResultsError, match="cells_cached`: 5 exceeds cells_total"):
        validate_manifest(_manifest(counts=_manifest()["counts"] | {"cells_cached": 5}))


def test_read_manifest_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=re.escape("manifest.json does not exist")):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"schema": "evalsuite.cell/1"}')
    with pytest.raises(ResultsError, match=re.escape("is not a 'evalsuite.manifest/1' manifest")):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(ResultsError, match=re.escape("manifest.json cannot be read as JSON")):
        read_manifest(tmp_path)


# --- merge ------------------------------------------------------------------------------------


def _shard(
    root: Path, shard: str | None, cells: list[tuple[PurePosixPath, Record]], **changes: Any
) -> Path:
    """A results folder holding `cells`, an artifact per ok cell, and a consistent manifest."""
    failed = [
        {"path": str(relpath), "error": record["error"]["message"]}
        for relpath, record in cells
        if record["status"] == "failed"
    ]
    for relpath, record in cells:
        write_cell(root, relpath, record)
        for artifact in record["artifacts"]:
            (root / artifact["path"]).parent.mkdir(parents=True, exist_ok=True)
            (root / artifact["path"]).write_bytes(f"png of {record['id']}".encode())
    counts = _manifest()["counts"] | {
        "cells_total": len(cells),
        "cells_ok": len(cells) - len(failed),
        "cells_failed": len(failed),
    }
    write_manifest(
        root,
        _manifest(
            counts=counts, failed=failed, shards=None if shard is None else [shard], **changes
        ),
    )
    return root


def test_merge_disjoint_shards(tmp_path: Path, good: Record) -> None:
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    b = _shard(
        tmp_path / "b",
        "2/2",
        [(CARPET, _failed())],
        created="2026-01-02T03:04:00+00:00",
        wall_time_s=30.0,
    )
    report = merge([b, a], tmp_path / "merged")
    assert (report.sources, report.cells, report.duplicates, report.artifacts) == (2, 2, 0, 1)
    assert report.shards == ("1/2", "2/2") and report.mixed == ()
    out = tmp_path / "merged"
    assert dict(iter_cells(out)) == {HAZELNUT: good, CARPET: _failed()}
    assert cell_path(out, HAZELNUT).read_bytes() == cell_path(a, HAZELNUT).read_bytes()
    artifact = good["artifacts"][0]["path"]
    assert (out / artifact).read_bytes() == (a / artifact).read_bytes()
    manifest = read_manifest(out)
    assert manifest["counts"] == {
        "cells_total": 2,
        "cells_ok": 1,
        "cells_failed": 1,
        "cells_cached": 0,
        "fits": 2,
        "fits_cached": 0,
        "forward_passes": 48,
        "distinct_inputs": 48,
    }
    assert manifest["failed"] == [{"path": str(CARPET), "error": _failed()["error"]["message"]}]
    assert manifest["shards"] == ["1/2", "2/2"]
    assert manifest["created"] == "2026-01-02T03:04:00+00:00"
    assert manifest["wall_time_s"] == 30.0  # b: 03:04:00 + 30 s ends after a: 03:04:05 + 12.5 s


def test_merge_identical_duplicate_is_kept_once(tmp_path: Path, good: Record) -> None:
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    slower = good | {"timing_s": {"fit": 9.0, "score": 1.0, "total": 10.0}}
    b = _shard(
        tmp_path / "b", "2/2", [(HAZELNUT, slower), (CARPET, _failed())], versions={"torch": "2.15"}
    )
    report = merge([a, b], tmp_path / "merged")
    assert (report.cells, report.duplicates, report.mixed) == (2, 1, ("versions",))
    assert read_cell(cell_path(tmp_path / "merged", HAZELNUT)) == good  # the first source wins


@pytest.mark.parametrize("what", ["id", "metric"])
def test_merge_conflict_writes_nothing(tmp_path: Path, good: Record, what: str) -> None:
    other = copy.deepcopy(good)
    if what == "id":
        other["id"] = "ffffffffffffffff"
        expected = "id 0123456789abcdef.*vs.*id ffffffffffffffff"
    else:
        other["metrics"]["image_auroc"]["value"] = 0.5
        expected = "different status or different metric values"
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    b = _shard(tmp_path / "b", "2/2", [(CARPET, _failed()), (HAZELNUT, other)])
    with pytest.raises(ResultsError, match=expected) as caught:
        merge([a, b], tmp_path / "merged")
    assert str(cell_path(a, HAZELNUT)) in str(caught.value)
    assert str(cell_path(b, HAZELNUT)) in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert not (tmp_path / "merged").exists()


def test_merge_refuses_different_studies_and_repeated_shards(tmp_path: Path, good: Record) -> None:
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    b = _shard(tmp_path / "b", "1/2", [(CARPET, _failed())], config={"name": "demo", "seeds": [1]})
    with pytest.raises(ResultsError) as caught:
        merge([a, b], tmp_path / "merged")
    assert "`config` differs between" in str(caught.value)
    assert "shard 1/2 is in both" in str(caught.value)
    assert not (tmp_path / "merged").exists()
    with pytest.raises(OutputError, match="is also the results folder"):
        merge([a, b], a)
    with pytest.raises(ResultsError, match="already holds results"):
        merge([b], a)


def test_merge_detects_a_tampered_record(tmp_path: Path, good: Record) -> None:
    """A metric edited after the record was written fails the digest check, naming the file."""
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    b = _shard(tmp_path / "b", "2/2", [(CARPET, _failed())])
    path = cell_path(a, HAZELNUT)
    data = json.loads(path.read_text())
    data["metrics"]["image_auroc"]["value"] = 0.99
    path.write_text(json.dumps(data))
    assert read_cell(path)["metrics"]["image_auroc"]["value"] == 0.99  # plain reads still work
    with pytest.raises(ResultsError, match=re.escape(f"{path} does not match its content digest")):
        merge([a, b], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()
    del data["digest"]
    data["metrics"]["image_auroc"]["value"] = good["metrics"]["image_auroc"]["value"]
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="has no content digest"):
        merge([a, b], tmp_path / "merged")


def test_merge_counts_each_cell_once_and_lists_the_missing(tmp_path: Path, good: Record) -> None:
    """A cell present in two shards (and in both manifests) is one cell in the merged counts;
    planned cells that no shard holds are listed; the merged folder is still written."""
    zipper = PurePosixPath("patchcore/per_class/none/clean/zipper.json")
    planned = _planned(HAZELNUT, CARPET, zipper)
    a = _shard(tmp_path / "a", "1/3", [(HAZELNUT, good), (CARPET, _failed())], planned=planned)
    b = _shard(tmp_path / "b", "2/3", [(HAZELNUT, good)], planned=planned)
    report = merge([a, b], tmp_path / "merged")
    assert (report.cells, report.duplicates, report.missing) == (2, 1, (zipper,))
    merged = read_manifest(tmp_path / "merged")
    counts = merged["counts"]
    assert (counts["cells_total"], counts["cells_ok"], counts["cells_failed"]) == (2, 1, 1)
    assert merged["planned"] == planned  # the whole study's plan, kept for the site
    assert merge([b], tmp_path / "other").missing == (CARPET, zipper)


def test_merge_refuses_shards_that_plan_different_cells(tmp_path: Path, good: Record) -> None:
    """Shards whose manifests list different planned cells are not one study: a conflict named
    like the other manifest conflicts, and nothing is written."""
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)], planned=_planned(HAZELNUT, CARPET))
    b = _shard(tmp_path / "b", "2/2", [(CARPET, _failed())], planned=_planned(HAZELNUT))
    with pytest.raises(ResultsError, match="`planned` differs between") as caught:
        merge([a, b], tmp_path / "merged")
    assert str(a / "manifest.json") in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert not (tmp_path / "merged").exists()


def test_a_manifest_without_planned_cells_is_read_but_not_merged(
    tmp_path: Path, good: Record
) -> None:
    """A manifest written before `planned` existed (an earlier evalsuite: last night's baseline)
    still reads, so `diff` and `site --baseline` work across the upgrade; `merge`, which must
    list the missing cells, refuses it naming the field and what to do."""
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    manifest = json.loads((a / "manifest.json").read_text())
    del manifest["planned"]
    (a / "manifest.json").write_text(json.dumps(manifest))
    assert "planned" not in read_manifest(a)
    from evalsuite.site.read.load import load_results

    assert load_results(a).missing == ()  # the site lists no missing cell: it cannot know them
    with pytest.raises(
        ResultsError, match=r"has no `planned`.*rerun `evalsuite run` for that shard"
    ):
        merge([a], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_merge_refuses_an_out_that_is_a_file(tmp_path: Path, good: Record) -> None:
    a = _shard(tmp_path / "a", "1/2", [(HAZELNUT, good)])
    target = tmp_path / "merged.json"
    target.write_text("{}")
    with pytest.raises(ResultsError, match="is a file, not a folder") as caught:
        merge([a], target)
    assert caught.value.exit_code == 2 and target.read_text() == "{}"
