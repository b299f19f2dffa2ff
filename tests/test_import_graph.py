"""The package's import graph, read from the source with `ast`: no circle anywhere, and the
runner's stages import only the stages before them.

Every import statement counts as an edge, wherever it stands: at module level, inside a
function (a lazy import is still a dependency, and a circle through one only waits for the
first call to bite) and under `TYPE_CHECKING` (a circle there is one a refactoring turns into
a crash). `from a import b` is an edge to the module `a.b` when there is one, else to `a`.
Importing `a.b` also runs the package `a`'s `__init__` first; that implicit edge is not
counted, since a package that re-exports its own modules would otherwise always be a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNNER_STAGES = ("planning", "preparation", "estimate", "guard", "writing", "execution")
"""The runner's sub-packages in the order of a run; each may import only those before it."""


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (a folder with __init__.py)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of `modules` that `module` (at `path`) imports, anywhere in its body."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package holding `module`
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, *([node.module] if node.module else [])])
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {target for target in targets if target in modules and target != module}


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    modules = module_files(package)
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` as [a, b, ..., a], or None when it is acyclic."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                circle = visit(target, path)
                if circle is not None:
                    return circle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            circle = visit(start, [])
            if circle is not None:
                return circle
    return None


def backwards_imports(graph: dict[str, set[str]]) -> list[str]:
    """`a -> b` for each runner module that imports a module of a later stage."""
    prefix = "evalsuite.runner."

    def stage(module: str) -> int | None:
        if not module.startswith(prefix):
            return None
        name = module.removeprefix(prefix).split(".")[0]
        return RUNNER_STAGES.index(name) if name in RUNNER_STAGES else None

    found = []
    for source, targets in sorted(graph.items()):
        here = stage(source)
        for target in sorted(targets):
            there = stage(target)
            if here is not None and there is not None and there > here:
                found.append(f"{source} -> {target}")
    return found


def test_evalsuite_has_no_import_circle() -> None:
    graph = import_graph(ROOT / "evalsuite")
    assert len(graph) > 100 and sum(map(len, graph.values())) > 300  # the whole package read
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_runner_stages_import_only_earlier_stages() -> None:
    runner = ROOT / "evalsuite" / "runner"
    stages = sorted(p.name for p in runner.iterdir() if (p / "__init__.py").is_file())
    assert stages == sorted(RUNNER_STAGES)  # a new stage is placed in the order
    flat = sorted(p.name for p in runner.glob("*.py") if p.name != "__init__.py")
    assert flat == [], f"runner modules outside a stage: {flat}"
    assert backwards_imports(import_graph(ROOT / "evalsuite")) == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_circle_through_a_lazy_or_typing_import_is_found(tmp_path: Path) -> None:
    """The checker itself: circles through function-level, TYPE_CHECKING and relative imports
    are found and named; a package's `__init__` re-exporting its modules is no circle."""
    package = _package(
        tmp_path,
        {
            "__init__.py": "from pkg.a import A\n",
            "a.py": "from pkg import b\nA = 1\n",
            "b.py": "def f():\n    from pkg.sub import c\n",
            "sub/__init__.py": "",
            "sub/c.py": "import typing\nif typing.TYPE_CHECKING:\n    from ..a import A\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg"] == {"pkg.a"} and graph["pkg.sub"] == set()
    assert find_circle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    (package / "sub" / "c.py").write_text("import os\n")
    assert find_circle(import_graph(package)) is None


def test_a_backwards_runner_import_is_named() -> None:
    graph = {
        "evalsuite.runner.planning.plan": {"evalsuite.runner.execution.run", "evalsuite.config"},
        "evalsuite.runner.execution.run": {"evalsuite.runner.planning.plan"},
        "evalsuite.runner": {"evalsuite.runner.execution.run"},
    }
    assert backwards_imports(graph) == [
        "evalsuite.runner.planning.plan -> evalsuite.runner.execution.run"
    ]
