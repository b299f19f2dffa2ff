"""Datasets: MVTec-layout trees, the synthetic generator, MVTec-Shift, splits, download."""
