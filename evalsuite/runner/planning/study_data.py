"""The data a study reads: the clean tree (synthetic, given or downloaded), its MVTec-Shift
copies (the mixed shift at each severity, and each shift variant of `shift.factors`), the test
sets of MVTec AD 2's real conditions (`shift.conditions`), their fingerprints, and the splits of
each seed.

On an MVTec AD 2 tree the clean tree is its regular condition (`real_conditions.regular_only`):
every shifted copy is written from those images, and each real condition's test set is read
from the tree (`real_conditions.condition_test_set`), its train and val images the clean ones."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsuite.atomic import write_json
from evalsuite.config import StudyConfig
from evalsuite.data.layouts.detect import detect_layout
from evalsuite.data.reader import check_files, fingerprint, problem_text, read_dataset
from evalsuite.data.real_conditions import condition_test_set, regular_only
from evalsuite.data.samples import Dataset, Sample
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import CORRUPTIONS, MVTEC_SHIFT, REAL, tree_name
from evalsuite.data.skipped import summary
from evalsuite.data.splits import Split, SplitConfig, Splits, make_splits
from evalsuite.errors import DatasetError
from evalsuite.outputs import cache_from_environment, remove_dead_staging
from evalsuite.runner.planning.plan import RESULTS_VERSION, CellPlan, FitPlan, content_key
from evalsuite.runner.planning.shift_data import (
    SHIFT_CACHE,
    ShiftTree,
    described,
    read_ids,
    seconds_per_image,
    shift_place,
    shift_trees,
    tree_written,
    write_tree,
    written,
)
from evalsuite.runner.planning.variants import REAL_SEVERITY

log = logging.getLogger(__name__)
CACHE_TREES = ("synthetic", SHIFT_CACHE)
SLOW_PREPARATION_S = 60.0
"""Shifted trees projected to take longer than this are announced as a warning (else info)."""
"""The cache's folders of generated datasets (`<cache>/<folder>/<key>`)."""


def default_cache_dir() -> Path:
    """`$EVALSUITE_CACHE`, else `~/.cache/evalsuite`: generated and shifted datasets live here.

    Raises:
        ConfigError: `EVALSUITE_CACHE` is set but empty.
    """
    return cache_from_environment("EVALSUITE_CACHE", Path.home() / ".cache" / "evalsuite")


@dataclass(frozen=True)
class StudyData:
    """The datasets of a study.

    Attributes:
        clean: the clean tree.
        shifted: severity -> the MVTec-Shift copy at that severity (every factor).
        fingerprints: "clean" and "shift-s<N>" -> content fingerprint.
        splits: seed -> the split assignment (by sample id, shared by every condition).
        preparation: what preparing it wrote (see `Preparation`); empty when nothing.
        factored: (family, severity, variant) (`Variant.tree`) -> the copy with only that
            variant's factors, for each variant other than `all` the study evaluates
            (`shift.factors`), or with that corruption type in the corruption family (every
            variant of it); and ("real", 0, condition) -> the test set of each real condition
            (`shift.conditions`: its test images only, see `real_conditions`).
        factor_fingerprints: `shift_family.tree_name` -> content fingerprint of each
            `factored` dataset; not part of `key()` (they enter only the keys of the cells and
            fits that read them, see `plan.make_plan`).
    """

    clean: Dataset
    shifted: dict[int, Dataset]
    fingerprints: dict[str, str]
    splits: dict[int, Splits]
    preparation: dict[str, Any] = field(default_factory=dict)
    factored: dict[tuple[str, int, str], Dataset] = field(default_factory=dict)
    factor_fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Whether the data is the synthetic generator's."""
        return self.clean.synthetic is not None

    def key(self) -> dict[str, Any]:
        """What identifies the data in fit and cell keys."""
        return {
            "fingerprints": self.fingerprints,
            "splits": {str(s): sp.config.__dict__ for s, sp in self.splits.items()},
            "version": RESULTS_VERSION,
        }

    def samples(
        self,
        condition: str,
        severity: int,
        split: Split,
        categories: Sequence[str],
        seed: int,
        factors: str = ALL,
        family: str = MVTEC_SHIFT,
    ) -> list[Sample]:
        """The samples of one condition, split and set of categories, in id order (shifted
        images: of the tree of `severity` and shift variant `factors` of `family`; a real
        condition's train and val images are the clean ones)."""
        wanted = set(categories)
        if condition == "clean" or (family == REAL and split != "test"):
            dataset = self.clean
        elif family == REAL:  # its test images only; on MVTec AD 2 every test image is test
            real = self.factored[(family, severity, factors)]
            return [s for s in real.samples if s.category in wanted]
        elif factors == ALL and family != CORRUPTIONS:
            dataset = self.shifted[severity]
        else:
            dataset = self.factored[(family, severity, factors)]
        chosen = [s for s in dataset.samples if s.category in wanted]
        return self.splits[seed].select(chosen, split)


def prepare_data(
    config: StudyConfig, cache_dir: Path, progress: bool = True, workers: int = 1
) -> StudyData:
    """Generate, download or read the clean tree, write the shifted copies (on `workers`
    processes), make the splits.

    Every tree is validated fully (see `validate`) before anything is computed from it. The
    staging folders that killed generations left in the cache are removed first.

    Raises:
        DatasetError: a missing category, or a tree with problems (all of them listed).
    """
    for generated in CACHE_TREES:
        remove_dead_staging(cache_dir / generated)
    clean_root = _clean_root(config, cache_dir)
    layout = config.data.layout
    read = read_dataset(clean_root, config.data.categories, layout)
    _warn_skipped(read)
    clean = regular_only(read) if layout == "mvtec_ad2" else read
    fingerprints = {"clean": fingerprint(clean)}
    validate(clean, fingerprints["clean"], cache_dir)
    shifted: dict[int, Dataset] = {}
    factored: dict[tuple[str, int, str], Dataset] = {}
    factor_fingerprints: dict[str, str] = {}
    splits = {seed: make_splits(clean.samples, split_config(config, seed)) for seed in config.seeds}
    trees = shift_trees(config)
    subsets = {tree: read_ids(config, tree, clean.samples, splits.values()) for tree in trees}
    places = {
        tree: shift_place(
            clean_root, fingerprints["clean"], config, *tree, cache_dir, subsets[tree]
        )
        for tree in trees
    }
    preparation = _announce(clean, config, places, subsets, workers)
    started = time.perf_counter()
    for severity, factors in trees:
        tree = (severity, factors)
        root = write_tree(
            clean_root, places[tree], config, severity, factors, progress, workers, subsets[tree]
        )
        dataset = read_dataset(root, config.data.categories, layout)
        _warn_skipped(dataset)
        name = tree_name(severity, factors, config.shift.family)
        content = fingerprint(dataset)
        validate(dataset, content, cache_dir)
        if factors == ALL and config.shift.family != CORRUPTIONS:
            shifted[severity], fingerprints[name] = dataset, content
        else:
            key = (config.shift.family, severity, factors)
            factored[key], factor_fingerprints[name] = dataset, content
    if preparation:
        preparation["shift_write_s"] = round(time.perf_counter() - started, 1)
    for condition in config.real_conditions:
        real = condition_test_set(read, condition, config.data.categories)
        content = fingerprint(real)
        validate(real, content, cache_dir)
        factored[(REAL, REAL_SEVERITY, condition)] = real
        factor_fingerprints[tree_name(REAL_SEVERITY, condition, REAL)] = content
    return StudyData(
        clean, shifted, fingerprints, splits, preparation, factored, factor_fingerprints
    )


def split_config(config: StudyConfig, seed: int) -> SplitConfig:
    """How the study splits its clean tree: `splits`' shares, except on an MVTec AD 2 tree,
    whose `validation/good` is the val split (normal only: nothing held out of train, no test
    anomaly moved into val; the shares are ignored, with a warning when set)."""
    ratios = config.splits
    if config.data.layout != "mvtec_ad2":
        return SplitConfig(ratios.val_normal_ratio, ratios.val_anomaly_ratio, seed)
    if ratios != type(ratios)():
        log.warning(
            "splits.val_normal_ratio and splits.val_anomaly_ratio are ignored on an MVTec AD 2 "
            "tree: its validation/good is the val split, train/good and test_public stay whole"
        )
    return SplitConfig(0.0, 0.0, seed)


def _announce(
    clean: Dataset,
    config: StudyConfig,
    places: dict[ShiftTree, Path],
    subsets: dict[ShiftTree, frozenset[str] | None],
    workers: int,
) -> dict[str, Any]:
    """Before writing the shifted trees the cache lacks, say how many images that is and
    what it will take here (one image timed on this machine, divided over the processes):
    at MVTec AD's 1024 px it is the better part of an hour on two cores. Returns what the
    estimate reports as the data preparation ({} when every tree is cached)."""
    missing = [
        tree
        for tree, place in places.items()
        if not tree_written(clean.root, place, config, tree, subsets[tree])
    ]
    if not missing or not clean.samples:
        return {}
    images = sum(_count(subsets[tree], len(clean.samples)) for tree in missing)
    per_image = seconds_per_image(clean.samples[0], config, missing[0])
    processes = max(1, min(workers, os.cpu_count() or 1))
    projected = images * per_image / processes
    say = log.warning if projected >= SLOW_PREPARATION_S else log.info
    say(
        "writing %d %s tree(s) (severity %s, %d images) into the cache first: about "
        "%.0f min on %d process(es) (%.2f s per image measured here; --workers N spreads it); "
        "once per dataset, reused by every later plan and run",
        len(missing),
        "corrupted" if config.shift.family == CORRUPTIONS else "MVTec-Shift",
        ", ".join(described(tree, config.shift.family) for tree in missing),
        images,
        projected / 60,
        processes,
        per_image,
    )
    return {
        "shifted_trees_written": [written(tree, config.shift.family) for tree in missing],
        "shift_images": images,
        "shift_seconds_per_image": round(per_image, 3),
        "shift_projected_s": round(projected, 1),
    }


def _count(subset: frozenset[str] | None, every: int) -> int:
    """The images a tree of `subset` holds (`every` when it holds every image)."""
    return every if subset is None else len(subset)


def _warn_skipped(dataset: Dataset) -> None:
    """Log how many files of the tree the reader skipped, and why (see `data.skipped`)."""
    warning = summary(dataset.root, dataset.skipped)
    if warning is not None:
        log.warning(warning)


def validate(dataset: Dataset, content: str, cache_dir: Path) -> None:
    """Open every image and mask of `dataset` and check them (`reader.check_files`), once per
    content: a tree that passed leaves a stamp named by its fingerprint in `<cache>/checked/`.

    `read_dataset` checks the structure only; this catches what would otherwise surface deep in
    a fit (corrupt or truncated images) or not at all (a mask resized to fit another image size).

    Args:
        dataset: the tree as read.
        content: its fingerprint (ids, labels and the bytes of every image and mask).
        cache_dir: where the stamp is kept.

    Raises:
        DatasetError: listing every problem, each naming its file.
    """
    stamp = cache_dir / "checked" / f"{content}.json"
    if stamp.is_file():
        return
    problems = check_files(dataset)
    if problems:
        raise DatasetError(problem_text(dataset.root, problems))
    write_json(stamp, {"root": str(dataset.root), "images": len(dataset.samples)})


def _clean_root(config: StudyConfig, cache_dir: Path) -> Path:
    data = config.data
    if data.source == "synthetic":
        from evalsuite.data.synthetic import SyntheticConfig, generate
        from evalsuite.data.synthetic.config import GENERATOR_VERSION

        settings = data.synthetic
        synthetic = SyntheticConfig(
            categories=data.categories,
            seed=settings.seed,
            size=settings.size,
            n_train=settings.n_train,
            n_test_good=settings.n_test_good,
            n_test_defect=settings.n_test_defect,
            difficulty=settings.difficulty,
        )
        # the generator's version is in the key: a new generator draws into a new folder
        key = content_key(
            {
                "synthetic": settings.model_dump(),
                "categories": data.categories,
                "generator": GENERATOR_VERSION,
            }
        )
        return generate(cache_dir / CACHE_TREES[0] / key, synthetic)
    assert data.root is not None
    root = Path(data.root)
    detected = detect_layout(root)
    if detected != data.layout and root.is_dir():
        raise DatasetError(
            f'{root}: this tree looks like the {detected} layout, not data.layout = "{data.layout}"'
            f'; set data.layout = "{detected}" (or check the root)'
        )
    if data.layout == "mvtec_ad2" and not root.is_dir():
        raise DatasetError(
            f"{root}: no MVTec AD 2 tree there (the folder does not exist); MVTec AD 2 cannot "
            "be downloaded by evalsuite: get it from mvtec.com and give its root with "
            "--data-root (or data.root)"
        )
    if data.layout != "mvtec":
        return root  # the layout's reader names a missing category
    missing = [c for c in data.categories if not (root / c / "train").is_dir()]
    if missing and data.download:
        from evalsuite.data.download import download

        download(root, missing)
    elif missing:
        raise DatasetError(
            f"{root}: data.categories {', '.join(missing)} not found ({_holds(root)}); fix "
            f"data.categories, place MVTec AD there, run `evalsuite data download --out {root}`, "
            "or set data.download = true"
        )
    return root


def _holds(root: Path) -> str:
    """What the data root holds, for the message of a missing category."""
    if not root.is_dir():
        return "the folder does not exist"
    found = sorted(p.name for p in root.iterdir() if (p / "train").is_dir())
    return f"it holds {', '.join(found)}" if found else "it holds no <category>/train folder"


def fit_inputs(data: StudyData, fit: FitPlan, cells: Sequence[CellPlan]) -> list[Sample]:
    """The images a fit and the given cells of it read, each once: the fit's train images and
    each cell's val (of its threshold condition) and test images, in that order."""
    family, severity, factors = fit.variant.tree
    seed = fit.seed
    sets = [data.samples(fit.condition, severity, "train", fit.categories, seed, factors, family)]
    for cell in cells:
        family, severity, factors = cell.variant.tree
        category = [cell.category]
        sets.append(
            data.samples(cell.threshold_condition, severity, "val", category, seed, factors, family)
        )
        sets.append(data.samples(cell.condition, severity, "test", category, seed, factors, family))
    unique = {sample.path: sample for samples in sets for sample in samples}
    return list(unique.values())
