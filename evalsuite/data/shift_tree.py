"""Write the MVTec-Shift copy of an MVTec-layout tree (train, test and ground_truth), with every
factor of the drawn shift or some of them (`shift_factors`), of every image or of the images a
study reads (`only`: a tree no cell retrains on needs no train image but its val ones)."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import shutil
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from PIL import Image

from evalsuite.atomic import write_json
from evalsuite.data.imageio import read_image, read_mask, write_png
from evalsuite.data.reader import SHIFT_MARKER, SYNTHETIC_MARKER, read_dataset
from evalsuite.data.samples import Sample
from evalsuite.data.shift import apply_shift, still_defective
from evalsuite.data.shift_factors import ALL, check_variant, neutralise
from evalsuite.data.shift_params import draw_params
from evalsuite.data.tree import existing_matches, staged_tree
from evalsuite.outputs import check_places, remove_dead_staging
from evalsuite.progress import bar

SHIFT_VERSION = "1"


def shift_tree(
    src: Path,
    out: Path,
    seed: int = 0,
    severity: int = 2,
    progress: bool = True,
    workers: int = 1,
    factors: str = ALL,
    only: Collection[str] | None = None,
) -> Path:
    """Write the shifted copy of `src` into `out`, one seeded draw per image, on `workers`
    processes (the bytes written do not depend on how many).

    The same relative paths (hence the same sample ids) are kept, so clean and shifted images
    pair up. `out/evalsuite-shift.json` records the seed, severity, every image's parameters and
    the images relabelled normal because their defect left the frame. A synthetic source stays
    labelled synthetic. Rerunning with the same parameters does nothing.

    With `factors` other than `all`, each image receives only those factors of its draw (see
    `shift_factors`), the others at their identity; its mask moves with the kept geometric
    factors and the out-of-frame rule is applied to that mask. The marker then also records
    `factors`, and each image's parameters are those applied (identities in place).

    With `only`, just the images of those sample ids are written (the others are left out, so
    the tree holds those ids alone) and the marker records which (`subset_key`): a tree of some
    images is never taken for the full one, nor for another subset.

    Returns:
        `out`.
    """
    check_variant(factors)
    src, out = Path(src), Path(out)
    check_places([("--out", out)], [("--src", src)])
    remove_dead_staging(out.parent, out.name)  # of a shift killed before it cleaned up
    dataset = read_dataset(src)
    identity = _identity(src, seed, severity, factors, only)
    if existing_matches(out, SHIFT_MARKER, identity, "an MVTec-Shift tree"):
        return out
    samples = chosen(dataset.samples, only)
    images: dict[str, object] = {}
    relabelled: dict[str, str] = {}
    with staged_tree(out, SHIFT_MARKER, identity) as staging:
        shown = bar(len(samples), "shift", "img", disable=not progress)
        shifted = map_samples(
            samples, partial(_shift_one, src, staging, seed, severity, factors), workers
        )
        for sample, (params, dropped) in zip(samples, shifted, strict=True):
            images[sample.id] = params
            if dropped:
                relabelled[sample.id] = "defect pushed out of frame by the geometric shift"
            shown.update()
        shown.close()
        if (src / SYNTHETIC_MARKER).exists():
            shutil.copyfile(src / SYNTHETIC_MARKER, staging / SYNTHETIC_MARKER)
        marker = {**written(identity), "relabelled": relabelled, "images": images}
        write_json(staging / SHIFT_MARKER, marker)
    return out


def shift_tree_written(
    src: Path,
    out: Path,
    seed: int = 0,
    severity: int = 2,
    factors: str = ALL,
    only: Collection[str] | None = None,
) -> bool:
    """Whether `out` already holds the shifted copy `shift_tree(src, out, seed, severity,
    factors=factors, only=only)` would write (then it writes nothing)."""
    identity = _identity(Path(src), seed, severity, factors, only)
    return existing_matches(Path(out), SHIFT_MARKER, identity, "an MVTec-Shift tree")


def seconds_per_image(sample: Sample, seed: int = 0, severity: int = 2) -> float:
    """Seconds one process takes to read, shift and encode `sample`'s image, measured here:
    what `shift_tree` spends per image of that size (its mask adds little)."""
    started = time.perf_counter()
    image = read_image(sample.path)
    params = draw_params(sample.id, seed, severity, size=max(image.shape[:2]))
    shifted, _ = apply_shift(image, None, params)
    Image.fromarray(shifted).save(io.BytesIO(), format="PNG")
    return time.perf_counter() - started


def subset_key(only: Collection[str]) -> dict[str, object]:
    """What the marker of a tree holding only the images `only` records: how many and the
    SHA-256 of their sorted ids (a full tree's marker has no such key)."""
    text = "\n".join(sorted(only))
    return {"images": len(only), "ids_sha256": hashlib.sha256(text.encode()).hexdigest()}


def written(identity: dict[str, object]) -> dict[str, object]:
    """The marker's form of `identity`: without its keys of value None (a full tree's marker has
    no `subset`, as it always was)."""
    return {key: value for key, value in identity.items() if value is not None}


def chosen(samples: Sequence[Sample], only: Collection[str] | None) -> list[Sample]:
    """`samples`, or those of them whose id is in `only`, in the order given."""
    if only is None:
        return list(samples)
    wanted = set(only)
    return [sample for sample in samples if sample.id in wanted]


def _identity(
    src: Path, seed: int, severity: int, factors: str = ALL, only: Collection[str] | None = None
) -> dict[str, object]:
    """What a shifted tree's marker must hold for the tree to be reused (the mixed shift's
    marker holds no `factors`, a full tree's no `subset`: they are as they always were)."""
    identity: dict[str, object] = {
        "version": SHIFT_VERSION,
        "seed": seed,
        "severity": severity,
        "source": str(src.resolve()),
    }
    if check_variant(factors) != ALL:
        identity["factors"] = factors
    # `None` matches a marker without the key (a full tree), which is written without it
    identity["subset"] = None if only is None else subset_key(only)
    return identity


ShiftOne = partial[tuple[dict[str, object], bool]]


def map_samples(
    samples: Sequence[Sample], shift_one: ShiftOne, workers: int
) -> Iterator[tuple[dict[str, object], bool]]:
    """`shift_one` of each sample, in sample order: here, or on a pool of spawned processes
    that leave Ctrl-C to this one and end with it (`evalsuite.workers`)."""
    if workers <= 1 or len(samples) < 2:
        yield from map(shift_one, samples)
        return
    from evalsuite.workers import init_worker

    with ProcessPoolExecutor(
        max_workers=min(workers, len(samples)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(os.getpid(),),
    ) as pool:
        yield from pool.map(shift_one, samples, chunksize=8)


def _shift_one(
    src: Path, staging: Path, seed: int, severity: int, factors: str, sample: Sample
) -> tuple[dict[str, object], bool]:
    image = read_image(sample.path)
    mask = read_mask(sample.mask_path) if sample.mask_path is not None else None
    drawn = draw_params(sample.id, seed, severity, size=max(image.shape[:2]))
    params = neutralise(drawn, factors)
    shifted, shifted_mask = apply_shift(image, mask, params)
    write_png(staging / sample.path.relative_to(src), shifted)
    dropped = False
    if mask is not None and shifted_mask is not None and sample.mask_path is not None:
        if still_defective(mask, shifted_mask):
            write_png(
                staging / sample.mask_path.relative_to(src), shifted_mask.astype("uint8") * 255
            )
        else:
            dropped = True
    return params.to_dict(), dropped
