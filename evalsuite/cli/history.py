"""`evalsuite history append`: keep the nightly's history, one night at a time (no model)."""

from __future__ import annotations

from pathlib import Path

import click

from evalsuite.limits import MAX_COUNT


@click.group()
def history() -> None:
    """The nightly's history: each night's headline metrics, verdicts and provenance."""


@history.command()
@click.option(
    "--results",
    "results_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The night's results folder (with its manifest).",
)
@click.option(
    "--history",
    "history_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The history file (JSON); created when absent, refused when it is not a history.",
)
@click.option(
    "--diff",
    "diff_path",
    type=click.Path(path_type=Path),
    default=None,
    help="What `evalsuite diff PREVIOUS RESULTS --json FILE` wrote: the night's verdicts.",
)
@click.option(
    "--max-nights",
    type=click.IntRange(1, MAX_COUNT),
    default=365,
    show_default=True,
    help="Nights kept; the oldest are dropped.",
)
def append(results_dir: Path, history_path: Path, diff_path: Path | None, max_nights: int) -> None:
    """Add the night of --results to --history (the same run again replaces its entry)."""
    from evalsuite.outputs import check_places
    from evalsuite.results.history import night_entry
    from evalsuite.results.history_file import append_night, read_history, write_history

    check_places([("--history", history_path)], [("--results", results_dir), ("--diff", diff_path)])
    before = read_history(history_path)
    night = night_entry(results_dir, diff_path)
    after, done = append_night(before, night, max_nights)
    write_history(history_path, after)
    dropped = len(before["nights"]) + (done != "replaced") - len(after["nights"]) if before else 0
    tail = f"; dropped the {dropped} oldest" if dropped else ""
    click.echo(
        f"{done} the night of {night['run']} ({len(night['cells'])} headline cells) in "
        f"{history_path}: {len(after['nights'])} nights{tail}"
    )
