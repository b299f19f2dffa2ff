"""The runner: plan a study, run its units of work on an executor, write the results folder.

Layers, each importing only those above it: `plan` (fits, cells, units, keys) and `study_data`
(the datasets) → `context` (what a run shares) → `records`, `artifacts`, `scoring` → `fit_group`
(one unit of work) → `executors` (serial, pool, Dask behind one interface) → `run` (a study,
its manifest); `estimate` (the cost model) and `report` (`evalsuite plan`) read the plan.
`run_study` is imported on first use, so `evalsuite plan` can read the plan without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.runner.run import run_study

__all__ = ["run_study"]


def __getattr__(name: str) -> Any:
    """Import `run_study` on first use (PEP 562)."""
    if name != "run_study":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from evalsuite.runner.run import run_study

    return run_study
