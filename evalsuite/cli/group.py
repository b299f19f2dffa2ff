"""The command group every group of the CLI uses: errors as one line and an exit code, and
`-v` on each command."""

from __future__ import annotations

import sys
from typing import Any

import click

from evalsuite import signals
from evalsuite.errors import EvalsuiteError


class Group(click.Group):
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
