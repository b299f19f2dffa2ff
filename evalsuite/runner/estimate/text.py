"""`evalsuite plan --estimate` as text: one line per fit, then the totals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evalsuite.data.shift_family import MVTEC_SHIFT, title

GB = 1e9


def duration(seconds: float) -> str:
    """`1 h 02 min`, `3 min 05 s` or `4.2 s`."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"


def estimate_lines(estimate: dict[str, Any]) -> Iterator[str]:
    """The lines printed for an `Estimate.to_dict()`."""
    yield (
        f"{'fit':<17}{'detector':<13}{'scope':<10}{'cond.':<6}{'train':>6}{'scored':>7}"
        f"{'fit':>11}{'score':>11}{'eval':>10}{'peak GB':>9}"
    )
    for fit in estimate["fits"]:
        yield (
            f"{fit['fit_id']:<17}{fit['label'][:12]:<13}{fit['scope']:<10}"
            f"{fit['condition']:<6}{fit['train_images']:>6}{fit['searched_images']:>7}"
            f"{duration(fit['fit_s']):>11}{duration(fit['score_s']):>11}"
            f"{duration(fit['eval_s']):>10}{fit['peak_bytes'] / GB:>9.1f}"
        )
    inputs = sum(estimate["distinct_inputs"].values())
    units = estimate["units"]
    measured = estimate["rates"]["source"] == "measured"
    rates = f"rates measured on this machine's {estimate['rates']['device']}"
    rates = rates if measured else "the development machine's reference rates"
    yield (
        f"features: {inputs} distinct inputs, {duration(estimate['features_s'])}; "
        f"feature cache {estimate['cache_bytes'] / GB:.1f} GB on disk"
    )
    unsized = estimate["unsized"]
    yield (
        f"fitted models: {estimate['fits_bytes'] / GB:.1f} GB in the results folder's fits/"
        + (f" ({', '.join(unsized)} not sized: no cost model says)" if unsized else "")
    )
    yield (
        f"{len(estimate['fits'])} fits in {len(units)} units: {duration(sum(units.values()))} "
        f"of work; peak memory {estimate['peak_bytes'] / GB:.1f} GB per worker"
    )
    yield (
        f"projected wall time with {estimate['workers']} worker(s): "
        f"{duration(estimate['wall_s'])} ({rates})"
    )
    raw = estimate.get("raw_image_passes", {})
    for label, count in raw.items():
        yield raw_images_line(label, count)
    sampled = estimate.get("sampled", {})
    for label, sample in sampled.items():
        yield sampled_line(label, sample)
    for label in estimate.get("unpriced", []):
        if label not in sampled:
            counted = "its metrics are" if label in raw else "its features and metrics are"
            yield (
                f"{label}: no cost model, so its fits and scoring are not in this projection "
                f"(only {counted})"
            )
    preparation = estimate.get("data_preparation")
    if preparation is not None:
        yield preparation_line(preparation, estimate.get("shift_family", MVTEC_SHIFT))
    real = estimate.get("real_conditions")
    if real:
        yield real_conditions_line(real)


def real_conditions_line(real: dict[str, int]) -> str:
    """What `plan --estimate` says of MVTec AD 2's real conditions: condition -> its test
    images (scored on the clean fits, counted in the fits' scored images above)."""
    named = ", ".join(f"{condition} ({count})" for condition, count in real.items())
    return (
        f"real conditions: {named} test images, read from the tree (no copy written), each "
        "scored on the clean fits (shift/none; in the scored counts above)"
    )


def raw_images_line(label: str, count: int | None = None) -> str:
    """What `plan` says of a detector that reads raw images (with `--estimate`, how many)."""
    images = "" if count is None else f": {count} image passes (fit and scoring)"
    return (
        f"{label}: reads raw images, uncached{images}; no backbone features are extracted "
        "for it, and the manifest counts its images in counts.raw_image_passes"
    )


def sampled_line(label: str, sample: dict[str, Any]) -> str:
    """What timing detector `label`, which has no cost model, on a sample gave
    (`estimate.sample.Sampled.to_dict`), or the error that kept it unpriced."""
    if "error" in sample:
        return (
            f"{label}: no cost model, and timing it on a sample of the run's inputs failed "
            f"({sample['error']}), so its fits and scoring are not in this projection "
            "(only its features and metrics are)"
        )
    small, large = sample["train_images"]
    fit_small, fit_large = sample["fit_s"]
    measured, growth = sample["measured_growth"], sample["growth"]
    if measured == growth:
        how = "linear" if growth == 1.0 else f"measured growth {growth:.2f}"
    else:
        how = f"measured growth {measured:.2f}, taken as {growth:.0f}"
    return (
        f"{label}: no cost model; timed on a sample of {large} train / "
        f"{sample['test_images']} test inputs: fit ~ {brief(fit_large)} "
        f"({brief(fit_small)} on {small}; build {brief(sample['build_s'])}), score ~ "
        f"{brief(sample['score_s_per_image'])} per image (extrapolated: each fit as build + "
        f"{brief(fit_large)} x (train images / {large})^{growth:.2f}, {how}; scoring per "
        "scored image)"
    )


def brief(seconds: float) -> str:
    """`duration`, or `12.5 ms` below a second."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else duration(seconds)


def preparation_line(preparation: dict[str, Any], family: str = MVTEC_SHIFT) -> str:
    """What preparing the data took before the estimate: the shifted trees of the study's
    shift `family` this plan wrote (measured, beside the projection it announced first), or
    that the cache held them."""
    kind = title(family)
    if not preparation:
        return f"data preparation: every {kind} tree was already in the cache"
    trees = len(preparation["shifted_trees_written"])
    return (
        f"data preparation: this plan wrote {trees} {kind} tree(s), "
        f"{preparation['shift_images']} images, in {duration(preparation['shift_write_s'])} "
        f"(projected {duration(preparation['shift_projected_s'])}); cached, so the run "
        "does not write them again"
    )
