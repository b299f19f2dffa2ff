"""Preparation: what every unit of a run shares (data, feature sources, device, provenance).

`context` builds the backbones and feature caches of a planned study on its device; the
estimate, the writers and the executors read it.
"""
