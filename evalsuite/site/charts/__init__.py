"""Stage 2 of the site, charts: how a chart is drawn. Altair builders take rows of plain
dicts and return a Vega-Lite spec (`specs`, `shortcut`), in the site's colours (`palette`).
Knows nothing of the records; the views feed it rows.
"""
