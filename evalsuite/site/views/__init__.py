"""Stage 3 of the site, views: the numbers each page shows, as view models computed from the
`Results` of the read stage and drawn with the chart builders: tables, statistics over seeds,
paired differences, sweeps, the shortcut views, heatmap galleries, figures, what was run.
Nothing here writes HTML or files.
"""
