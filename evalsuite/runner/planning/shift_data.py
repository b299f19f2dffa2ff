"""The MVTec-Shift trees a study reads: which (severity, variant) pairs, where each lies in the
cache, and writing it (see `data.shift_tree`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from evalsuite.config import StudyConfig
from evalsuite.data.shift_factors import ALL, path_form, tree_name
from evalsuite.runner.planning.plan import variants

ShiftTree = tuple[int, str]
"""(severity, shift variant) of one shifted tree."""
SHIFT_CACHE = "shift"
"""The cache's folder of shifted trees (`<cache>/shift/<name>`)."""


def shift_trees(config: StudyConfig) -> list[ShiftTree]:
    """The shifted trees a study reads, (severity, variant), mixed shifts first: every
    variant's, those without a shifted cell included (as a study always prepared them): the
    study's mixed shift too when `shift.factors` leaves `all` out, whose fingerprint keeps the
    data key, hence every clean fit's id, what it is with `all`."""
    found = {(v.severity, v.factors) for v in variants(config)}
    return sorted(found, key=lambda tree: (tree[1] != ALL, tree))


def described(tree: ShiftTree) -> str:
    """A tree in the announcement: its severity, with its variant unless `all`."""
    severity, factors = tree
    return str(severity) if factors == ALL else f"{severity} {factors}"


def written(tree: ShiftTree) -> int | str:
    """A tree in the preparation report: its severity (the mixed shift, as always), else its
    name (`shift_factors.tree_name`)."""
    severity, factors = tree
    return severity if factors == ALL else tree_name(severity, factors)


def shift_place(
    clean_root: Path,
    clean_fingerprint: str,
    config: StudyConfig,
    severity: int,
    factors: str,
    cache_dir: Path,
) -> Path:
    """The cache folder of the shifted copy of `clean_root` at `severity` with the factors of
    variant `factors` (the mixed shift's folder is named as it always was)."""
    # shift_tree records the source folder it read: two roots holding the same images (a copy,
    # a moved tree) get their own shifted copies instead of refusing each other's.
    where = hashlib.sha256(str(clean_root.resolve()).encode()).hexdigest()[:8]
    name = f"{clean_fingerprint[:16]}-{where}-s{severity}-seed{config.shift.seed}"
    if factors != ALL:
        name += f"-{path_form(factors)}"
    return cache_dir / SHIFT_CACHE / name


def write_tree(
    clean_root: Path,
    place: Path,
    config: StudyConfig,
    severity: int,
    factors: str,
    progress: bool,
    workers: int,
) -> Path:
    """Write (or find already written) the shifted tree at `place`, on `workers` processes."""
    from evalsuite.data.shift_tree import shift_tree

    return shift_tree(
        clean_root,
        place,
        seed=config.shift.seed,
        severity=severity,
        progress=progress,
        workers=workers,
        factors=factors,
    )
