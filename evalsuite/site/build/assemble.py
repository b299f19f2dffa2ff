"""Build the static site from a results folder: a pure function of the records.

Everything is rendered in memory first, written into a staging folder and swapped in at the end
(`evalsuite.owned`), so a failure, Ctrl-C or SIGTERM leaves the previous site intact. Only files
an earlier build wrote (listed in the site's ledger `.evalsuite-site.json`) are ever removed.
The same records give the same bytes: no build time is written, and every list is sorted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from evalsuite import __version__, regular
from evalsuite.errors import ResultsError
from evalsuite.outputs import check_places, check_replaceable, zip_with_comment
from evalsuite.owned import check_owned, owned_tree
from evalsuite.site.build.leaks import check_no_leaks
from evalsuite.site.catalogue import Download
from evalsuite.site.downloads.attribution_exports import (
    attribution_downloads,
    attribution_files,
)
from evalsuite.site.downloads.bundle import (
    BUNDLE_MARK,
    check_bundle_target,
    rerun_command,
    write_bundle,
)
from evalsuite.site.downloads.data_csv import data_downloads, data_files
from evalsuite.site.downloads.figure_exports import figure_files, site_figures
from evalsuite.site.downloads.latex import headline_tex
from evalsuite.site.downloads.metrics_csv import metrics_csv, summary_csv
from evalsuite.site.downloads.paired_exports import difference_tex, differences_csv, tex_name
from evalsuite.site.downloads.per_image_exports import per_image_downloads, per_image_files
from evalsuite.site.downloads.real_shift_exports import real_shift_downloads, real_shift_files
from evalsuite.site.downloads.shipped import record_files
from evalsuite.site.downloads.supplement import archive_texts, evidence_copies, supplement_files
from evalsuite.site.pages import assets, detail
from evalsuite.site.pages.attribution import attribution_page, with_attribution
from evalsuite.site.pages.changes import changes
from evalsuite.site.pages.compare import compare_view, with_compare
from evalsuite.site.pages.explorer import explorer_pages, with_explorer
from evalsuite.site.pages.history import HistoryView, history_page, with_history
from evalsuite.site.pages.links import CellLinks
from evalsuite.site.pages.per_image import per_image, per_image_page
from evalsuite.site.pages.real_shift import real_shift_page, with_real_shift
from evalsuite.site.pages.render import TEMPLATES, SiteInfo, environment, render
from evalsuite.site.pages.study import NAV, Page, gallery_index, main_pages
from evalsuite.site.read.anonymise import anonymise, machine_identity
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import Results
from evalsuite.site.views.attribution import attribution_view
from evalsuite.site.views.attribution_rows import AttributionView
from evalsuite.site.views.difference_rows import DiffTable
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.explorer import explorers, thumbnail_files
from evalsuite.site.views.gallery import artifact_files
from evalsuite.site.views.heatmaps import recolour
from evalsuite.site.views.means import CategoryMeans, with_mean_rows
from evalsuite.site.views.per_image_findings import per_image_findings
from evalsuite.site.views.real_shift import real_shift_view
from evalsuite.site.views.resamples import paired_resamples
from evalsuite.site.views.runinfo import run_info
from evalsuite.site.views.tables import HEADLINE_METRICS, Grid, grid_of, metric_rows

LEDGER = ".evalsuite-site.json"
"""The site's ledger: every file the last build wrote into its output folder."""


def build_site(
    results_dir: Path,
    out: Path,
    templates: Path = TEMPLATES,
    force: bool = False,
    baseline: Path | None = None,
    *,
    anonymous: bool = False,
    bundle: Path | None = None,
    history: Path | None = None,
) -> Path:
    """Build the site of the results folder `results_dir` into `out`.

    Args:
        results_dir: a results folder (finished, or partial: then it says so).
        out: the site folder; created if needed.
        templates: the Jinja templates and the site's own assets.
        force: build in a folder holding files the site did not write (they are kept).
        baseline: a results folder to compare with: adds the Changes page (see `changes`).
        anonymous: remove absolute paths, the user, host and git commit (see `anonymise`).
        bundle: also write the site as this zip (see `bundle`).
        history: a history file (`evalsuite history append`): adds the History page.

    Returns:
        the path of the site's index.html.

    Raises:
        ResultsError: the results folder is missing or holds a corrupt record (naming the
            file).
        OutputError: `out` or `bundle` is, holds or lies inside the results or the baseline
            folder, or `bundle` exists and is not an evalsuite bundle (see `evalsuite.outputs`).
        OwnershipError: `out` holds a results folder or files no build wrote (without
            `force`), naming them.
        EvalsuiteError: the templates or assets are missing.
    """
    check_places(
        [("--out", out), ("--bundle", bundle)],
        [("--results", results_dir), ("--baseline", baseline), ("--history", history)],
    )
    if anonymous and baseline is not None:
        raise ResultsError(
            "--anonymous cannot anonymise the --baseline's records; build the Changes page "
            "without --anonymous, or the anonymous site without --baseline"
        )
    if bundle is not None:
        check_bundle_target(bundle, results_dir, out)
        check_replaceable(bundle, "--bundle", zip_with_comment(BUNDLE_MARK), "an evalsuite bundle")
    trend = history_page(history, anonymous)
    results = load_results(results_dir)
    identity = machine_identity(results_dir) if anonymous else None
    if identity is not None:
        results = anonymise(results, identity)
    files = site_files(results, templates, baseline, trend)
    if identity is not None:
        check_no_leaks(files, identity)
    _replace(out, files, results, force)
    if bundle is not None:
        copied = artifact_files(results) + thumbnail_files(results)
        copies = {path: results.source / path for path in copied}
        copies.update(evidence_copies(results))
        extra = supplement_files(results, identity)
        if identity is not None:
            check_no_leaks(_archived(extra), identity)
        command = rerun_command(results.manifest)
        study = _study(results)
        write_bundle(
            bundle, files, copies, study=study, version=__version__, extra=extra, command=command
        )
    return out / "index.html"


def site_files(
    results: Results,
    templates: Path = TEMPLATES,
    baseline: Path | None = None,
    history: HistoryView | None = None,
) -> dict[str, bytes]:
    """Path in the site -> content, for every generated file except the copied artifacts."""
    grid = grid_of(results)
    env = environment(templates)
    means = CategoryMeans(results, grid.categories)
    headline_rows = metric_rows(results, grid, "per_class", HEADLINE_METRICS, grid.kinds)
    headline = headline_tex(
        with_mean_rows(headline_rows, means, HEADLINE_METRICS),
        _study(results),
        results.synthetic,
        results.multi_seed,
    )
    resamples = paired_resamples(results, grid)
    paired = difference_tables(results, grid, resamples)
    found = None if baseline is None else changes(results, baseline)
    recoloured = recolour(results)
    statistics = per_image(results, grid)
    attribution = _attribution(results, grid, resamples)
    real = real_shift_view(results, resamples)  # empty without a real condition beside MVTec-Shift
    compared = compare_view(results, paired)  # pairs outside the tables: the records' resamples
    pages: list[Page] = [
        *main_pages(results, grid, paired, means, per_image_findings(statistics.tests)),
        per_image_page(statistics),
        compared.page,
        *gallery_index(results, grid, recoloured),
        *explorer_pages(explorers(results), results.multi_seed),
        detail.listing_page(results),
        *detail.cell_pages(results, recoloured, compared.links),
        detail.failures_page(results),
    ]
    if not attribution.empty:  # after every other page: their figures keep their names
        pages.append(attribution_page(attribution))
    if not real.empty:  # after every other page: their figures keep their names
        pages.append(real_shift_page(real))
    figures = site_figures(pages)
    more = (
        *_tex_downloads(paired),
        *per_image_downloads(),
        *(found.downloads if found else ()),
        *data_downloads(results),
        *(() if attribution.empty else attribution_downloads(attribution)),
        *real_shift_downloads(real),
        *(history.downloads if history else ()),
    )
    pages.append(detail.downloads_page(headline, more, figures))
    site = _site_info(results)
    site = dataclasses.replace(site, nav=with_compare(with_explorer(site.nav)))
    if not attribution.empty:
        site = dataclasses.replace(site, nav=with_attribution(site.nav))
    if not real.empty:
        site = dataclasses.replace(site, nav=with_real_shift(site.nav))
    if found is not None:
        index = next(page for page in pages if page.path == "index.html")
        index.data["changes"] = found.summary  # the one-line summary on the overview
        pages += found.pages
        nav = site.nav
        site = dataclasses.replace(site, nav=(nav[0], ("changes.html", "Changes"), *nav[1:]))
    if history is not None:
        pages.append(history.page)
        site = dataclasses.replace(site, nav=with_history(site.nav))
    files = {page.path: render(env, page, site).encode("utf-8") for page in pages}
    files.update(_downloads(results, headline, paired, means))
    files.update(per_image_files(statistics, _study(results), results.synthetic))
    if not attribution.empty:
        files.update(attribution_files(attribution, _study(results), results.synthetic))
    files.update(real_shift_files(real))
    files.update(compared.files)
    files.update(found.files if found is not None else {})
    files.update(history.files if history is not None else {})
    files.update(assets.asset_files(templates))
    files.update(recoloured.files)
    files.update(figure_files(figures))
    files.update({path: text.encode("utf-8") for path, text in data_files(results).items()})
    files.update(record_files(results))
    return files


def _attribution(results: Results, grid: Grid, resamples: int | None) -> AttributionView:
    """What the page "What the shift does" shows (`views.attribution.attribution_view`; empty
    for a study without shift variants: no page, no link, no download), its drops resampled
    as the difference tables are."""
    return attribution_view(results, grid, resamples)


def _archived(extra: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle's `reproduce/` files and the members of its source archive, as text files
    (`.txt`: the leak check reads text files by suffix)."""
    found: dict[str, bytes] = {}
    for name, content in extra.items():
        if name.endswith(".tar"):
            found.update(archive_texts(content))
        else:
            found[f"{name}.txt"] = content
    return found


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
        links=CellLinks(results),
    )


def _downloads(
    results: Results, headline: str, paired: list[DiffTable], means: CategoryMeans
) -> dict[str, bytes]:
    study = _study(results)
    texts = {
        "downloads/metrics.csv": metrics_csv(results),
        "downloads/summary.csv": summary_csv(results, means),
        "downloads/differences.csv": differences_csv(paired),
        "downloads/headline.tex": headline,
    }
    for table in paired:
        texts[f"downloads/{tex_name(table)}"] = difference_tex(
            table, study, results.synthetic, results.multi_seed
        )
    return {path: text.encode("utf-8") for path, text in texts.items()}


def _tex_downloads(paired: list[DiffTable]) -> list[Download]:
    """The downloads page's entries of the differences' LaTeX tables."""
    return [
        Download(
            f"downloads/{tex_name(t)}",
            tex_name(t),
            f"Paired differences {t.title} with their 95% intervals, LaTeX booktabs.",
        )
        for t in paired
    ]


def _replace(out: Path, files: dict[str, bytes], results: Results, force: bool) -> None:
    """Write the new site into a staging folder, then swap it for the previous build's files."""
    with owned_tree(out, LEDGER, "evalsuite site", force) as staging:
        for path, content in sorted(files.items()):
            _put(staging / path, content)
        for path in artifact_files(results) + thumbnail_files(results):
            if path in files:  # recoloured on the category's shared scale
                continue
            _put(staging / path, results.source / path)


def _put(target: Path, content: bytes | Path) -> None:
    """Write `content` (bytes, or a results folder's artifact to copy) to `target`, making its
    folder; an artifact is read as `evalsuite.regular` reads it (no link followed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        content = regular.read_bytes(content, regular.ARTIFACT, "heatmap strip")
    target.write_bytes(content)


def check_site_folders(out: Path, baseline: Path | None) -> None:
    """Refuse the site folder and the baseline as `build_site` would, before any result
    exists: `evalsuite all` checks them before its run, not after it.

    Raises:
        OwnershipError: `out` is a file or holds files no build wrote.
        ResultsError: `baseline` is missing, holds no cell record, or a record or its manifest
            is corrupt (naming the file).
    """
    check_owned(out, LEDGER, "evalsuite site")
    if baseline is not None and not load_results(baseline).cells:
        raise ResultsError(f"{baseline} holds no cell records; give the --out of a finished run")
