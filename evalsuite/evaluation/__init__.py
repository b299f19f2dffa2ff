"""The science of the study: metrics, bootstrap intervals, thresholds, regimes, shortcut matrices.

Pure functions on numpy arrays; no I/O, no torch. Modules:

- `metrics`: image/pixel AUROC, AUPR, thresholded metrics, pixel F1, ROC points (+ `aupro`);
- `pro`: AU-PRO as in MVTec AD's reference evaluation;
- `curves`: the sort-based threshold sweep all ranking metrics share;
- `bootstrap`, `pixel_bootstrap`: stratified percentile intervals (fast paths for pixel metrics);
- `paired`, `pixel_evidence`: paired bootstrap differences between two cells (interval, p-value,
  Holm) and the per-image pixel statistics they need;
- `thresholds`: the `f1`, `quantile` and `mean_std` strategies, from val data only;
- `regimes`: which condition a cell fits, thresholds and tests on;
- `shortcut`: threshold transfer, nearest-neighbour provenance, score distributions (unified);
- `cell`: `evaluate_cell`, the JSON-ready metrics of one cell (AU-PRO at each configured limit);
- `protocols`: the evaluation defaults of each dataset layout (MVTec AD 2: `mean_std`).
"""
