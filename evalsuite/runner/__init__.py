"""The runner: plan a study, estimate its cost, run its units of work, write the results folder.

Stages, in the order of a run; each imports only from the stages before it:

- `planning`: the matrix expanded into fits, cells and units; the datasets and splits;
- `preparation`: the feature sources, device and provenance every unit shares;
- `estimate`: the cost model, its rates measured here, and `evalsuite plan`'s report;
- `guard`: the results folder locked, cleaned of leftovers, checked for reuse;
- `writing`: the records, strips, evidence, splits and manifest of the results folder;
- `execution`: one unit of work, the executors (serial, pool, Dask) and `run_study`.

`run_study` is imported on first use, so `evalsuite plan` can read the plan without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.runner.execution.run import run_study

__all__ = ["run_study"]


def __getattr__(name: str) -> Any:
    """Import `run_study` on first use (PEP 562)."""
    if name != "run_study":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from evalsuite.runner.execution.run import run_study

    return run_study
