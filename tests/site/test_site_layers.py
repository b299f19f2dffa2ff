"""The site is built in stages (`evalsuite/site/__init__.py`): every module sits in one stage
sub-package (or is the shared leaf `catalogue`), and no module imports from a later stage.

Read from the source with `ast` (every import, also those inside functions), so a backwards
import fails here even where it would not make a cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[2] / "evalsuite" / "site"
PACKAGE = "evalsuite.site"
STAGES = ("read", "charts", "views", "pages", "downloads", "build")
"""The stages in the order a results folder flows through them."""
LEAVES = ("catalogue",)
"""Shared leaf modules: they import nothing of the site; every stage may import them."""


def module_name(path: Path) -> str:
    """The dotted name of the module at `path` under `SITE`."""
    parts = path.relative_to(SITE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imported(source: str, name: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every `evalsuite.site` module or package that `source` (the
    module `name`) imports; `from X import y` counts as importing `X.y` (y may be a module)."""
    here = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                base = f"{anchor}.{base}" if base else anchor
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, target) for line, target in found if target.startswith(f"{PACKAGE}.")]


def place(name: str) -> str | None:
    """The stage (or leaf) `name` belongs to: its first part under `evalsuite.site`; None for
    the package `evalsuite.site` itself."""
    if name == PACKAGE:
        return None
    return name.removeprefix(f"{PACKAGE}.").split(".")[0]


def violations(name: str, source: str, is_package: bool = False) -> list[str]:
    """Why the module `name` with text `source` breaks the stage order (empty: it keeps it)."""
    own = place(name)
    if own is None:  # the package's public face: it may import the build
        return []
    if own not in STAGES and own not in LEAVES:
        return [f"{name} is in no stage: put it in one of {', '.join(STAGES)}"]
    problems = []
    for line, target in imported(source, name, is_package):
        other = place(target)
        if own in LEAVES:
            problems.append(f"{name}:{line} imports {target}: a shared leaf imports nothing")
        elif other in LEAVES:
            continue
        elif other not in STAGES:  # `from evalsuite.site import build_site`, an unknown place
            problems.append(f"{name}:{line} imports {target}: import from a stage module")
        elif STAGES.index(other) > STAGES.index(own):
            problems.append(f"{name}:{line} imports {target}: stage {other} comes after {own}")
    return problems


def site_modules() -> list[Path]:
    return sorted(SITE.rglob("*.py"))


def test_every_stage_and_leaf_exists() -> None:
    for stage in STAGES:
        assert (SITE / stage / "__init__.py").is_file(), stage
    for leaf in LEAVES:
        assert (SITE / f"{leaf}.py").is_file(), leaf
    assert len(site_modules()) > 30  # the whole site is read, not an empty folder


def test_no_module_imports_from_a_later_stage() -> None:
    problems = []
    for path in site_modules():
        name = module_name(path)
        problems += violations(name, path.read_text(encoding="utf-8"), path.stem == "__init__")
    assert problems == []


def test_every_site_module_is_in_a_stage() -> None:
    loose = [
        module_name(p)
        for p in site_modules()
        if p.parent == SITE and p.stem != "__init__" and p.stem not in LEAVES
    ]
    assert loose == []


@pytest.mark.parametrize(
    ("name", "source", "why"),
    [
        (
            "evalsuite.site.read.load",
            "from evalsuite.site.views.tables import Grid\n",
            "stage views comes after read",
        ),
        (
            "evalsuite.site.pages.detail",
            "def f():\n    from evalsuite.site.downloads import figure_exports\n",
            "stage downloads comes after pages",
        ),
        (
            "evalsuite.site.charts.specs",
            "import evalsuite.site.build.assemble\n",
            "stage build comes after charts",
        ),
        ("evalsuite.site.views.tables", "from ..pages import study\n", "pages comes after views"),
        (
            "evalsuite.site.downloads.latex",
            "from evalsuite.site import build_site\n",
            "import from a stage module",
        ),
        ("evalsuite.site.catalogue", "from evalsuite.site.read import records\n", "a shared leaf"),
        ("evalsuite.site.tables", "", "is in no stage"),
    ],
)
def test_a_backwards_import_is_reported(name: str, source: str, why: str) -> None:
    problems = violations(name, source)
    assert len(problems) == 1 and why in problems[0], problems


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("evalsuite.site.pages.detail", "from evalsuite.site.views import figures\n"),
        ("evalsuite.site.views.tables", "from .stats import summarise\n"),
        ("evalsuite.site.pages.changes", "from evalsuite.site.catalogue import Download\n"),
        ("evalsuite.site.build.assemble", "from evalsuite.site.read.load import load_results\n"),
        ("evalsuite.site.read.load", "from evalsuite.results import iter_cells\n"),
    ],
)
def test_an_import_from_the_same_or_an_earlier_stage_is_allowed(name: str, source: str) -> None:
    assert violations(name, source) == []
