"""LaTeX exports: pure ASCII, escaped, captions that say what the table holds, and every
exported .tex (the tiny study's, and those of the same rows spread over 15 categories)
compiling with pdflatex inside a two-column document without an overfull box or a float taller
than the page; without pdflatex, every table's rows and caption bounded by the page height."""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evalsuite.site.downloads.latex import headline_tex, latex_escape, number, stack
from evalsuite.site.downloads.paired_exports import difference_tex
from evalsuite.site.read.load import load_results
from evalsuite.site.views.difference_rows import DiffTable
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.tables import HEADLINE_METRICS, Row, grid_of, metric_rows

DOCUMENT = r"""\documentclass[twocolumn]{article}
\usepackage[T1]{fontenc}
\usepackage{booktabs}
\usepackage{graphicx}
\begin{document}
Text before the table.
\input{%s}
\end{document}
"""


def test_escape_gives_ascii_latex_for_every_special_character() -> None:
    text = "a_b 50% R&D #1 $x {y} ~z ^w \\v <t> −3 ± 2 × 4 · Δ é"
    escaped = latex_escape(text)
    assert escaped.isascii()
    assert r"a\_b 50\% R\&D \#1 \$x \{y\} \textasciitilde{}z \textasciicircum{}w" in escaped
    assert r"\textbackslash{}v \textless{}t\textgreater{} $-$3 \textpm{} 2 $\times$ 4" in escaped
    assert r"$\cdot$ $\Delta$ e" in escaped
    assert number(-0.0321, signed=True) == "$-$3.2"
    assert number(0.0004, signed=True) == "0.0" and number(0.5) == "50.0"
    assert stack(["1", "2"]) == r"\shortstack{1\\ {\scriptsize 2}}"


def _exports(site_dir: Path) -> list[Path]:
    found = sorted((site_dir / "downloads").glob("*.tex"))
    names = {p.name for p in found}
    assert {"headline.tex", "shift.tex", "threshold.tex", "retrain.tex", "unified.tex"} <= names
    assert any(name.startswith("sweep-") for name in names)
    return found


def test_every_export_is_ascii_and_says_what_it_holds(site_dir: Path) -> None:
    rows = list(csv.DictReader((site_dir / "downloads" / "differences.csv").open()))
    for path in _exports(site_dir):
        text = path.read_bytes().decode("ascii")  # raises on any non-ASCII byte
        if path.name in ("per_image_tests.tex", "rankings.tex"):
            continue  # not a family of differences: tests/site/test_per_image_page.py
        captions = re.findall(r"\\caption\{(.*)\}\n", text)
        assert len(captions) >= 2, path.name  # image level and pixel level
        for caption in captions:
            assert "sd over seeds" not in caption, path.name  # the tiny study: one seed
            assert caption.split(".")[0].split(",")[0] in ("padim", "patchcore"), caption
        levels = [re.search(r"(image|pixel) level", c)[1] for c in captions]  # type: ignore[index]
        assert levels == sorted(levels) and len(set(levels)) == 2, path.name
        if path.name == "headline.tex":
            assert "95\\% stratified bootstrap interval over test images" in captions[0]
            continue
        family = [r for r in rows if _tex_name(r["family"]) == path.name]
        with_p = [r for r in family if r["p"]]
        assert with_p, path.name
        holds = re.search(r"over the family of (\d+) tests .*?; (\d+) are marked", text)
        assert holds is not None, path.name
        assert int(holds.group(1)) == len(with_p) == int(family[0]["family_size"])
        assert int(holds.group(2)) == sum(r["significant"] == "1" for r in with_p)
        shown = [
            r
            for r in with_p
            if r["metric"] in ("image_auroc", "image_f1", "pixel_auroc", "aupro_0.3")
        ]
        marked = len(re.findall(r"\d\*", text))
        assert marked == sum(r["significant"] == "1" for r in shown), path.name  # Holm p < 0.05
        assert "paired 95\\% bootstrap interval" in captions[0]
        assert r"\shortstack" in text  # values carry their intervals


def _tex_name(family: str) -> str:
    return family.replace(":", "-") + ".tex"


CATEGORIES = 15
"""As many categories as MVTec AD has: the tables of a full study."""


def _spread(rows: list[Row]) -> list[Row]:
    """The rows of each detector's first category, repeated for CATEGORIES categories."""
    spread: list[Row] = []
    for label in dict.fromkeys(r.label for r in rows):
        first = [r for r in rows if r.label == label]
        first = [r for r in first if r.category == first[0].category]
        for c in range(CATEGORIES):
            for j, row in enumerate(first):
                spread.append(
                    dataclasses.replace(
                        row,
                        category=f"category_{c}",
                        first_of_label=not (c or j),
                        first_of_category=not j,
                    )
                )
    return spread


def _spread_table(t: DiffTable) -> DiffTable:
    """A family's rows of its first category, repeated for CATEGORIES categories."""
    category = t.rows[0].b.category
    first = [r for r in t.rows if r.b.category == category]
    rows = [
        dataclasses.replace(
            r, b=dataclasses.replace(r.b, category=f"category_{c}"), first_of_label=not (c or j)
        )
        for j, r in enumerate(first)
        for c in range(CATEGORIES)
    ]
    return dataclasses.replace(t, rows=tuple(rows))


@pytest.fixture(scope="module")
def large_exports(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """headline.tex, shift.tex and unified.tex of the tiny study's rows over 15 categories."""
    results = load_results(results_dir)
    grid = grid_of(results)
    rows = _spread(metric_rows(results, grid, "per_class", HEADLINE_METRICS, grid.kinds))
    texts = {"headline.tex": headline_tex(rows, "large", True, False)}
    for t in difference_tables(results, grid):
        if t.family in ("shift", "unified"):
            texts[f"{t.family}.tex"] = difference_tex(_spread_table(t), "large", True, False)
    folder = tmp_path_factory.mktemp("large-tex")
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="ascii")
    return sorted(folder.iterdir())


TEXT_HEIGHT = 550.0
"""\\textheight of the test document (article, 10 pt, letter), pt."""


def _tables(text: str) -> list[tuple[str, list[str]]]:
    """(caption, body rows) of every table of an export."""
    found = []
    for block in text.split("\\begin{table}")[1:]:
        caption = re.search(r"\\caption\{(.*)\}\n", block)
        assert caption is not None
        body = block.split("\\midrule\n", 1)[1].split("\\bottomrule")[0]
        found.append((caption[1], [line for line in body.splitlines() if line.endswith("\\\\")]))
    return found


def estimated_height(caption: str, rows: list[str]) -> float:
    """A table's height in pt, from what pdflatex measures (10 pt type, twocolumn): 12 per
    line, 6.5 per further scriptsize line of a stacked cell (a two-line row: 18.3 measured),
    a caption line per 48 characters, 40 for the header, rules and float spacing."""
    body = sum(12.0 + 6.5 * row.count("{\\scriptsize ") for row in rows)
    return body + 12.0 * math.ceil(len(caption) / 48) + 40.0


def test_every_table_is_at_most_a_page_high(site_dir: Path, large_exports: list[Path]) -> None:
    for path in [*_exports(site_dir), *large_exports]:
        tables = _tables(path.read_text(encoding="ascii"))
        assert tables, path.name
        for caption, rows in tables:
            assert rows, (path.name, caption)
            height = estimated_height(caption, rows)
            assert height <= TEXT_HEIGHT, (path.name, caption[:40], len(rows), height)
    large = {p.name: _tables(p.read_text(encoding="ascii")) for p in large_exports}
    assert sum(len(rows) for _, rows in large["headline.tex"]) == 2 * 2 * 4 * CATEGORIES
    assert len(large["headline.tex"]) > 4  # cut beyond one table per detector and level


def test_every_export_compiles_in_a_two_column_paper(
    site_dir: Path, large_exports: list[Path], tmp_path: Path
) -> None:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip(
            "pdflatex is not installed (Debian: texlive-latex-base and "
            "texlive-latex-recommended for booktabs); the LaTeX exports were not compiled"
        )
    for path in [*_exports(site_dir), *large_exports]:
        work = tmp_path / f"{path.parent.name}-{path.stem}"
        work.mkdir()
        shutil.copyfile(path, work / "table.tex")
        (work / "main.tex").write_text(DOCUMENT % "table", encoding="ascii")
        done = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
            cwd=work,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=300,
            check=False,
        )
        log = (work / "main.log").read_text(errors="replace")
        assert done.returncode == 0, f"{path.name} does not compile:\n{done.stdout[-3000:]}"
        assert "Overfull \\hbox" not in log, f"{path.name} is too wide:\n{log[-3000:]}"
        assert "Float too large" not in log, f"{path.name} is too high:\n{log[-3000:]}"
        assert (work / "main.pdf").stat().st_size > 0
