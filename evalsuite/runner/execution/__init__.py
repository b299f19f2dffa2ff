"""Execution: running a study's units of work and writing what they produce.

`scoring` scores and evaluates a fit's cells; `fit_group` runs one unit (a family of fits
and their cells); `workers` and `scheduler` look after worker processes and a Dask
scheduler; `executors` run units serially, on a local pool or on Dask; `run` runs a study.
"""
