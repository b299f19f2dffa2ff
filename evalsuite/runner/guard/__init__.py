"""Guarding the results folder before a run writes to it.

`lock` allows one run per folder; `leftovers` removes what an interrupted run left half
written; `reuse` refuses records of another configuration.
"""
