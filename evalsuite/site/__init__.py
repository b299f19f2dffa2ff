"""The static results site: a pure function of a results folder, built in stages.

`build_site(results_dir, out)` takes a results folder through the stages below, each a
sub-package that imports only from the stages before it (and from the shared leaf
`catalogue`; `tests/site/test_site_layers.py` checks the order):

1. `read`: load the records into typed `Results` (`evalsuite.results`), anonymise them
   (`--anonymous`), the published anchors.
2. `charts`: how a chart is drawn: Altair builders (rows in, Vega-Lite spec out) and the
   palette; nothing of the records.
3. `views`: the numbers each page shows, as view models: tables, seed statistics, paired
   differences, sweeps, the shortcut views, heatmap galleries, figures, what was run.
4. `pages`: one `Page` per HTML file, rendered with the Jinja templates of `templates/`,
   the vendored assets, the links between pages, the Changes page.
5. `downloads`: the files beside the pages: CSV, LaTeX, exported figures, paired
   differences, the shipped records, the zip bundle.
6. `build`: assemble every file, check an anonymous build for leaks, and swap the site in.

It never imports torch, faiss or anomalib.
"""

from evalsuite.site.build.assemble import LEDGER, build_site, check_site_folders

__all__ = ["LEDGER", "build_site", "check_site_folders"]
