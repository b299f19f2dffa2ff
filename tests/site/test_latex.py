"""LaTeX exports: pure ASCII, escaped, captions that say what the table holds, and every
exported .tex compiling with pdflatex inside a two-column document without an overfull box."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evalsuite.site.downloads.latex import latex_escape, number, stack

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
        assert len(captions) == 2, path.name  # image level and pixel level
        for caption in captions:
            assert "sd over seeds" not in caption, path.name  # the tiny study: one seed
        if path.name == "headline.tex":
            assert "95\\% stratified bootstrap interval over test images" in captions[0]
            continue
        family = [r for r in rows if _tex_name(r["family"]) == path.name]
        with_p = [r for r in family if r["p"]]
        assert with_p, path.name
        holds = re.search(r"The family holds (\d+) comparisons .* (\d+) of which exclude 0", text)
        assert holds is not None, path.name
        assert int(holds.group(1)) == len(with_p) == int(family[0]["family_size"])
        assert int(holds.group(2)) == sum(r["excludes_zero"] == "1" for r in with_p)
        shown = [
            r
            for r in with_p
            if r["metric"] in ("image_auroc", "image_f1", "pixel_auroc", "aupro_0.3")
        ]
        marked = len(re.findall(r"\d\*", text))
        assert marked == sum(r["excludes_zero"] == "1" for r in shown), path.name
        assert "paired 95\\% bootstrap interval" in captions[0]
        assert r"\shortstack" in text  # values carry their intervals


def _tex_name(family: str) -> str:
    return family.replace(":", "-") + ".tex"


def test_every_export_compiles_in_a_two_column_paper(site_dir: Path, tmp_path: Path) -> None:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip(
            "pdflatex is not installed (Debian: texlive-latex-base and "
            "texlive-latex-recommended for booktabs); the LaTeX exports were not compiled"
        )
    for path in _exports(site_dir):
        work = tmp_path / path.stem
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
        assert (work / "main.pdf").stat().st_size > 0
