"""The unified bank from per-category coresets against the exact unified fit: AUROC and cost.

`coreset_scope = "per_category"` is a change of method (an opt-in approximation): the unified
memory bank is the union of the three per-class coresets instead of one greedy coreset over the
pooled patches. This runs both on the demo preset's data (the synthetic dataset, bundled
ImageNet-trained EfficientNet-Lite0 weights, 128 px) in the unified scope, clean and shifted
test sets, and prints one line per measure:

  unified_fit_s_pooled / unified_fit_s_per_category
                        seconds of the two unified fits (features cached before), measured
  unified_<metric>_<condition>_<category>_delta
                        per_category - pooled, for image and pixel AUROC
  unified_image_auroc_max_abs_delta
                        the largest |delta| of image AUROC over categories and conditions

Usage: python benchmarks/unified_coresets.py [--n-train 60]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

CACHE = Path(".cache/bench-unified")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=None, help="train images per category")
    args = parser.parse_args()
    from evalsuite import progress, results
    from evalsuite.config import StudyConfig, preset
    from evalsuite.runner import run_study

    progress.set_enabled(False)
    raw = preset("demo")
    patchcore = next(d for d in raw["detectors"] if d["name"] == "patchcore")
    raw["detectors"] = [
        {**patchcore, "label": "pooled"},
        {
            **patchcore,
            "label": "per_category",
            "params": {**patchcore["params"], "coreset_scope": "per_category"},
        },
    ]
    raw.update(sweeps=[], scopes=["unified"], kinds=["clean/none", "shift/none"])
    if args.n_train is not None:
        raw.setdefault("data", {}).setdefault("synthetic", {})["n_train"] = args.n_train
    config = StudyConfig.model_validate(raw)
    with tempfile.TemporaryDirectory() as out:
        run_study(config, Path(out), cache_dir=CACHE, progress=False)
        records = [record for _, record in results.iter_cells(Path(out))]
    fit_s = {r["label"]: r["timing_s"]["fit"] for r in records if r["timing_s"]["fit"]}
    for label in ("pooled", "per_category"):
        _line(f"unified_fit_s_{label}", fit_s[label], "measured, whole unified fit")
    worst = 0.0
    by = {(r["label"], r["condition"], r["category"]): r for r in records}
    for (label, condition, category), record in sorted(by.items()):
        if label != "per_category":
            continue
        exact = by[("pooled", condition, category)]
        for metric in ("image_auroc", "pixel_auroc"):
            delta = _value(record, metric) - _value(exact, metric)
            if metric == "image_auroc":
                worst = max(worst, abs(delta))
            _line(
                f"unified_{metric}_{condition}_{category}_delta",
                delta,
                f"per_category {_value(record, metric):.4f} vs pooled {_value(exact, metric):.4f}",
            )
    _line("unified_image_auroc_max_abs_delta", worst, "over categories and conditions")
    print(json.dumps({"data": config.data.model_dump(mode="json")}, indent=None))


def _value(record: dict[str, Any], metric: str) -> float:
    return float(record["metrics"][metric]["value"])


def _line(name: str, value: float, note: str) -> None:
    print(f"{name}={value:.4g}  # {note}", flush=True)


if __name__ == "__main__":
    main()
