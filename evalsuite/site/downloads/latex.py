"""LaTeX tables for the paper: pure ASCII, booktabs, at most one column of a two-column paper
and one page high (one detector per table, cut between categories where longer: `split_table`).

Every table needs `\\usepackage{booktabs}` and `\\usepackage{graphicx}`; it is shrunk to
`\\columnwidth` when wider (`\\resizebox` with `\\ifdim`; never enlarged). A value cell stacks the
value over its interval (`\\shortstack`), which halves the width of a column. Text is escaped
(`_ % & # $ { } ~ ^ \\ < >`), and the few non-ASCII characters the site uses become LaTeX (`$-$`,
`\\textpm{}`, `$\\times$`, `$\\cdot$`, `$\\Delta$`); anything else non-ASCII becomes its ASCII
decomposition or `?`, so the output is always ASCII.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from evalsuite.results.paths import sanitise
from evalsuite.site.read.records import METRIC_NAMES
from evalsuite.site.views.stats import Summary
from evalsuite.site.views.tables import HEADLINE_METRICS, Row

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "\u2212": "$-$",
    "\u2013": "--",
    "\u2014": "---",
    "\u00b1": r"\textpm{}",
    "\u00d7": r"$\times$",
    "\u00b7": r"$\cdot$",
    "\u0394": r"$\Delta$",
    "\u2192": r"$\to$",
}
REQUIRES = "% requires \\usepackage{booktabs} and \\usepackage{graphicx}"
TEXT_HEIGHT = 550.0
"""The text height every table fits, in pt: article's at 10 pt on letter paper, the shortest
of the common two-column formats (a4: 578 pt; IEEE and CVPR: over 640 pt)."""
_LINE = 12.0
"""A line of 10 pt type (baselineskip), pt."""
_SMALL_LINE = 7.0
"""What each further \\scriptsize line of a stacked cell adds, pt."""
_SPACE = 5.0
"""\\addlinespace (booktabs' default, 0.5em), pt."""
_FRAME = 40.0
"""The header row, the three rules, the caption's skip and the float's separation, pt."""
_CAPTION_CHARS = 44
"""Characters of a caption per line at \\columnwidth (fewer than the 50 it holds)."""


def latex_escape(text: str) -> str:
    """`text` as ASCII LaTeX: special characters escaped, non-ASCII replaced (see module)."""
    out = []
    for char in text:
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif char.isascii():
            out.append(char)
        else:
            ascii_form = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(latex_escape(ascii_form) if ascii_form else "?")
    return "".join(out)


def number(fraction: float, signed: bool = False) -> str:
    """A fraction in percent (points) with one decimal; `$-$` for minus; `+` when signed."""
    value = round(100 * fraction, 1)
    if value == 0:
        return "0.0"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return text.replace("-", "$-$")


def stack(lines: Sequence[str]) -> str:
    """Cell lines stacked (first in normal size, the rest in \\scriptsize)."""
    if len(lines) == 1:
        return lines[0]
    rest = [rf"{{\scriptsize {line}}}" for line in lines[1:]]
    return r"\shortstack{" + r"\\ ".join([lines[0], *rest]) + "}"


def table(caption: str, label: str, columns: Sequence[str], keys: int, lines: Sequence[str]) -> str:
    """A booktabs table, shrunk to the column width when wider.

    Args:
        caption: plain text (escaped here).
        label: the \\label.
        columns: header cells, already LaTeX.
        keys: how many leading columns are left-aligned keys (the rest are centred values).
        lines: body rows and rules, already LaTeX.
    """
    spec = "l" * keys + "c" * (len(columns) - keys)
    return "\n".join(
        [
            REQUIRES,
            r"\begin{table}[t]",
            r"\centering",
            r"\setlength{\tabcolsep}{3pt}",
            rf"\caption{{{latex_escape(caption)}}}",
            rf"\label{{{label}}}",
            r"\resizebox{\ifdim\width>\columnwidth\columnwidth\else\width\fi}{!}{%",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(columns) + r" \\",
            r"\midrule",
            *lines,
            r"\bottomrule",
            r"\end{tabular}}",
            r"\end{table}",
            "",
        ]
    )


@dataclass(frozen=True)
class Block:
    """Body rows that a table keeps together (one detector's rows of a category, or of one
    condition/regime), already LaTeX.

    Attributes:
        label: the detector (every table holds one detector's rows).
        rows: the body rows.
    """

    label: str
    rows: tuple[str, ...]


def separator(label: str | None, first_of_group: bool, index: int, n_columns: int) -> list[str]:
    """The lines before a row: a group's name spanning the table when `label` is given (its
    first row; a rule above unless first of all), else a little space between groups."""
    if label is not None:
        rule = [] if index == 0 else [r"\midrule"]
        return [
            *rule,
            rf"\multicolumn{{{n_columns}}}{{@{{}}l}}{{\textbf{{{latex_escape(label)}}}}} \\",
        ]
    return [r"\addlinespace"] if first_of_group and index else []


def row_height(row: str) -> float:
    """The height a body row takes in pt (a line of 10 pt type, and one more small line for
    each \\scriptsize line its cells stack; measured: a two-line row is 18.3 pt)."""
    return _LINE + _SMALL_LINE * row.count(r"{\scriptsize ")


def caption_height(caption: str) -> float:
    """The height a caption (plain text) takes at the column's width, in pt (conservative:
    counted on its LaTeX source, `\\%` for `%`)."""
    return _LINE * math.ceil(len(latex_escape(caption)) / _CAPTION_CHARS)


def split_tables(blocks: Sequence[Block], room: float) -> list[list[Block]]:
    """The blocks as tables: one detector per table, cut between blocks (a block taller than
    `room` between its rows) so that no table's body is taller than `room` pt."""
    tables: list[list[Block]] = []
    used, label = 0.0, None
    for block in blocks:
        for piece in _pieces(block, room):
            height = _SPACE + sum(row_height(row) for row in piece.rows)
            if not tables or piece.label != label or used + height > room:
                tables.append([])
                used, label = 0.0, piece.label
            tables[-1].append(piece)
            used += height
    return tables


def _pieces(block: Block, room: float) -> list[Block]:
    """`block` cut between rows into pieces no taller than `room` pt."""
    pieces: list[list[str]] = [[]]
    used = 0.0
    for row in block.rows:
        if pieces[-1] and used + row_height(row) > room - _SPACE:
            pieces.append([])
            used = 0.0
        pieces[-1].append(row)
        used += row_height(row)
    return [Block(block.label, tuple(rows)) for rows in pieces]


def split_table(
    caption: str, label: str, columns: Sequence[str], keys: int, blocks: Sequence[Block]
) -> str:
    """`table`s of one detector each, cut so that every one fits a page (TEXT_HEIGHT); each
    caption starts with its detector (and "part i of n" when cut)."""
    room = TEXT_HEIGHT - _FRAME - caption_height(caption) - _LINE * 2
    parts = split_tables(blocks, room)
    if not parts:
        return table(caption, label, columns, keys, [])
    out = []
    for index, part in enumerate(parts):
        detector = part[0].label
        same = [i for i, other in enumerate(parts) if other[0].label == detector]
        name = detector
        tag = sanitise(detector)
        if len(same) > 1:
            name += f", part {same.index(index) + 1} of {len(same)}"
            tag += f"-{same.index(index) + 1}"
        lines = []
        for i, block in enumerate(part):
            lines += [r"\addlinespace"] if i else []
            lines += block.rows
        out.append(table(f"{name}. {caption}", f"{label}-{tag}", columns, keys, lines))
    return "\n".join(out)


def _summary(summary: Summary) -> str:
    if summary.mean is None:
        return {"missing": "--", "failed": "failed"}.get(summary.reason or "missing", "n/a")
    lines = [number(summary.mean)]
    if summary.ci is not None:
        lines.append(f"[{number(summary.ci[0])}, {number(summary.ci[1])}]")
    return stack(lines)


MEAN_NOTE = (
    " mean: the mean over the categories, its 95% interval from resampling test images within "
    "each category."
)
"""The captions' sentence on the mean rows (`views.means`)."""

HEADLINE_LEVELS = (("image", ("image_auroc", "image_f1")), ("pixel", ("pixel_auroc", "aupro_0.3")))
"""The headline's two tables (two metrics each, so each fits one column)."""


def headline_tex(rows: Sequence[Row], study: str, synthetic: bool, multi_seed: bool) -> str:
    """The headline (per_class): detector x category x condition/regime, in %; tables at
    image level, then at pixel level, one detector each and no taller than a page."""
    return "\n".join(
        _headline_level(rows, study, synthetic, multi_seed, level, metrics)
        for level, metrics in HEADLINE_LEVELS
    )


def _headline_level(
    rows: Sequence[Row],
    study: str,
    synthetic: bool,
    multi_seed: bool,
    level: str,
    metrics: tuple[str, ...],
) -> str:
    blocks: list[Block] = []
    shown = [HEADLINE_METRICS.index(m) for m in metrics]
    for row in rows:
        category = latex_escape(row.category) if row.first_of_category else ""
        values = " & ".join(_summary(row.values[i]) for i in shown)
        line = rf"{category} & {latex_escape(row.kind)} & {values} \\"
        if row.first_of_category or row.first_of_label or not blocks:
            blocks.append(Block(row.label, ()))
        blocks[-1] = Block(row.label, (*blocks[-1].rows, line))
    columns = ["Category", "Condition/regime", *(latex_escape(METRIC_NAMES[m]) for m in metrics)]
    if multi_seed:
        what = (
            "mean over seeds in %, below it the 95% t-interval of the mean over seeds "
            "(a cell with one seed: its bootstrap interval)"
        )
    else:
        what = "value in %, below it the 95% stratified bootstrap interval over test images"
    names = " and ".join(METRIC_NAMES[m] for m in metrics)
    caption = f"Study {study}, {level} level ({names}), one model per category (per_class): {what}."
    if "image_f1" in metrics:
        caption += " F1 at the image threshold chosen on validation data."
    caption += MEAN_NOTE
    caption += " --: missing; n/a: undefined." + synthetic_note(synthetic)
    return split_table(caption, f"tab:evalsuite-headline-{level}", columns, 2, blocks)


def synthetic_note(synthetic: bool) -> str:
    """The caption's warning for synthetic data ("" otherwise)."""
    return " Synthetic data: not comparable with published MVTec AD results." if synthetic else ""
