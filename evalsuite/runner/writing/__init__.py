"""Writing the results folder: every file a run leaves, each written atomically.

`records` the cell records, `artifacts` the heatmap strips, `evidence` the pixel evidence,
`splits_file` the splits of each seed, `manifest` the run's manifest.
"""
