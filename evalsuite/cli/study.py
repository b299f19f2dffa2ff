"""`evalsuite config show|plan|run|all`: commands on a study (a preset or a configuration)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evalsuite import signals
from evalsuite.cli.group import Group
from evalsuite.cli.options import BASELINE, CACHE, DEVICE, RunArgs, run_options, study_options

if TYPE_CHECKING:
    from evalsuite.config import StudyConfig
    from evalsuite.runner.writing.manifest import RunSummary


@click.group(cls=Group, name="config")
def config_group() -> None:
    """Inspect study configurations."""


@config_group.command("show")
@study_options
def config_show(preset: str | None, config_path: Path | None, data_root: Path | None) -> None:
    """Print the resolved configuration as JSON."""
    from evalsuite.config import load_config

    click.echo(load_config(preset, config_path, data_root).model_dump_json(indent=2))


@click.command()
@study_options
@CACHE
@DEVICE
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Results folder.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--estimate",
    "with_estimate",
    is_flag=True,
    help="Project wall time, peak memory and cache disk (rates measured here in seconds).",
)
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Processes, for --estimate and for writing missing shifted trees.",
)
def plan(
    preset: str | None,
    config_path: Path | None,
    data_root: Path | None,
    cache_dir: Path | None,
    device: str | None,
    out: Path | None,
    as_json: bool,
    with_estimate: bool,
    workers: int,
) -> None:
    """List the fits and the cells they serve, what is cached in --out, and (--estimate) the
    projected cost."""
    if workers < 1:
        raise click.BadParameter(f"{workers}: must be >= 1", param_hint="--workers")
    from evalsuite.config import load_config

    config = load_config(preset, config_path, data_root, device)
    from evalsuite.runner.estimate.report import plan_report

    report = plan_report(config, out, cache_dir, with_estimate=with_estimate, workers=workers)
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2))
    elif with_estimate:
        from evalsuite.runner.estimate.text import estimate_lines

        for line in estimate_lines(report["estimate"]):
            click.echo(line)
    else:
        _print_plan(report)


def _print_plan(report: dict[str, Any]) -> None:
    """`plan`'s text: each fit, the cells it serves, and the counts."""
    for fit in report["fits"]:
        click.echo(
            f"fit {fit['id']} {fit['label']} {fit['scope']} {fit['condition']} "
            f"[{','.join(fit['categories'])}]{' (cached)' if fit['cached'] else ''}"
        )
        for cell in fit["cells"]:
            click.echo(f"    {cell['path']}{' (cached)' if cell['cached'] else ''}")
    counts = report["counts"]
    click.echo(
        f"{counts['fits']} fits ({counts['fits_cached']} cached), "
        f"{counts['cells']} cells ({counts['cells_cached']} cached)"
    )
    if report.get("raw_images"):
        from evalsuite.runner.estimate.text import raw_images_line

        for label in report["raw_images"]:
            click.echo(raw_images_line(label))


@click.command()
@run_options
def run(args: RunArgs) -> None:
    """Run the study into the results folder --out."""
    config = args.load()
    from evalsuite.runner.guard.places import check_study_places

    check_study_places(config, args.config_path, args.out, args.cache_dir)
    if _execute(config, args):
        sys.exit(1)


@click.command(name="all")
@run_options
@click.option(
    "--site", "site_dir", type=click.Path(path_type=Path), default=Path("site"), show_default=True
)
@BASELINE
def all_command(args: RunArgs, site_dir: Path, baseline: Path | None) -> None:
    """Run the study, then build its site (the site is built even when cells failed)."""
    from evalsuite.runner.guard.places import check_study_places, results_folder
    from evalsuite.site import build_site, check_site_folders

    config = args.load()
    check_study_places(config, args.config_path, args.out, args.cache_dir, site_dir, baseline)
    check_site_folders(site_dir, baseline)  # before the run, as the site will check them
    failed = _execute(config, args)
    index = build_site(results_folder(config, args.out), site_dir, baseline=baseline)
    click.echo(f"site written to {site_dir}; open {index}")
    if failed:
        sys.exit(1)


def _execute(config: StudyConfig, args: RunArgs) -> bool:
    """Run a study and report it; True when some cells failed."""
    from evalsuite.runner import run_study
    from evalsuite.runner.guard.places import cache_folder, results_folder

    out = results_folder(config, args.out)
    try:
        summary = run_study(
            config,
            out,
            cache_dir=cache_folder(args.cache_dir),
            force=args.force,
            shard=args.shard,
            progress=not args.quiet,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
        )
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM
        click.echo(
            f"\n{signals.describe(interrupt)}: every finished cell is kept in {out}; run the "
            "same command again to resume where it stopped",
            err=True,
        )
        sys.exit(signals.exit_code(interrupt))
    except OSError as error:  # the environment: a full disk, a lost mount, permissions
        where = f"{error.filename}: " if error.filename else ""
        click.echo(
            f"error: {where}{error.strerror or error}; every finished cell is kept in {out}; "
            "free space or fix the folder, then run the same command again to resume",
            err=True,
        )
        sys.exit(3)
    _print_summary(summary, out)
    return bool(summary.failed)


def _print_summary(summary: RunSummary, out: Path) -> None:
    """What a run prints when it ends: its counts on stdout, its failed cells on stderr."""
    cells = summary.cells
    click.echo(
        f"{len(cells)} cells: {sum(c.status == 'ok' for c in cells)} ok, "
        f"{len(summary.failed)} failed, {sum(c.cached for c in cells)} cached; "
        f"{summary.fits} fits ({summary.fits_cached} cached); "
        f"{summary.forward_passes} backbone forward passes, {summary.score_passes} images "
        f"scored; {summary.wall_time_s:.1f} s; "
        f"results in {out}"
    )
    for label, count in summary.raw_image_passes.items():
        click.echo(f"{label}: {count} raw images fed (uncached, not backbone forward passes)")
    if summary.failed:
        click.echo("failed cells:", err=True)
        for cell in summary.failed:
            click.echo(f"  - {cell.relpath}: {cell.error}", err=True)
