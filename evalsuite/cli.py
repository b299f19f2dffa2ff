"""Command-line interface: parses arguments, calls the library. No logic here.

Implementations are imported inside each command so that `--help` is instant. Exit codes:
0 success, 1 a run finished with failed cells or a check found problems, 2 bad input (usage,
configuration, dataset), 3 environment (weights or downloads unavailable, a full disk), 130
Ctrl-C, 143 SIGTERM (both leave no partial output; see evalsuite.signals). `-v` is accepted
before or after the subcommand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evalsuite import signals
from evalsuite.errors import EvalsuiteError
from evalsuite.limits import MAX_COUNT, MAX_SEED, MAX_SHARDS

DEFAULT_CATEGORIES = "hazelnut,carpet,zipper"
_COUNT = click.IntRange(0, MAX_COUNT)


class _FiniteRange(click.FloatRange):
    """A float range that refuses NaN too (every comparison with NaN is false, so a plain
    range lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(
                f"{value!r} is not a number; give a value in {self._describe_range()}", param, ctx
            )
        return number


class _Group(click.Group):
    """A group that turns an `EvalsuiteError` or an `OSError` into one line on stderr and its
    exit code, and gives each of its commands the `-v` option too."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EvalsuiteError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: writers left nothing partial
            click.echo(
                f"\n{signals.describe(interrupt)}: stopped before finishing; earlier output is "
                "unchanged and nothing half-written was left in place",
                err=True,
            )
            sys.exit(signals.exit_code(interrupt))
        except OSError as error:  # the environment: a path that cannot be read or written
            from evalsuite.failures import os_error_line

            click.echo(os_error_line(error), err=True)
            sys.exit(3)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Add `cmd`, with `-v/--verbose` when it is a command (not a group)."""
        if not isinstance(cmd, click.Group) and not any(p.name == "verbose" for p in cmd.params):
            cmd.params.append(_verbose_option())
        super().add_command(cmd, name)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """Raise the log level by `-v` given after a subcommand (never lowers it)."""
    import logging

    if value:
        level = logging.INFO if value == 1 else logging.DEBUG
        root = logging.getLogger()
        root.setLevel(min(root.level, level))


def _verbose_option() -> click.Option:
    return click.Option(
        ["-v", "--verbose"],
        count=True,
        expose_value=False,
        callback=_set_verbosity,
        help="Log progress (-v) or everything (-vv); also accepted before the command.",
    )


def _categories(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """The comma list of an option as a tuple of names (None stays None); each must be able to
    name a folder, as the configuration's names (`results.paths.check_name`)."""
    from evalsuite.errors import ResultsError
    from evalsuite.results.paths import check_name

    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise click.BadParameter("give at least one category, e.g. hazelnut,carpet")
    for name in names:
        try:
            check_name("category", name)
        except ResultsError as error:
            raise click.BadParameter(
                f"{name[:40]!r} cannot name a category folder: use letters, digits, '.', '_' "
                "or '-', not starting with '.', at most 64 characters"
            ) from error
    return names


@click.group(cls=_Group)
@click.version_option(package_name="evalsuite")
@click.option("-v", "--verbose", count=True, help="Log progress (-v) or everything (-vv).")
def main(verbose: int) -> None:
    """evalsuite: PatchCore vs PaDiM on MVTec AD, clean and shifted."""
    import logging

    signals.install()
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


_CATEGORIES = click.option(
    "--categories",
    default=DEFAULT_CATEGORIES,
    show_default=True,
    callback=_categories,
    help="Comma list.",
)
"""The categories of `data synth` and `data download`."""


@main.group(cls=_Group)
def data() -> None:
    """Make, shift, check and download MVTec-layout datasets."""


@data.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@_CATEGORIES
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED))
@click.option(
    "--size", default=256, show_default=True, type=click.IntRange(64, 2048), help="Image side, px."
)
@click.option("--train", "n_train", default=60, show_default=True, type=_COUNT)
@click.option("--test-good", "n_test_good", default=20, show_default=True, type=_COUNT)
@click.option("--test-defect", "n_test_defect", default=24, show_default=True, type=_COUNT)
@click.option(
    "--difficulty",
    default=0.5,
    show_default=True,
    type=_FiniteRange(0.0, 1.0),
    help="0 easy, 1 hard.",
)
def synth(
    out: Path,
    categories: tuple[str, ...],
    seed: int,
    size: int,
    n_train: int,
    n_test_good: int,
    n_test_defect: int,
    difficulty: float,
) -> None:
    """Write a synthetic MVTec-like dataset (hazelnut, carpet, zipper) to OUT."""
    from evalsuite.data.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(
        categories=categories,
        seed=seed,
        size=size,
        n_train=n_train,
        n_test_good=n_test_good,
        n_test_defect=n_test_defect,
        difficulty=difficulty,
    )
    root = generate(out, config)
    click.echo(f"synthetic dataset written to {root}")


@data.command()
@click.option("--src", required=True, type=click.Path(path_type=Path), help="MVTec-layout tree.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED))
@click.option("--severity", default="2", show_default=True, type=click.Choice(["1", "2", "3"]))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def shift(src: Path, out: Path, seed: int, severity: str, quiet: bool) -> None:
    """Write the MVTec-Shift copy of SRC (train, test and masks) to OUT."""
    from evalsuite.data.shift_tree import shift_tree

    root = shift_tree(src, out, seed=seed, severity=int(severity), progress=not quiet)
    click.echo(f"shifted dataset written to {root} (parameters in {root}/evalsuite-shift.json)")


@data.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--categories",
    default=None,
    callback=_categories,
    help="Comma list (default: all in the tree).",
)
def check(root: Path, categories: tuple[str, ...] | None) -> None:
    """Validate the MVTec-layout tree ROOT and print its counts.

    Files the reader skips (an unsupported suffix, a dangling link, ...) are listed as a
    warning on stderr; they do not fail the check (exit 0 when nothing else is wrong).
    """
    from evalsuite.data.reader import check_dataset, counts
    from evalsuite.data.skipped import summary

    report = check_dataset(root, categories)
    if report.dataset is not None:
        dataset = report.dataset
        kind = "synthetic" if dataset.synthetic else "real"
        shifted = f", MVTec-Shift severity {dataset.shift['severity']}" if dataset.shift else ""
        masks = "with masks" if dataset.has_masks else "without masks (pixel metrics skipped)"
        click.echo(f"{root}: {kind} data{shifted}, {len(dataset.samples)} images, {masks}")
        click.echo(f"{'category':<16}{'folder':<8}{'defect':<24}{'images':>6}")
        for category, folder, defect, number in counts(dataset):
            click.echo(f"{category:<16}{folder:<8}{defect:<24}{number:>6}")
        warning = summary(root, dataset.skipped)
        if warning is not None:
            click.echo(f"warning: {warning}", err=True)
            for entry in dataset.skipped:
                click.echo(f"  - {entry.text()}", err=True)
    if not report.ok:
        click.echo(f"{len(report.problems)} problem(s):", err=True)
        for problem in report.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    skipped = len(report.dataset.skipped) if report.dataset is not None else 0
    click.echo(
        "ok: no problems found" + (f" ({skipped} skipped: see the warning)" if skipped else "")
    )


@data.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@_CATEGORIES
@click.option(
    "--sources",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON file of archive URLs and SHA-256 sums replacing the built-in MVTec AD sources.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=_FiniteRange(0.0, 3600.0, min_open=True),
    help="Seconds.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def download(
    out: Path, categories: tuple[str, ...], sources: Path | None, timeout: float, quiet: bool
) -> None:
    """Download MVTec AD categories into OUT (SHA-256 verified, resumable)."""
    from evalsuite.data.download import download as run_download
    from evalsuite.data.download import load_sources
    from evalsuite.outputs import check_places

    check_places([("--out", out)], [("--sources", sources)])
    folders = run_download(
        out, categories, load_sources(sources), timeout=timeout, progress=not quiet
    )
    for folder in folders:
        click.echo(f"ready: {folder}")


def _study_options(function: Any) -> Any:
    """The options that select a study, shared by config show, plan and run."""
    options = [
        click.option("--preset", default=None, help="demo (default) or paper."),
        click.option(
            "--config", "config_path", type=click.Path(path_type=Path), help="TOML/YAML file."
        ),
        click.option(
            "--data-root", type=click.Path(path_type=Path), help="MVTec-layout root (real data)."
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _load(
    preset: str | None,
    config_path: Path | None,
    data_root: Path | None,
    device: str | None = None,
) -> Any:
    from evalsuite.config import load_config

    return load_config(preset, config_path, data_root, device)


def _device_option(function: Any) -> Any:
    return click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default=None,
        help="Where fits and scores run (overrides the configuration's `device`, default auto).",
    )(function)


def _cache_option(function: Any) -> Any:
    return click.option(
        "--cache",
        "cache_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Generated data and feature cache (default $EVALSUITE_CACHE or ~/.cache/evalsuite).",
    )(function)


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """`--shard i/n` as (i, n), or None."""
    if value is None:
        return None
    try:
        index, total = (int(part) for part in value.split("/"))
    except ValueError as error:
        raise click.BadParameter(f"{value!r}: use i/n, e.g. 2/4") from error
    if not 1 <= index <= total:
        raise click.BadParameter(f"{value!r}: i must be between 1 and n")
    if total > MAX_SHARDS:
        raise click.BadParameter(f"{value!r}: n must be at most {MAX_SHARDS}")
    return index, total


@main.command()
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Merged results folder."
)
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
def merge(out: Path, shards: tuple[Path, ...]) -> None:
    """Merge shard results folders SHARDS into OUT (cells copied, manifest rebuilt); exit 1 when
    cells of the plan are missing (OUT is written all the same)."""
    from evalsuite.runner.planning.completeness import merge_shards

    report = merge_shards(list(shards), out)
    missing = report.missing or ()
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


@main.command()
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
    from evalsuite import outputs
    from evalsuite.results.diff import diff_runs
    from evalsuite.results.diff_report import DIFF_SCHEMA, diff_json, diff_lines

    if json_path is not None:
        outputs.check_places([("--json", json_path)], [("BASE", base), ("NEW", new)])
        own = outputs.json_with_schema(DIFF_SCHEMA.split("/")[0] + "/")
        outputs.check_replaceable(json_path, "--json", own, "a diff JSON", force)
    report = diff_runs(base, new, min_delta)
    for line in diff_lines(report):
        click.echo(line)
    if json_path is not None:
        from evalsuite import atomic

        try:
            atomic.write_json(json_path, diff_json(report))
        except OSError as error:  # the environment (exit 3), named by the path asked for
            import errno
            import os

            # its folder cannot be made because a part of the path is a file
            code = errno.ENOTDIR if isinstance(error, FileExistsError) else error.errno
            reason = os.strerror(code) if code is not None else str(error)
            raise OSError(code, reason, str(json_path)) from error
    if fail_on_regression and report.regressions:
        sys.exit(1)


@main.group(cls=_Group, name="config")
def config_group() -> None:
    """Inspect study configurations."""


@config_group.command("show")
@_study_options
def config_show(preset: str | None, config_path: Path | None, data_root: Path | None) -> None:
    """Print the resolved configuration as JSON."""
    click.echo(_load(preset, config_path, data_root).model_dump_json(indent=2))


@main.command()
@_study_options
@_cache_option
@_device_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Results folder.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--estimate",
    "with_estimate",
    is_flag=True,
    help="Project wall time, peak memory and cache disk (rates measured here in seconds).",
)
@click.option(
    "--workers", type=int, default=1, show_default=True, help="Processes, for --estimate."
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
    config = _load(preset, config_path, data_root, device)
    from evalsuite.runner.estimate.report import plan_report

    report = plan_report(config, out, cache_dir, with_estimate=with_estimate, workers=workers)
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2))
        return
    if with_estimate:
        from evalsuite.runner.estimate.text import estimate_lines

        for line in estimate_lines(report["estimate"]):
            click.echo(line)
        return
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


_RUN_OPTIONS = [
    _study_options,
    _cache_option,
    _device_option,
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=None,
        help="Results folder [default: results/<study name>].",
    ),
    click.option("--force", is_flag=True, help="Recompute cached fits and cells."),
    click.option(
        "--shard",
        default=None,
        callback=_shard,
        help="Run only shard i of n (i/n), for CI job matrices.",
    ),
    click.option(
        "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True
    ),
    click.option(
        "--workers",
        type=int,
        default=1,
        show_default=True,
        help="Processes (local pool or Dask LocalCluster).",
    ),
    click.option(
        "--scheduler",
        default=None,
        help="Address of a running Dask scheduler (with --executor dask).",
    ),
    click.option("--quiet", is_flag=True, help="No progress bars."),
]


def _run_options(function: Any) -> Any:
    """The options of `run`, shared by `all`."""
    for option in reversed(_RUN_OPTIONS):
        function = option(function)
    return function


@main.command()
@_run_options
def run(
    preset: str | None,
    config_path: Path | None,
    data_root: Path | None,
    cache_dir: Path | None,
    device: str | None,
    out: Path | None,
    force: bool,
    shard: tuple[int, int] | None,
    executor: str,
    workers: int,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Run the study into the results folder --out."""
    config = _load(preset, config_path, data_root, device)
    _check_places(config, config_path, out, cache_dir)
    failed = _execute(config, out, cache_dir, force, shard, executor, workers, scheduler, quiet)
    if failed:
        sys.exit(1)


_BASELINE = click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="Results folder to compare with: adds a Changes page (as `evalsuite diff`).",
)


@main.command(name="all")
@_run_options
@click.option(
    "--site", "site_dir", type=click.Path(path_type=Path), default=Path("site"), show_default=True
)
@_BASELINE
def all_command(
    preset: str | None,
    config_path: Path | None,
    data_root: Path | None,
    cache_dir: Path | None,
    device: str | None,
    out: Path | None,
    force: bool,
    shard: tuple[int, int] | None,
    executor: str,
    workers: int,
    scheduler: str | None,
    quiet: bool,
    site_dir: Path,
    baseline: Path | None,
) -> None:
    """Run the study, then build its site (the site is built even when cells failed)."""
    from evalsuite.site import build_site
    from evalsuite.site.build import check_site_folders

    config = _load(preset, config_path, data_root, device)
    _check_places(config, config_path, out, cache_dir, site_dir, baseline)
    check_site_folders(site_dir, baseline)  # before the run, as the site will check them
    failed = _execute(config, out, cache_dir, force, shard, executor, workers, scheduler, quiet)
    index = build_site(out or Path("results") / config.name, site_dir, baseline=baseline)
    click.echo(f"site written to {site_dir}; open {index}")
    if failed:
        sys.exit(1)


def _check_places(
    config: Any,
    config_path: Path | None,
    out: Path | None,
    cache_dir: Path | None,
    site_dir: Path | None = None,
    baseline: Path | None = None,
) -> None:
    """Refuse, before any work, a results folder, cache or site that overlaps what the study
    reads (configuration, data root, weights files, baseline) or one another (exit 2)."""
    from evalsuite.outputs import check_places
    from evalsuite.runner.planning.study_data import default_cache_dir

    weights = [("weights_file", d.backbone.weights_file) for d in config.detectors]
    check_places(
        [
            ("--out", out or Path("results") / config.name),
            ("--cache", cache_dir or default_cache_dir()),
            ("--site", site_dir),
        ],
        [
            ("--config", config_path),
            ("data.root", config.data.root),
            *weights,
            ("--baseline", baseline),
        ],
    )


def _execute(
    config: Any,
    out: Path | None,
    cache_dir: Path | None,
    force: bool,
    shard: tuple[int, int] | None,
    executor: str,
    workers: int,
    scheduler: str | None,
    quiet: bool,
) -> bool:
    """Run a study and report it; True when some cells failed."""
    from evalsuite.runner import run_study
    from evalsuite.runner.planning.study_data import default_cache_dir

    out = out or Path("results") / config.name
    try:
        summary = run_study(
            config,
            out,
            cache_dir=cache_dir or default_cache_dir(),
            force=force,
            shard=shard,
            progress=not quiet,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
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
    cells = summary.cells
    click.echo(
        f"{len(cells)} cells: {sum(c.status == 'ok' for c in cells)} ok, "
        f"{len(summary.failed)} failed, {sum(c.cached for c in cells)} cached; "
        f"{summary.fits} fits ({summary.fits_cached} cached); "
        f"{summary.forward_passes} backbone forward passes, {summary.score_passes} images "
        f"scored; {summary.wall_time_s:.1f} s; "
        f"results in {out}"
    )
    if summary.failed:
        click.echo("failed cells:", err=True)
        for cell in summary.failed:
            click.echo(f"  - {cell.relpath}: {cell.error}", err=True)
    return bool(summary.failed)


@main.command()
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
@_BASELINE
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
    clean: bool,
) -> None:
    """Build the static results site of --results into --out (opens from file://, offline)."""
    if clean:
        from evalsuite.owned import remove_owned
        from evalsuite.site.build import LEDGER

        removed, kept = remove_owned(out, LEDGER)
        left = f"; kept {len(kept)} file(s) no build wrote" if kept else ""
        click.echo(f"removed the site in {out} ({removed} files){left}")
        return
    from evalsuite.site import build_site

    index = build_site(
        results_dir, out, force=force, baseline=baseline, anonymous=anonymous, bundle=bundle
    )
    click.echo(f"site written to {out}; open {index}")
    if bundle is not None:
        click.echo(f"bundle written to {bundle} ({bundle.stat().st_size / 1e6:.1f} MB)")
