"""Each opt-in approximation against the exact method, on the demo preset's data: AUROC and cost.

The demo's data (the synthetic dataset at 128 px, bundled ImageNet-trained EfficientNet-Lite0
weights) and its PatchCore settings, per_class and unified scopes, clean and shifted test sets.
Variants, each a detector label of one run (the feature cache and fits are shared where
possible), and a second run for the study-level float16 cache:

  hnsw          params.search = "hnsw" (faiss HNSW, M 32, efSearch 64)
  bf16          backbone.precision = "bfloat16"
  per_category  params.coreset_scope = "per_category" (only the unified fits change)
  float16_cache feature_cache_storage = "float16"

Printed, one line per measure:
  approx_<variant>_image_auroc_max_abs_delta   max |AUROC_variant - AUROC_exact| over cells
  approx_<variant>_pixel_auroc_max_abs_delta   the same for pixel AUROC
  approx_<variant>_image_score_max_rel_delta   max |s_variant - s_exact| / |s_exact| over images
  approx_<variant>_fit_s / approx_exact_fit_s  fit seconds summed over the variant's fits
  approx_per_category_unified_image_auroc_delta_<condition>_<category>  signed, per cell

Usage: python benchmarks/approximations.py
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE = Path(".cache/bench-approximations")
VARIANTS = {
    "hnsw": {"params": {"search": "hnsw"}},
    "bf16": {"backbone": {"precision": "bfloat16"}},
    "per_category": {"params": {"coreset_scope": "per_category"}},
}


def main() -> None:
    from evalsuite import progress

    progress.set_enabled(False)
    exact, variants = _run_variants()
    float16 = _run_float16()
    records = {**variants, "float16_cache": float16}
    _line("approx_exact_fit_s", _fit_s(exact), "measured, fits summed")
    for name, cells in records.items():
        pairs = [(cells[key], exact[key]) for key in sorted(cells)]
        changed = [(a, b) for a, b in pairs if name != "per_category" or a["scope"] == "unified"]
        for metric in ("image_auroc", "pixel_auroc"):
            worst = max(abs(_value(a, metric) - _value(b, metric)) for a, b in changed)
            _line(f"approx_{name}_{metric}_max_abs_delta", worst, f"over {len(changed)} cells")
        _line(
            f"approx_{name}_image_score_max_rel_delta",
            max(_score_delta(a, b) for a, b in changed),
            "over every test image of those cells",
        )
        _line(f"approx_{name}_fit_s", _fit_s(cells), "measured, fits summed")
    for key, record in sorted(variants["per_category"].items()):
        if record["scope"] == "unified":
            delta = _value(record, "image_auroc") - _value(exact[key], "image_auroc")
            _line(
                f"approx_per_category_unified_image_auroc_delta_{key[1]}_{key[2]}",
                delta,
                f"{_value(record, 'image_auroc'):.4f} vs exact "
                f"{_value(exact[key], 'image_auroc'):.4f} (95% interval of exact "
                f"{_interval(exact[key])})",
            )


Key = tuple[str, str, str]


def _base() -> dict[str, Any]:
    from evalsuite.config import preset

    raw = preset("demo")
    patchcore = next(d for d in raw["detectors"] if d["name"] == "patchcore")
    raw.update(sweeps=[], scopes=["per_class", "unified"], kinds=["clean/none", "shift/none"])
    raw["detectors"] = [{**patchcore, "label": "exact"}]
    return raw


def _run_variants() -> tuple[dict[Key, Any], dict[str, dict[Key, Any]]]:
    raw = _base()
    exact = raw["detectors"][0]
    for name, change in VARIANTS.items():
        raw["detectors"].append(
            {
                **exact,
                "label": name,
                "params": {**exact["params"], **change.get("params", {})},
                "backbone": {**exact["backbone"], **change.get("backbone", {})},
            }
        )
    by_label = _by_label(_run(raw))
    return by_label.pop("exact"), by_label


def _run_float16() -> dict[Key, Any]:
    raw = _base()
    raw["feature_cache_storage"] = "float16"
    return _by_label(_run(raw))["exact"]


def _run(raw: dict[str, Any]) -> list[dict[str, Any]]:
    from evalsuite import results
    from evalsuite.config import StudyConfig
    from evalsuite.runner import run_study

    config = StudyConfig.model_validate(raw)
    with tempfile.TemporaryDirectory() as out:
        run_study(config, Path(out), cache_dir=CACHE, progress=False)
        return [record for _, record in results.iter_cells(Path(out))]


def _by_label(records: Iterable[dict[str, Any]]) -> dict[str, dict[Key, Any]]:
    grouped: dict[str, dict[Key, Any]] = {}
    for r in records:
        assert r["status"] == "ok", r["error"]
        grouped.setdefault(r["label"], {})[(r["scope"], r["condition"], r["category"])] = r
    return grouped


def _value(record: dict[str, Any], metric: str) -> float:
    return float(record["metrics"][metric]["value"])


def _interval(record: dict[str, Any]) -> str:
    low, high = record["metrics"]["image_auroc"]["ci95"]
    return f"{low:.3f}-{high:.3f}"


def _score_delta(a: dict[str, Any], b: dict[str, Any]) -> float:
    exact = {s["id"]: s["score"] for s in b["scores"]}
    return max(abs(s["score"] - exact[s["id"]]) / abs(exact[s["id"]]) for s in a["scores"])


def _fit_s(cells: dict[Key, Any]) -> float:
    return sum({r["fit_id"]: r["timing_s"]["fit"] for r in cells.values()}.values())


def _line(name: str, value: float, note: str) -> None:
    print(f"{name}={value:.4g}  # {note}", flush=True)


if __name__ == "__main__":
    main()
