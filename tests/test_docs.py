"""The README and the user guide in docs/: every link resolves inside the repository, every
source path they name exists, the README's command table is the CLI's, and the numbers they
quote from the demo are those of the demo's records.

The demo checks read `results/demo` (and the site in `site/`), which `make all` writes before
`make test` (CI runs both, in that order); after a plain `make test` they are skipped, saying so.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import click
import pytest

from evalsuite.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
DEMO = ROOT / "results" / "demo"
SITE = ROOT / "site"

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
AUTOLINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]*)>", re.I)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
REPO_PATH = re.compile(
    r"(?<![\w./<>-])((?:evalsuite|tests|benchmarks|docker|templates|\.github|\.ci)/[\w./-]*)"
)


def prose(text: str) -> str:
    """`text` without fenced code blocks and inline code (where a `[x](y)` is no link)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives the headings of the Markdown file `path` (repeats get -1, -2)."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        found.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return found


def link_problems(doc: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the links of `doc` (a file of the repository `root`): absolute or
    external, missing file or anchor, a file outside `root`."""
    text = prose(doc.read_text(encoding="utf-8"))
    where = doc.relative_to(root)
    problems = [
        f"{where}: external link {url} (write it as text)" for url in AUTOLINK.findall(text)
    ]
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:|/", target, re.I):
            problems.append(f"{where}: {target} is not a relative link into the repository")
            continue
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.is_relative_to(root) or not linked.exists():
            problems.append(f"{where}: {target} names no file of the repository")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            problems.append(f"{where}: {target}: no heading with the anchor #{anchor}")
    return problems


def test_the_user_guide_has_its_pages() -> None:
    """The README links every page of docs/, and every page links back to the README."""
    readme = README.read_text(encoding="utf-8")
    pages = [doc for doc in DOCS if doc != README]
    assert len(pages) >= 9
    for page in pages:
        assert f"(docs/{page.name})" in readme, f"the README does not link docs/{page.name}"
        assert "](../README.md" in page.read_text(encoding="utf-8"), page.name


def test_the_readme_reads_in_ten_minutes() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    problems = link_problems(doc)
    assert not problems, "\n".join(problems)


def test_the_link_check_catches_broken_links(tmp_path: Path) -> None:
    """A control: a missing file, a missing anchor and an external link are each reported."""
    page = ROOT / "docs" / "data.md"
    assert "#mvtec-shift" in {f"#{a}" for a in anchors(page)}
    assert slug("Before running: `evalsuite plan --estimate`") == (
        "before-running-evalsuite-plan---estimate"
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.md").write_bytes(page.read_bytes())
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    broken = tmp_path / "docs" / "broken.md"
    broken.write_text(
        "# Title\n[a](data.md#mvtec-shift) [b](nothing.md) [c](data.md#no-such-heading)\n"
        "[d](https://example.org) <https://example.org> [e](#title) `[f](gone.md)`\n"
        "```\n[g](gone-too.md)\n```\n[h](../outside.md) [i](../../outside.md)\n",
        encoding="utf-8",
    )
    problems = link_problems(broken, root=tmp_path / "docs")
    assert len(problems) == 6, problems
    assert any("nothing.md names no file" in p for p in problems)
    assert any("../outside.md names no file" in p for p in problems)  # outside the repository
    assert any("#no-such-heading" in p for p in problems)
    assert sum("example.org" in p for p in problems) == 2


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_path_named_exists(doc: Path) -> None:
    """Every `evalsuite/...`, `tests/...` (and benchmarks, docker, templates, CI) path the text
    names is in the repository, so a module that moves cannot leave the docs behind."""
    text = doc.read_text(encoding="utf-8")
    named = {match.rstrip(".,:;") for match in REPO_PATH.findall(text)}
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


PACKAGE_BULLET = re.compile(r"^- `(evalsuite/(?:[\w/]+/)?)`(.*?)(?=^- |^#|\Z)", re.M | re.S)
MODULE = re.compile(r"`((?:\w+/)*\w+\.py)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_module_a_package_bullet_names_exists(doc: Path) -> None:
    """In a bullet about a package (`- `evalsuite/runner/`: ...`), a module named by its file
    name alone (`plan.py`, `patchcore/params.py`) is a file of that package, at any depth (a
    stage sub-package, e.g. `runner/planning/plan.py`)."""
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    missing = sorted(
        package + module
        for package, body in PACKAGE_BULLET.findall(text)
        for module in MODULE.findall(body)
        if not module.startswith(("evalsuite/", "tests/", "benchmarks/"))
        and not any(path.is_file() for path in (ROOT / package).rglob(module))
    )
    assert not missing, f"{doc.relative_to(ROOT)} names modules that do not exist: {missing}"


# The README's command table against the CLI.


def cli_commands() -> dict[str, set[str]]:
    """Every command path of the CLI (`data synth`, `run`, ...) with its long options, less
    `--help` and `--verbose` (which every command takes)."""
    found: dict[str, set[str]] = {}

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                sub = command.get_command(click.Context(command), name)
                assert sub is not None
                walk(sub, [*path, name])
            return
        options = {
            opt
            for param in command.get_params(click.Context(command))
            for opt in [*param.opts, *param.secondary_opts]  # `--no-x` of a `--x/--no-x` flag
            if opt.startswith("--")
        }
        found[" ".join(path)] = options - {"--help", "--verbose"}

    walk(cli, [])
    return found


def readme_command_rows() -> dict[str, set[str]]:
    """The README's command table: each command path with the long options its rows show
    (`all`'s "[run options]" standing for those of `run`)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## The command line", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        synopsis = re.match(r"\| `evalsuite ([a-z0-9 -]+?)(?: [A-Z\[-]| ?`)", line)
        if synopsis is None:
            continue
        first_cell = re.split(r"(?<!\\)\|", line)[1]
        options = set(re.findall(r"--[a-z][a-z-]*", first_cell))
        if "[run options]" in first_cell:
            options |= rows["run"]
        rows.setdefault(synopsis.group(1), set()).update(options)
    return rows


def test_the_readme_command_table_is_the_cli() -> None:
    rows = readme_command_rows()
    commands = cli_commands()
    assert set(rows) == set(commands), "commands in the README's table differ from the CLI's"
    problems = [
        f"`evalsuite {name}`: the README shows {sorted(rows[name] - options)} that the CLI "
        f"lacks and omits {sorted(options - rows[name])}"
        for name, options in commands.items()
        if rows[name] != options
    ]
    assert not problems, "\n".join(problems)


# The numbers quoted from the demo against its records.


def demo_cells() -> list[dict[str, Any]]:
    """The demo's cell records, or a skip when `make all` has not written them."""
    if not (DEMO / "manifest.json").is_file():
        pytest.skip(
            "results/demo holds no finished demo run (manifest.json): run `make all` before "
            "`make test` (as CI does) to check the numbers the docs quote from the demo"
        )
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((DEMO / "cells").rglob("*.json"))
    ]


def headline_cell(cells: list[dict[str, Any]], label: str, kind: str, category: str) -> Any:
    condition, regime = kind.split("/")
    (cell,) = (
        cell
        for cell in cells
        if (cell["label"], cell["condition"], cell["regime"], cell["category"])
        == (label, condition, regime, category)
        and (cell["scope"], cell["sweep"], cell["seed"]) == ("per_class", None, 0)
    )
    return cell


def auroc(cells: list[dict[str, Any]], label: str, kind: str, category: str) -> float:
    value: float = headline_cell(cells, label, kind, category)["metrics"]["image_auroc"]["value"]
    return value


def readme_section(title: str) -> str:
    return README.read_text(encoding="utf-8").split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_readme_headline_table_is_the_demo_run() -> None:
    cells = demo_cells()
    section = readme_section("What the demo shows")
    table = [line for line in section.splitlines() if line.startswith("| ")]
    header, *rows = (line.strip("| ").split(" | ") for line in table)
    assert header[0] == "PatchCore image AUROC"
    categories = header[1:]
    assert categories == sorted({cell["category"] for cell in cells})
    kinds = [row[0].split(" ")[0] for row in rows]
    assert kinds == ["clean/none", "shift/none", "shift/retrain"]
    expected = []
    for kind in kinds:
        entries = []
        for category in categories:
            metric = headline_cell(cells, "patchcore", kind, category)["metrics"]["image_auroc"]
            low, high = metric["ci95"]
            entries.append(f"{metric['value']:.3f} [{low:.3f}, {high:.3f}]")
        expected.append(entries)
    assert [row[1:] for row in rows] == expected, (
        "the README's headline table is not the demo's; from results/demo it reads:\n"
        + "\n".join(
            f"| {kind} | " + " | ".join(row) + " |"
            for kind, row in zip(kinds, expected, strict=True)
        )
    )
    # the row says so: thresholds move no AUROC
    for category in categories:
        assert auroc(cells, "patchcore", "shift/threshold", category) == auroc(
            cells, "patchcore", "shift/none", category
        )


def test_the_readme_sentences_on_the_demo_are_the_run() -> None:
    cells = demo_cells()
    section = readme_section("What the demo shows")
    categories = ["carpet", "hazelnut", "zipper"]
    padim = re.search(r"PaDiM's clean/none image AUROC is ([\d.]+) / ([\d.]+) / ([\d.]+)", section)
    assert padim is not None
    assert list(padim.groups()) == [
        f"{auroc(cells, 'padim', 'clean/none', c):.3f}" for c in categories
    ]
    fall = re.search(r"\(zipper ([\d.]+)\)", section)
    assert (
        fall is not None and fall.group(1) == f"{auroc(cells, 'padim', 'shift/none', 'zipper'):.3f}"
    )
    cost = re.search(
        r"separability \(([\d.]+) → ([\d.]+)\), ([\d.]+)\s+on carpet and ([\d.]+) on hazelnut",
        section,
    )
    assert cost is not None

    def drop(category: str) -> str:
        clean = round(auroc(cells, "patchcore", "clean/none", category), 3)
        shift = round(auroc(cells, "patchcore", "shift/none", category), 3)
        return f"{clean - shift:.3f}"

    assert list(cost.groups()) == [
        f"{auroc(cells, 'patchcore', 'clean/none', 'zipper'):.3f}",
        f"{auroc(cells, 'patchcore', 'shift/none', 'zipper'):.3f}",
        drop("carpet"),
        drop("hazelnut"),
    ]
    # "retraining wins back part of it on carpet and zipper, not on hazelnut"
    for category, wins in [("carpet", True), ("zipper", True), ("hazelnut", False)]:
        retrain = auroc(cells, "patchcore", "shift/retrain", category)
        assert (retrain > auroc(cells, "patchcore", "shift/none", category)) is wins


def test_the_readme_quotes_what_the_demo_shift_page_finds_for_zipper() -> None:
    """The sentences of the demo's page "What the shift does" on zipper, as the README quotes
    them (generated from the demo's records, `views.attribution_findings`)."""
    demo_cells()
    from evalsuite.site.read.load import load_results
    from evalsuite.site.views.attribution import attribution_view
    from evalsuite.site.views.attribution_findings import findings
    from evalsuite.site.views.resamples import paired_resamples
    from evalsuite.site.views.tables import grid_of

    results = load_results(DEMO)
    grid = grid_of(results)
    view = attribution_view(results, grid, paired_resamples(results, grid))  # as the site
    lines = readme_section("What the demo shows").splitlines()
    said = " ".join(" ".join(line.removeprefix(">") for line in lines).split())  # quotes too
    texts = {
        f.label: f.text
        for f in findings(view.drops)
        if (f.category, f.scope) == ("zipper", "per_class")
    }
    assert set(texts) == {"patchcore", "padim"}, "the demo evaluates no shift variant"
    for label, text in texts.items():
        assert text in said, f"the README should quote the demo's sentence for {label}: {text}"


def test_the_readme_quotes_what_the_demo_overview_found() -> None:
    """The findings the README quotes are sentences of the demo site's "What the study found"
    (generated from its paired differences, `views.findings`), word for word."""
    demo_cells()
    index = SITE / "index.html"
    if not index.is_file():
        pytest.skip("site/ holds no demo site: run `make all` before `make test` (as CI does)")
    page = index.read_text(encoding="utf-8")
    start = page.index("What the study found")
    section = re.sub(r"<[^>]+>", " ", page[start : page.index("</section>", start)])
    shown = " ".join(html.unescape(section).split())
    lines = readme_section("What the demo shows").splitlines()
    said = " ".join(" ".join(line[1:] for line in lines if line.startswith(">")).split())
    quoted = re.findall(r"The shift costs .*?\(Holm-adjusted p = [0-9.e-]+\)\.", said)
    assert quoted, "the README should quote the demo's findings"
    for sentence in quoted:
        assert sentence in shown, f"not among the demo overview's findings: {sentence}"


def test_the_demo_counts_in_the_docs_are_the_run() -> None:
    """Test images per cell, cells, fits and forward passes, raw maps: as quoted."""
    cells = demo_cells()
    manifest = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    sizes = sorted({len(cell["scores"]) for cell in cells if cell["status"] == "ok"})
    quoted = {
        (doc.name, match)
        for doc in DOCS
        for match in re.findall(r"(\d+)[–-](\d+) test\s+images", doc.read_text(encoding="utf-8"))
    }
    assert quoted, "the docs quote no count of the demo's test images"
    for name, (low, high) in quoted:
        assert (int(low), int(high)) == (sizes[0], sizes[-1]), (
            f"{name} says {low}–{high} test images; the demo's cells hold {sizes[0]}–{sizes[-1]}"
        )
    readme = readme_section("What the demo shows")
    counts = re.search(r"(\d+) cells from (\d+) fits and (\d+) backbone\s+forward passes", readme)
    assert counts is not None
    cells_n, fits_n, passes_n = (int(group) for group in counts.groups())
    tally = manifest["counts"]
    assert cells_n == len(cells) == tally["cells_total"]
    assert fits_n == tally["fits"] + tally["fits_cached"]
    if tally["cells_cached"] == 0:  # a run that resumed nothing saw every input
        assert passes_n == tally["distinct_inputs"] == tally["forward_passes"]
    data = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    split = re.search(r"(\d+) normal and (\d+)–(\d+) defective", data)
    assert split is not None
    normal = {sum(s["label"] == 0 for s in cell["scores"]) for cell in cells}
    defective = sorted({sum(s["label"] == 1 for s in cell["scores"]) for cell in cells})
    assert [int(group) for group in split.groups()] == [*normal, defective[0], defective[-1]]


def kilo_and_mega(files: list[Path]) -> tuple[str, str]:
    """The mean size in kB (no decimals) and the total in MB (one decimal) of `files`."""
    total = sum(path.stat().st_size for path in files)
    return f"{total / len(files) / 1e3:.0f}", f"{total / 1e6:.1f}"


def test_the_demo_artifact_sizes_in_the_docs_are_the_run() -> None:
    demo_cells()
    maps = list((DEMO / "artifacts").rglob("*.map.png"))
    studies = (ROOT / "docs" / "studies.md").read_text(encoding="utf-8")
    quoted = re.search(r"the demo's (\d+) maps add about ([\d.]+) MB,\s+(\d+) kB each", studies)
    assert quoted is not None
    kilo, mega = kilo_and_mega(maps)
    assert quoted.groups() == (str(len(maps)), mega, kilo)
    evidence = list((DEMO / "artifacts").rglob("evidence.npz"))
    text = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    quoted = re.search(r"(\d+) files of (\d+) kB on average, ([\d.]+) MB in\s+all", text)
    assert quoted is not None
    kilo, mega = kilo_and_mega(evidence)
    assert quoted.groups() == (str(len(evidence)), kilo, mega)


def test_the_demo_site_numbers_in_the_docs_are_the_build() -> None:
    """The families of paired differences and the exported figures, as quoted."""
    demo_cells()
    differences = SITE / "downloads" / "differences.csv"
    if not differences.is_file():
        pytest.skip("site/ holds no demo site: run `make all` before `make test` (as CI does)")
    with differences.open(encoding="utf-8", newline="") as handle:
        # the docs count the per-category comparisons; the mean rows come on top
        rows = [row for row in csv.DictReader(handle) if row["category"] != "mean"]
    evaluation = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    quoted = re.search(
        r"(\d+) differences \(one per\s+comparison and metric\) in (\d+) families \(([^)]*)\),"
        r"\s+of which ([\d, and]+) have an\s+interval excluding 0 and ([\d, and]+) are starred",
        evaluation,
    )
    assert quoted is not None
    # a family's first word is its name in differences.csv: shift, ..., sweep(:<detector>:<param>)
    sizes = {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", quoted.group(3))}
    excluding = [int(n) for n in re.findall(r"\d+", quoted.group(4))]
    families = Counter(row["family"].split(":")[0] for row in rows)
    assert int(quoted.group(2)) == len(families) == len(excluding)
    assert int(quoted.group(1)) == len(rows)
    assert sizes == dict(families)
    excludes = Counter(row["family"].split(":")[0] for row in rows if row["excludes_zero"] == "1")
    assert dict(zip(sizes, excluding, strict=True)) == {name: excludes[name] for name in sizes}
    starred = [int(n) for n in re.findall(r"\d+", quoted.group(5))]
    stars = Counter(row["family"].split(":")[0] for row in rows if row["significant"] == "1")
    assert dict(zip(sizes, starred, strict=True)) == {name: stars[name] for name in sizes}
    zero = re.search(
        r"threshold family's (\d+) ranking comparisons are zero by\s+construction \((\d+) tests",
        evaluation,
    )
    threshold = [row for row in rows if row["family"] == "threshold"]
    assert zero is not None
    assert (int(zero.group(1)), int(zero.group(2))) == (
        sum("by construction" in row["reason"] for row in threshold),
        sum(bool(row["p"]) for row in threshold),
    )
    files = [p for p in (SITE / "downloads" / "figures").iterdir() if p.is_file()]
    figures = {path.stem for path in files}  # the page versions (print versions in folders)
    site_md = (ROOT / "docs" / "site.md").read_text(encoding="utf-8")
    quoted_figures = re.search(r"(\d+) figures × (\d+) files, ([\d.]+) MB", site_md)
    assert quoted_figures is not None
    assert quoted_figures.groups() == (
        str(len(figures)),
        str(len(files) // len(figures)),
        kilo_and_mega(files)[1],
    )
