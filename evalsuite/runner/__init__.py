"""The runner: plan a study, run its units of work on an executor, write the results folder.

Layers, each importing only those above it: `plan` (fits, cells, units, keys) and `study_data`
(the datasets) → `context` (what a run shares) → `records`, `artifacts`, `scoring` → `fit_group`
(one unit of work) → `executors` (serial, pool, Dask behind one interface) → `run` (a study,
its manifest); `estimate` (the cost model) and `report` (`evalsuite plan`) read the plan.
"""

from evalsuite.runner.run import run_study

__all__ = ["run_study"]
