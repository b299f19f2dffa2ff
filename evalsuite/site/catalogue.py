"""What the site's downloads folder holds, as its pages list it: a `Download` (a file with its
title and description) and a `Figure` (a chart exported for a paper).

A shared leaf: it imports nothing of the site, so every stage may name these types (the pages
stage lists them on the Downloads and Changes pages; the downloads stage writes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIGURES = "downloads/figures"
"""The folder of the exported figures (`evalsuite.site.downloads.figure_exports`)."""
PRINT_WIDTHS: dict[str, float] = {"column": 3.3, "text": 7.0}
"""The print versions of every figure: folder under FIGURES -> printed width in inches (one
column of a two-column paper, the full text width)."""
PRINT_FORMATS = ("svg", "pdf")
"""The formats of the print versions."""


@dataclass(frozen=True)
class Download:
    """A file of the downloads folder: its path in the site and what it holds."""

    path: str
    title: str
    description: str


@dataclass(frozen=True)
class Figure:
    """One exported chart.

    Attributes:
        name: the file stem under `downloads/figures/` (ASCII, no spaces or `=`).
        title: the chart's heading, or its page's title when it has none.
        caption: how to read it (the page's caption).
        page: the page that shows it.
        spec: the Vega-Lite spec the page embeds.
    """

    name: str
    title: str
    caption: str
    page: str
    spec: dict[str, Any]

    def path(self, fmt: str) -> str:
        """The site path of the figure in format `fmt` (svg, pdf or png)."""
        return f"{FIGURES}/{self.name}.{fmt}"

    def print_path(self, size: str, fmt: str) -> str:
        """The site path of the figure's print version `size` (a key of PRINT_WIDTHS)."""
        return f"{FIGURES}/{size}/{self.name}.{fmt}"
