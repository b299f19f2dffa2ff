"""Command-line interface: parses arguments, calls the library. No logic here.

Implementations are imported inside each command so that `--help` is instant. Exit codes:
0 success, 1 a run finished with failed cells or a check found problems, 2 bad input (usage,
configuration, dataset), 3 environment (weights or downloads unavailable, a full disk), 130
Ctrl-C, 143 SIGTERM (both leave no partial output; see evalsuite.signals). `-v` is accepted
before or after the subcommand.

One module per command group: `data` (data synth/shift/check/download), `study` (config show,
plan, run, all), `results` (site, merge, diff), `export` (export ad2-submission/ad2-check),
`history` (history append); `options` holds the options several commands share and `group` the
group class that turns errors into one line and an exit code.
"""

from __future__ import annotations

import click

from evalsuite import signals
from evalsuite.cli.data import data
from evalsuite.cli.export import export
from evalsuite.cli.group import Group
from evalsuite.cli.history import history
from evalsuite.cli.results import diff, merge, site
from evalsuite.cli.study import all_command, config_group, plan, run

__all__ = ["main"]


@click.group(cls=Group)
@click.version_option(package_name="evalsuite")
@click.option("-v", "--verbose", count=True, help="Log progress (-v) or everything (-vv).")
def main(verbose: int) -> None:
    """evalsuite: PatchCore vs PaDiM on MVTec AD, clean and shifted."""
    import logging

    signals.install()
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _command in (data, config_group, plan, run, all_command, merge, diff, site, export, history):
    main.add_command(_command)
