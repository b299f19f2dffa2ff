"""`evalsuite site|merge|diff`: commands on results folders that exist (no model)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evalsuite.cli.options import BASELINE


@click.command()
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Merged results folder."
)
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
def merge(out: Path, shards: tuple[Path, ...]) -> None:
    """Merge shard results folders SHARDS into OUT (cells copied, manifest rebuilt); exit 1 when
    cells of the plan are missing (OUT is written all the same)."""
    from evalsuite.results.merge import merge as merge_folders

    report = merge_folders(list(shards), out)
    missing = report.missing
    click.echo(
        f"merged {report.sources} folders into {out}: {report.cells} cells "
        f"({report.duplicates} identical duplicates), {report.artifacts} artifacts; "
        f"{len(missing)} planned cells missing"
    )
    if missing:
        click.echo(f"{len(missing)} planned cells are missing (a shard never arrived?):", err=True)
        for relpath in missing:
            click.echo(f"  - {relpath}", err=True)
        sys.exit(1)


@click.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write it as JSON.")
@click.option(
    "--min-delta",
    type=float,
    default=0.0,
    show_default=True,
    help="Smallest |delta| that counts as improved or regressed.",
)
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a cell regressed.")
@click.option("--force", is_flag=True, help="Replace a --json file that diff did not write.")
def diff(
    base: Path,
    new: Path,
    json_path: Path | None,
    min_delta: float,
    fail_on_regression: bool,
    force: bool,
) -> None:
    """Compare the results folders BASE and NEW cell by cell: deltas, paired intervals,
    verdicts, added/removed/failed cells and what changed in their provenance."""
    from evalsuite.results.diff import diff_runs
    from evalsuite.results.diff_file import check_json_file, write_json_file
    from evalsuite.results.diff_report import diff_lines

    if json_path is not None:
        check_json_file(json_path, base, new, force)
    report = diff_runs(base, new, min_delta)
    for line in diff_lines(report):
        click.echo(line)
    if json_path is not None:
        write_json_file(json_path, report)
    if fail_on_regression and report.regressions:
        sys.exit(1)


@click.command()
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path),
    default=Path("results/latest"),
    show_default=True,
    help="Results folder (the --out of `evalsuite run`).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("site"),
    show_default=True,
    help="Site folder (only files an earlier build wrote are replaced).",
)
@click.option(
    "--force", is_flag=True, help="Build in a folder holding other files (they are kept)."
)
@BASELINE
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the site and its data as one zip (portable names), e.g. supplement.zip.",
)
@click.option(
    "--anonymous",
    is_flag=True,
    help="Remove absolute paths, user and host names and the git commit from every file.",
)
@click.option(
    "--history",
    "history_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Add the History page: the trend of the nights in this file (`history append`).",
)
@click.option(
    "--clean",
    is_flag=True,
    help="Instead of building: remove the site in --out (only files a build wrote; others kept).",
)
def site(
    results_dir: Path,
    out: Path,
    force: bool,
    baseline: Path | None,
    bundle: Path | None,
    anonymous: bool,
    history_path: Path | None,
    clean: bool,
) -> None:
    """Build the static results site of --results into --out (opens from file://, offline)."""
    if clean:
        from evalsuite.owned import remove_owned
        from evalsuite.site import LEDGER

        removed, kept = remove_owned(out, LEDGER)
        left = f"; kept {len(kept)} file(s) no build wrote" if kept else ""
        click.echo(f"removed the site in {out} ({removed} files){left}")
        return
    from evalsuite.site import build_site

    index = build_site(
        results_dir,
        out,
        force=force,
        baseline=baseline,
        anonymous=anonymous,
        bundle=bundle,
        history=history_path,
    )
    click.echo(f"site written to {out}; open {index}")
    if bundle is not None:
        click.echo(f"bundle written to {bundle} ({bundle.stat().st_size / 1e6:.1f} MB)")
