"""The shifted trees a study reads: which (severity, variant) pairs of its shift family, which
of their images it reads, where each lies in the cache, and writing it (`data.shift_tree` for
MVTec-Shift, `data.corruption_tree` for the corruptions).

A variant tree (not the mixed shift's, whose fingerprint is in every fit's key) that no cell
of the study retrains on is written with the images of val and test only: its cells read the
clean fits and score its val and test images, so its train images would be computed for
nothing. Such a tree is its own folder (`-valtest-<digest>`) and its marker records the ids it
holds, so it is never taken for the full tree a retraining study writes.

On an MVTec AD 2 tree every shifted tree is written from the clean images, the regular
condition's (`real_conditions.regular_only`), so it is a subset too (`-regular-<digest>`). The
real conditions (`shift.conditions`) are no shifted tree: they are read from the tree itself."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path

from evalsuite.config import StudyConfig
from evalsuite.data.samples import Sample
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import CORRUPTIONS, REAL, folder_suffix, tree_name
from evalsuite.data.splits import Splits
from evalsuite.evaluation.regimes import plan_for
from evalsuite.runner.planning.variants import variants

ShiftTree = tuple[int, str]
"""(severity, shift variant) of one shifted tree."""
SHIFT_CACHE = "shift"
"""The cache's folder of shifted trees (`<cache>/shift/<name>`)."""


def shift_trees(config: StudyConfig) -> list[ShiftTree]:
    """The shifted trees a study reads, (severity, variant), mixed shifts first: every
    variant's, those without a shifted cell included (as a study always prepared them): the
    study's mixed shift too when `shift.factors` leaves `all` out, whose fingerprint keeps the
    data key, hence every clean fit's id, what it is with `all`. The corruption family has no
    mixed shift: its trees are its variants' (the baseline reads clean images only)."""
    found = {(v.severity, v.factors) for v in variants(config) if v.family != REAL}
    if config.shift.family == CORRUPTIONS:
        found = {(v.severity, v.factors) for v in variants(config) if v.family == CORRUPTIONS}
    return sorted(found, key=lambda tree: (tree[1] != ALL, tree))


def retrained(config: StudyConfig, tree: ShiftTree) -> bool:
    """Whether a cell of the study fits on the shifted train images of `tree` (a kind whose
    fit reads shifted images: `shift/retrain`)."""
    return any(
        plan_for(*kind.split("/")).fit_condition == "shift"
        for variant in variants(config)
        if (variant.severity, variant.factors) == tree
        for kind in variant.kinds
    )


def read_ids(
    config: StudyConfig, tree: ShiftTree, samples: Sequence[Sample], splits: Collection[Splits]
) -> frozenset[str] | None:
    """The ids of the clean `samples` whose shifted images the study reads from `tree`: every
    image (None; on an MVTec AD 2 tree, whose clean images are a subset of the tree, their
    ids) for the mixed shift of MVTec-Shift and for a tree some cell retrains on, else those
    in val or test under any of the study's `splits` (its seeds). Every image too when that
    would leave a category without a train image (`splits.val_normal_ratio = 0`): a tree's
    category needs its train/good folder."""
    factors = tree[1]
    every = frozenset(s.id for s in samples) if config.data.layout == "mvtec_ad2" else None
    if (factors == ALL and config.shift.family != CORRUPTIONS) or retrained(config, tree):
        return every
    ids = frozenset(
        sample.id
        for sample in samples
        if any(split.split_of(sample) != "train" for split in splits)
    )
    train_kept = {s.category for s in samples if s.folder == "train" and s.id in ids}
    return ids if train_kept == {s.category for s in samples} else every


def described(tree: ShiftTree, family: str) -> str:
    """A tree in the announcement: its severity, with its variant unless `all`."""
    severity, factors = tree
    return str(severity) if factors == ALL and family != CORRUPTIONS else f"{severity} {factors}"


def written(tree: ShiftTree, family: str) -> int | str:
    """A tree in the preparation report: its severity (the mixed shift, as always), else its
    name (`shift_family.tree_name`)."""
    severity, factors = tree
    if factors == ALL and family != CORRUPTIONS:
        return severity
    return tree_name(severity, factors, family)


def shift_place(
    clean_root: Path,
    clean_fingerprint: str,
    config: StudyConfig,
    severity: int,
    factors: str,
    cache_dir: Path,
    only: Collection[str] | None = None,
) -> Path:
    """The cache folder of the shifted copy of `clean_root` at `severity` with the factors of
    variant `factors` of the study's family (the mixed shift's folder is named as it always
    was; a variant adds `-<variant>`, a corruption `-corruptions-<type>`), of the images
    `only` (`read_ids`; adds `-valtest-<first 8 hex digits of the ids' SHA-256>`, `-regular-`
    on an MVTec AD 2 tree)."""
    # shift_tree records the source folder it read: two roots holding the same images (a copy,
    # a moved tree) get their own shifted copies instead of refusing each other's.
    where = hashlib.sha256(str(clean_root.resolve()).encode()).hexdigest()[:8]
    name = f"{clean_fingerprint[:16]}-{where}-s{severity}-seed{config.shift.seed}"
    name += folder_suffix(factors, config.shift.family)
    if only is not None:
        from evalsuite.data.shift_tree import subset_key

        subset = "regular" if config.data.layout == "mvtec_ad2" else "valtest"
        name += f"-{subset}-{str(subset_key(only)['ids_sha256'])[:8]}"
    return cache_dir / SHIFT_CACHE / name


def write_tree(
    clean_root: Path,
    place: Path,
    config: StudyConfig,
    severity: int,
    factors: str,
    progress: bool,
    workers: int,
    only: Collection[str] | None = None,
) -> Path:
    """Write (or find already written) the shifted tree at `place`, on `workers` processes,
    of every image or of the images `only` (`read_ids`)."""
    if config.shift.family == CORRUPTIONS:
        from evalsuite.data.corruption_tree import corruption_tree

        return corruption_tree(
            clean_root, place, factors, severity, config.shift.seed, progress, workers, only
        )
    from evalsuite.data.shift_tree import shift_tree

    return shift_tree(
        clean_root,
        place,
        seed=config.shift.seed,
        severity=severity,
        progress=progress,
        workers=workers,
        factors=factors,
        only=only,
    )


def tree_written(
    clean_root: Path,
    place: Path,
    config: StudyConfig,
    tree: ShiftTree,
    only: Collection[str] | None = None,
) -> bool:
    """Whether `place` already holds the shifted tree `write_tree` would write there."""
    severity, factors = tree
    seed = config.shift.seed
    if config.shift.family == CORRUPTIONS:
        from evalsuite.data.corruption_tree import corruption_tree_written

        return corruption_tree_written(clean_root, place, factors, severity, seed, only)
    from evalsuite.data.shift_tree import shift_tree_written

    return shift_tree_written(clean_root, place, seed, severity, factors, only)


def seconds_per_image(sample: Sample, config: StudyConfig, tree: ShiftTree) -> float:
    """Seconds one process takes to write `sample`'s image into `tree`, measured here."""
    severity, factors = tree
    if config.shift.family == CORRUPTIONS:
        from evalsuite.data.corruption_tree import seconds_per_image as corruption_seconds

        return corruption_seconds(sample, factors, severity, config.shift.seed)
    from evalsuite.data.shift_tree import seconds_per_image as shift_seconds

    return shift_seconds(sample, config.shift.seed, severity)
