"""The options several commands share, each defined once: `--categories`, the study options,
`--cache`, `--device`, `--baseline` and the options of `run`, which `all` shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evalsuite.limits import MAX_COUNT, MAX_SHARDS

if TYPE_CHECKING:
    from evalsuite.config import StudyConfig

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
"""What `click.option` returns: adds an option to a command's function."""

DEFAULT_CATEGORIES = "hazelnut,carpet,zipper"
COUNT = click.IntRange(0, MAX_COUNT)
"""A number of images."""


class FiniteRange(click.FloatRange):
    """A float range that refuses NaN too (every comparison with NaN is false, so a plain
    range lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(
                f"{value!r} is not a number; give a value in {self._describe_range()}", param, ctx
            )
        return number


def parse_categories(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
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


CATEGORIES = click.option(
    "--categories",
    default=DEFAULT_CATEGORIES,
    show_default=True,
    callback=parse_categories,
    help="Comma list.",
)
"""The categories of `data synth` and `data download`."""


def _apply(options: list[Decorator], function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` with `options`, the first listed shown first in `--help`."""
    for option in reversed(options):
        function = option(function)
    return function


_STUDY_OPTIONS: list[Decorator] = [
    click.option(
        "--preset", default=None, help="demo (default), paper, demo-anomalib or paper_ad2."
    ),
    click.option(
        "--config", "config_path", type=click.Path(path_type=Path), help="TOML/YAML file."
    ),
    click.option(
        "--data-root", type=click.Path(path_type=Path), help="MVTec-layout root (real data)."
    ),
]


def study_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options that select a study, shared by config show, plan, run and all."""
    return _apply(_STUDY_OPTIONS, function)


DEVICE = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default=None,
    help="Where fits and scores run (overrides the configuration's `device`, default auto).",
)
CACHE = click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Generated data and feature cache (default $EVALSUITE_CACHE or ~/.cache/evalsuite).",
)
BASELINE = click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="Results folder to compare with: adds a Changes page (as `evalsuite diff`).",
)


def parse_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
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


@dataclass(frozen=True)
class RunArgs:
    """The values of the options of `run` (and `all`), named as their parameters."""

    preset: str | None
    config_path: Path | None
    data_root: Path | None
    cache_dir: Path | None
    device: str | None
    out: Path | None
    force: bool
    shard: tuple[int, int] | None
    executor: str
    workers: int
    scheduler: str | None
    quiet: bool

    def load(self) -> StudyConfig:
        """The study these options select (`evalsuite.config.load_config`)."""
        from evalsuite.config import load_config

        return load_config(self.preset, self.config_path, self.data_root, self.device)


_RUN_OPTIONS: list[Decorator] = [
    study_options,
    CACHE,
    DEVICE,
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
        callback=parse_shard,
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


def run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `run`, shared by `all`: their values reach `function` as one `RunArgs`,
    its first argument `args` (its other options, listed after these, as themselves)."""
    names = RunArgs.__dataclass_fields__.keys()

    @functools.wraps(function)
    def command(**values: Any) -> Any:
        args = RunArgs(**{name: values.pop(name) for name in names})
        return function(args, **values)

    return _apply(_RUN_OPTIONS, command)
