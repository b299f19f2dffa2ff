"""One expansion of the matrix: the run lists the whole study's planned cells in its manifest,
and no module outside `evalsuite/runner/planning` expands the study's configuration again."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from evalsuite import results
from evalsuite.config import StudyConfig
from evalsuite.runner import run_study
from evalsuite.runner.planning.plan import planned_relpath
from evalsuite.runner.planning.study import study_plan

PACKAGE = Path(__file__).resolve().parents[1] / "evalsuite"
STUDY: dict[str, Any] = {
    "name": "planned",
    "seeds": [0, 1],
    "kinds": ["clean/none", "shift/retrain"],
    "scopes": ["per_class"],
    "data": {
        "categories": ["hazelnut"],
        "synthetic": {"size": 64, "n_train": 6, "n_test_good": 4, "n_test_defect": 6},
    },
    "detectors": [
        {
            "name": "patchcore",
            "backbone": {"resize": 64, "crop": 64},
            "params": {"coreset_ratio": 0.25},
        }
    ],
    "sweeps": [
        {
            "detector": "patchcore",
            "param": "params.coreset_ratio",
            "values": [0.5],
            "kinds": ["clean/none"],
        }
    ],
    "evaluation": {"bootstrap": 10, "artifacts_per_cell": 1},
}


def _entry(kind: str, sweep: list[str] | None, seed: int) -> dict[str, Any]:
    """The planned entry of the hazelnut cell `kind` (condition/regime) of PatchCore per_class."""
    condition, regime = kind.split("/")
    swept = f"__{sweep[0]}={sweep[1]}" if sweep else ""
    return {
        "path": f"patchcore/per_class/{regime}/{condition}/hazelnut{swept}__seed{seed}.json",
        "label": "patchcore",
        "scope": "per_class",
        "condition": condition,
        "regime": regime,
        "category": "hazelnut",
        "sweep": sweep,
        "seed": seed,
    }


def test_a_shard_manifest_lists_every_planned_cell_of_the_study(tmp_path: Path) -> None:
    """A shard that computes nothing (5 shards, 4 units) still lists the 6 cells of the whole
    study, 2 seeds and a sweep, in plan order, with the paths the records get and the fields
    that name them: those of the plan `evalsuite plan` shows."""
    config = StudyConfig.model_validate(STUDY)
    out, cache = tmp_path / "out", tmp_path / "cache"
    summary = run_study(config, out, cache_dir=cache, progress=False, shard=(5, 5))
    assert summary.cells == []
    manifest = results.read_manifest(out)
    assert manifest["counts"]["cells_total"] == 0 and manifest["shards"] == ["5/5"]
    swept = ["params.coreset_ratio", "0.5"]
    expected = [
        entry
        for seed in (0, 1)
        for entry in (
            _entry("clean/none", None, seed),
            _entry("shift/retrain", None, seed),
            _entry("clean/none", swept, seed),
        )
    ]
    assert manifest["planned"] == expected
    _, plan, _ = study_plan(config, cache)
    assert [entry["path"] for entry in manifest["planned"]] == [
        str(planned_relpath(cell, multi_seed=True)) for cell in plan.cells
    ]
    assert [
        (e["condition"], e["regime"], e["seed"], e["sweep"] is not None)
        for e in manifest["planned"]
    ] == [(c.condition, c.regime, c.fit.seed, c.variant.sweep is not None) for c in plan.cells]


AXES = {"detectors", "scopes", "kinds", "categories", "seeds"}
"""The configuration's axes whose product is the study's cells."""


def _axis(node: ast.expr) -> bool:
    """Whether `node` reads one of the configuration's axes: `config["kinds"]` (a manifest's
    configuration) or `config.kinds`, `study.seeds`, `config.data.categories` (a StudyConfig)."""
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value in AXES
    if isinstance(node, ast.Attribute) and node.attr in AXES:
        base = node.value
        named = isinstance(base, ast.Name) and base.id in {"config", "study"}
        return named or (isinstance(base, ast.Attribute) and base.attr == "data")
    return False


def _loops_over_an_axis(node: ast.AST) -> bool:
    if isinstance(node, ast.For | ast.AsyncFor):
        return _axis(node.iter)
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        return any(_axis(generator.iter) for generator in node.generators)
    return False


def _expansions(tree: ast.AST) -> list[int]:
    """Lines of loops over one axis nested in a loop over another: a product of the axes."""
    found: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.AsyncFor) and _axis(node.iter):
            inner = (n for stmt in node.body for n in ast.walk(stmt))
            if any(_loops_over_an_axis(n) for n in inner):
                found.append(node.lineno)
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) and (
            sum(_axis(generator.iter) for generator in node.generators) >= 2
        ):
            found.append(node.lineno)
    return found


def _names(tree: ast.AST) -> set[str]:
    """Every name a module imports, reads or calls."""
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imported = (node.names for node in ast.walk(tree) if isinstance(node, ast.ImportFrom))
    return names | {alias.name for aliases in imported for alias in aliases}


def test_only_planning_expands_the_matrix() -> None:
    """Outside `evalsuite/runner/planning`, no module loops over a product of the study's axes
    (the site once re-expanded the configuration by hand to find its missing cells), and only
    the run's preparation makes the plan; everything else reads the manifest's `planned`."""
    planning = PACKAGE / "runner" / "planning"
    run_prepares_the_plan = PACKAGE / "runner" / "preparation" / "context.py"
    expanding: list[str] = []
    planners: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(planning):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(PACKAGE.parent).as_posix()
        expanding += [f"{name}:{line}" for line in _expansions(tree)]
        if "make_plan" in _names(tree) and path != run_prepares_the_plan:
            planners.append(name)
    assert expanding == [] and planners == []
    assert "make_plan" in _names(ast.parse(run_prepares_the_plan.read_text(encoding="utf-8")))
    assert _expansions(ast.parse((planning / "plan.py").read_text(encoding="utf-8")))
