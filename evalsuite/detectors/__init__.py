"""Detectors: one protocol (fit / score), a registry, PatchCore (ours) and PaDiM (anomalib)."""
