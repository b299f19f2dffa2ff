"""What `evalsuite plan` shows: the fits, the cells they serve, and what is cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite import results
from evalsuite.config import StudyConfig
from evalsuite.fit_runner import FIT_DONE, RunContext, relpath_of
from evalsuite.runner import prepare
from evalsuite.study_data import default_cache_dir


def plan_report(config: StudyConfig, out: Path | None, cache_dir: Path | None) -> dict[str, Any]:
    """The plan as JSON-ready data, with cache status against the results folder `out`."""
    data, sources, plan = prepare(config, cache_dir or default_cache_dir(), progress=False)
    context = RunContext(
        config, data, out or Path("."), sources, {}, multi_seed=len(config.seeds) > 1
    )
    fits: list[dict[str, Any]] = []
    for fit in plan.fits:
        cells = []
        for cell in plan.cells_of(fit):
            path = relpath_of(context, cell)
            cached = out is not None and results.cell_done(out, path, cell.id)
            cells.append({"id": cell.id, "path": str(path), "cached": cached})
        cached_fit = out is not None and (results.fit_dir(out, fit.id) / FIT_DONE).is_file()
        fits.append(
            {
                "id": fit.id,
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
    return {
        "study": config.name,
        "fits": fits,
        "counts": {
            "fits": len(fits),
            "fits_cached": sum(f["cached"] for f in fits),
            "cells": sum(len(f["cells"]) for f in fits),
            "cells_cached": sum(c["cached"] for f in fits for c in f["cells"]),
        },
    }
