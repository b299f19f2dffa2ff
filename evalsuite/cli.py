"""Command-line interface: parses arguments, calls the library. No logic here."""

from __future__ import annotations

import sys

import click


@click.group()
@click.version_option(package_name="evalsuite")
def main() -> None:
    """evalsuite: PatchCore vs PaDiM on MVTec AD, clean and shifted."""
