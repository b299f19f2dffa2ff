"""The static results site: a pure function of a results folder.

`build_site(results_dir, out)` reads the records (`evalsuite.results`), turns them into typed
view models (`records`, `tables`, `stats`, `sweeps`, `shortcut`, `gallery`, `detail`), draws the
charts with Altair (`charts`, `figures`), renders the Jinja templates of `templates/` (`render`)
and writes the pages, the downloads (`exports`) and the vendored assets (`assets`). It never
imports torch, faiss or anomalib.
"""

from evalsuite.site.build import build_site

__all__ = ["build_site"]
