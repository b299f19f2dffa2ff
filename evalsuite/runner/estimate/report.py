"""What `evalsuite plan` shows: the units, fits and cells, what is cached, and (with
`--estimate`) what the run will cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite import results
from evalsuite.config import StudyConfig
from evalsuite.data.shift_family import MVTEC_SHIFT, REAL
from evalsuite.detectors.registry import reads_images
from evalsuite.results.paths import FIT_DONE
from evalsuite.runner.planning.plan import planned_relpath
from evalsuite.runner.planning.study import study_plan
from evalsuite.runner.planning.study_data import default_cache_dir
from evalsuite.runner.planning.variants import REAL_SEVERITY


def plan_report(
    config: StudyConfig,
    out: Path | None,
    cache_dir: Path | None,
    *,
    with_estimate: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """The plan as JSON-ready data, with cache status against the results folder `out`, and
    with `with_estimate` the projected cost on `workers` processes at rates measured here
    (a detector without a cost model timed on a sample of the run's inputs: `estimate.sample`).

    Without `with_estimate` no model library is imported where the weights are on this
    machine and it has no GPU driver (see `runner.planning.study`)."""
    cache = cache_dir or default_cache_dir()
    data, plan, device = study_plan(config, cache, workers)
    multi_seed = len(config.seeds) > 1
    fits: list[dict[str, Any]] = []
    for fit in plan.fits:
        cells = []
        for cell in plan.cells_of(fit):
            path = planned_relpath(cell, multi_seed)
            cached = out is not None and results.cell_done(out, path, cell.id)
            cells.append({"id": cell.id, "path": str(path), "cached": cached})
        cached_fit = out is not None and (results.fit_dir(out, fit.id) / FIT_DONE).is_file()
        fits.append(
            {
                "id": fit.id,
                "unit": fit.family,
                "label": fit.variant.spec.label,
                "scope": fit.scope,
                "condition": fit.condition,
                "categories": list(fit.categories),
                "seed": fit.seed,
                "sweep": list(fit.variant.sweep) if fit.variant.sweep else None,
                "cached": cached_fit,
                "cells": cells,
            }
        )
    report: dict[str, Any] = {
        "study": config.name,
        "device": device,
        "fits": fits,
        "counts": {
            "units": len(plan.units),
            "fits": len(fits),
            "fits_cached": sum(f["cached"] for f in fits),
            "cells": sum(len(f["cells"]) for f in fits),
            "cells_cached": sum(c["cached"] for f in fits for c in f["cells"]),
        },
    }
    raw = [spec.label for spec in config.detectors if reads_images(spec.ref)]
    if raw:  # a study whose detectors all read features: the report as before
        report["raw_images"] = raw
    if with_estimate:
        from evalsuite.backbone.device import resolve_device
        from evalsuite.runner.estimate.measure import measure_rates
        from evalsuite.runner.estimate.model import estimate, input_paths, plan_kernels
        from evalsuite.runner.estimate.sample import sample_unpriced
        from evalsuite.runner.preparation.context import feature_sources

        chosen = resolve_device(config.device)
        sources = feature_sources(config, cache, chosen)
        inputs = input_paths(plan, data)
        rates = measure_rates(sources, device=chosen, kernels=plan_kernels(plan), inputs=inputs)
        sampled = sample_unpriced(plan, data, sources, chosen)
        bootstrap = config.evaluation.bootstrap
        projected = estimate(plan, data, sources, rates, workers, bootstrap, sampled)
        report["estimate"] = projected.to_dict()
        report["estimate"]["data_preparation"] = dict(data.preparation)
        if config.shift.family != MVTEC_SHIFT:  # the preparation line names its trees
            report["estimate"]["shift_family"] = config.shift.family
        real = {  # MVTec AD 2's real conditions: test images read from the tree, no copy
            condition: len(data.factored[(REAL, REAL_SEVERITY, condition)].samples)
            for condition in config.real_conditions
        }
        if real:
            report["estimate"]["real_conditions"] = real
    return report
