"""Build the static site from a results folder: a pure function of the records.

Everything is rendered in memory first; only then is the output folder's generated content
replaced, so a failure leaves the previous site intact. The same records give the same bytes:
no build time is written, and every list is sorted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from evalsuite import __version__
from evalsuite.errors import ResultsError
from evalsuite.site import assets, detail
from evalsuite.site.anonymise import anonymise, check_no_leaks, machine_identity
from evalsuite.site.bundle import check_bundle_target, write_bundle
from evalsuite.site.data_csv import data_downloads, data_files
from evalsuite.site.exports import delta_tex, headline_tex, metrics_csv, summary_csv
from evalsuite.site.figure_exports import figure_files, site_figures
from evalsuite.site.gallery import artifact_files
from evalsuite.site.load import load_results
from evalsuite.site.pages import NAV, Page, gallery_index, main_pages
from evalsuite.site.records import Results
from evalsuite.site.render import TEMPLATES, SiteInfo, environment, render
from evalsuite.site.runinfo import run_info
from evalsuite.site.shipped import record_files
from evalsuite.site.tables import HEADLINE_METRICS, Grid, drop_rows, gap_rows, grid_of, metric_rows

GENERATED_DIRS = ("artifacts", "assets", "cells", "downloads", "gallery")
"""The folders the site owns in its output folder (replaced on every build); the HTML files at
the top are replaced too, anything else is left alone (e.g. a README)."""


def build_site(
    results_dir: Path,
    out: Path,
    templates: Path = TEMPLATES,
    *,
    anonymous: bool = False,
    bundle: Path | None = None,
) -> Path:
    """Build the site of the results folder `results_dir` into `out`.

    Args:
        results_dir: a results folder (finished, or partial: then it says so).
        out: the site folder; created if needed.
        templates: the Jinja templates and the site's own assets.
        anonymous: remove absolute paths, the user, host and git commit (see `anonymise`).
        bundle: also write the site as this zip (see `bundle`).

    Returns:
        the path of the site's index.html.

    Raises:
        ResultsError: the results folder is missing or holds a corrupt record (naming the
            file), or `out` would overwrite it.
        EvalsuiteError: the templates or assets are missing.
    """
    _check_target(results_dir, out)
    if bundle is not None:
        check_bundle_target(bundle, results_dir, out)
    results = load_results(results_dir)
    identity = machine_identity(results_dir) if anonymous else None
    if identity is not None:
        results = anonymise(results, identity)
    files = site_files(results, templates)
    if identity is not None:
        check_no_leaks(files, identity)
    _replace(out, files, results)
    if bundle is not None:
        copies = {path: results.source / path for path in artifact_files(results)}
        write_bundle(bundle, files, copies, study=_study(results), version=__version__)
    return out / "index.html"


def site_files(results: Results, templates: Path = TEMPLATES) -> dict[str, bytes]:
    """Path in the site -> content, for every generated file except the copied artifacts."""
    grid = grid_of(results)
    env = environment(templates)
    headline = headline_tex(
        metric_rows(results, grid, "per_class", HEADLINE_METRICS, grid.kinds),
        _study(results),
        results.synthetic,
    )
    pages: list[Page] = [
        *main_pages(results, grid),
        *gallery_index(results, grid),
        detail.listing_page(results),
        *detail.cell_pages(results),
        detail.failures_page(results),
    ]
    figures = site_figures(pages)
    pages.append(detail.downloads_page(headline, data_downloads(results), figures))
    site = _site_info(results)
    files = {page.path: render(env, page, site).encode("utf-8") for page in pages}
    files.update(_downloads(results, grid, headline))
    files.update(assets.asset_files(templates))
    files.update(figure_files(figures))
    files.update({path: text.encode("utf-8") for path, text in data_files(results).items()})
    files.update(record_files(results))
    return files


def _study(results: Results) -> str:
    return run_info(results).study


def _site_info(results: Results) -> SiteInfo:
    ok = sum(cell.ok for cell in results.cells)
    return SiteInfo(
        study=_study(results),
        synthetic=results.synthetic,
        finished=results.manifest is not None,
        nav=NAV,
        counts=(ok, len(results.failed), len(results.missing)),
        evalsuite=__version__,
        vega=assets.versions(),
    )


def _downloads(results: Results, grid: Grid, headline: str) -> dict[str, bytes]:
    study = _study(results)
    shift = delta_tex(
        drop_rows(results, grid),
        study,
        results.synthetic,
        what="drop under shift, shift/none − clean/none",
        middle="scope",
    )
    texts = {
        "downloads/metrics.csv": metrics_csv(results),
        "downloads/summary.csv": summary_csv(results),
        "downloads/headline.tex": headline,
        "downloads/shift.tex": shift,
        "downloads/unified.tex": delta_tex(
            gap_rows(results, grid) if {"per_class", "unified"} <= set(grid.scopes) else [],
            study,
            results.synthetic,
            what="unified − per_class gap",
            middle="kind",
        ),
    }
    return {path: text.encode("utf-8") for path, text in texts.items()}


def _check_target(results_dir: Path, out: Path) -> None:
    results, target = results_dir.resolve(), out.resolve()
    if target == results or results.is_relative_to(target):
        raise ResultsError(
            f"--out {out} would overwrite the results folder {results_dir}; "
            "choose a separate folder for the site (e.g. site/)"
        )


def _replace(out: Path, files: dict[str, bytes], results: Results) -> None:
    """Remove the previous build's generated content of `out`, then write the new one."""
    out.mkdir(parents=True, exist_ok=True)
    for name in GENERATED_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)
    for old in out.glob("*.html"):
        old.unlink()
    for path, content in sorted(files.items()):
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for path in artifact_files(results):
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results.source / path, target)
