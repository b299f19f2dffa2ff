"""Downloads of the paired differences: `differences.csv` and one LaTeX table per family."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from evalsuite.results.paths import sanitise
from evalsuite.site.downloads.data_csv import record_path
from evalsuite.site.downloads.latex import (
    Block,
    latex_escape,
    number,
    split_table,
    stack,
    synthetic_note,
)
from evalsuite.site.read.records import METRIC_NAMES, GroupKey
from evalsuite.site.views.difference_rows import DiffRow, DiffTable, PairedValue

CSV_HEADER = (
    "family",
    "label",
    "category",
    "scope_a",
    "condition_a",
    "regime_a",
    "sweep_a",
    "scope_b",
    "condition_b",
    "regime_b",
    "sweep_b",
    "cell_ids_a",
    "cell_ids_b",
    "paths_a",
    "paths_b",
    "seeds",
    "metric",
    "a",
    "b",
    "delta",
    "ci95_low",
    "ci95_high",
    "p",
    "p_holm",
    "significant",
    "excludes_zero",
    "family_size",
    "min_p_holm",
    "significance_possible",
    "n_images",
    "resamples",
    "bootstrap_seed",
    "seeds_mean",
    "seeds_sd",
    "reason",
)
"""Columns of differences.csv; numbers are fractions 0-1 (delta = b - a), p unadjusted,
p_holm Holm-adjusted over the family (one site table), significant 1 when p_holm < 0.05 (the
site's star; `significance.significant`), family_size the tests of the family (comparisons zero
by construction are not tested: empty numbers, their reason says so), min_p_holm the smallest
Holm-adjusted p the family's resamples allow and significance_possible 0 when it is >= 0.05
(then no difference of the family can be significant); ids, paths and seeds joined by spaces;
paths relative to the site root (the records under `downloads/records/cells/`), as in every CSV.
Rows whose category is `mean` are the means over categories (no ids or paths)."""
LEVELS = (("image", ("image_auroc", "image_f1")), ("pixel", ("pixel_auroc", "aupro_0.3")))
"""The LaTeX tables of a family: per level (two metrics each, so each fits one column of a
two-column paper; pixel F1 is in the CSV), one table per detector, cut to fit a page."""


def differences_csv(tables: Sequence[DiffTable]) -> str:
    """One row per comparison and metric of every table."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for t in tables:
        for row in t.rows:
            for metric, value in zip(t.metrics, row.values, strict=True):
                writer.writerow(_csv_row(t, row, metric, value))
    return buffer.getvalue()


def _side(key: GroupKey) -> tuple[str, str, str, str]:
    sweep = "" if key.sweep is None else f"{key.sweep[0]}={key.sweep[1]}"
    return key.scope, key.condition, key.regime, sweep


def _csv_row(t: DiffTable, row: DiffRow, metric: str, value: PairedValue) -> list[object]:
    ids_a = " ".join(a.record["id"] for a, _ in row.pairs)
    ids_b = " ".join(b.record["id"] for _, b in row.pairs)
    paths_a = " ".join(record_path(a.relpath) for a, _ in row.pairs)
    paths_b = " ".join(record_path(b.relpath) for _, b in row.pairs)
    seeds = " ".join(str(a.key.seed) for a, _ in row.pairs)
    head = [t.family, row.b.label, row.b.category, *_side(row.a), *_side(row.b)]
    head += [ids_a, ids_b, paths_a, paths_b, seeds, metric]
    s = value.seeds
    spread = ["" if s.mean is None else s.mean, "" if s.sd is None else s.sd]
    d = value.diff
    floor = "" if t.min_p_holm is None else t.min_p_holm
    family = [t.n_comparisons, floor, "" if t.min_p_holm is None else int(t.reachable)]
    if d is None:
        return [*head, *[""] * 9, *family, *[""] * 3, *spread, value.reason or ""]
    numbers = [d.a, d.b, d.delta, d.ci95[0], d.ci95[1], d.p_value, value.p_holm]
    marks = [int(value.significant), int(d.excludes_zero)]
    counts = [d.n_images, d.n_resamples, d.seed]
    return [*head, *numbers, *marks, *family, *counts, *spread, ""]


def _value(value: PairedValue, multi_seed: bool) -> str:
    d = value.diff
    if d is None:
        return "$=0$" if value.zero else "n/a"
    lines = [number(d.delta, signed=True) + ("*" if value.significant else "")]
    lines.append(f"[{number(d.ci95[0])}, {number(d.ci95[1])}]")
    if multi_seed and value.seeds.sd is not None:
        lines.append(rf"\textpm{{}}{number(value.seeds.sd)}")
    return stack(lines)


def _context(row: DiffRow, family: str) -> str:
    """What varies within the family besides detector and category."""
    if family == "unified":
        return row.b.kind
    if family.startswith("sweep:") and row.b.sweep is not None:
        return f"{row.b.kind}, {row.b.sweep[1]}"
    return row.b.scope


def difference_tex(t: DiffTable, study: str, synthetic: bool, multi_seed: bool) -> str:
    """A family's differences b - a in percentage points with their paired intervals: tables
    at image level, then at pixel level, each one column wide, one detector's rows each and
    no taller than a page."""
    return "\n".join(
        _level_tex(t, study, synthetic, multi_seed, level, metrics) for level, metrics in LEVELS
    )


def _level_tex(
    t: DiffTable,
    study: str,
    synthetic: bool,
    multi_seed: bool,
    level: str,
    metrics: tuple[str, ...],
) -> str:
    blocks: list[Block] = []
    shown = [t.metrics.index(m) for m in metrics]
    for index, row in enumerate(t.rows):
        context = _context(row, t.family)
        new_group = index == 0 or _context(t.rows[index - 1], t.family) != context
        values = " & ".join(_value(row.values[i], multi_seed) for i in shown)
        key = f"{latex_escape(context)} & {latex_escape(row.b.category)}"
        if new_group or row.first_of_label:
            blocks.append(Block(row.b.label, ()))
        blocks[-1] = Block(row.b.label, (*blocks[-1].rows, rf"{key} & {values} \\"))
    middle = {"unified": "Condition/regime"}.get(t.family, "Scope")
    if t.family.startswith("sweep:"):
        middle = "Compared"
    columns = [middle, "Category", *(latex_escape(METRIC_NAMES[m]) for m in metrics)]
    seeds = (
        " Third line: sd of the difference over seeds; the interval is pooled over seeds."
        if multi_seed
        else ""
    )
    names = " and ".join(METRIC_NAMES[m] for m in metrics)
    caption = (
        f"Study {study}: paired differences {t.title}, {level} level ({names}), in "
        "percentage points (b - a); below each, the paired 95% bootstrap "
        "interval (test images paired by id and resampled jointly, stratified by label)."
        f"{seeds} * marks a Holm-adjusted p < 0.05 over the family of {t.n_comparisons} tests "
        f"({len(t.rows)} rows x {len(t.metrics)} metrics, pixel F1 included, those with a value"
        f"{_zero_note(t)}); {t.n_significant} are marked. p-values, Holm-adjusted p-values and "
        "pixel F1 are in differences.csv. F1 is image-level, at the image threshold chosen on "
        "validation data; n/a: undefined. mean: the mean over the categories of the rows above "
        "it, its interval from resampling the paired test images within each category (in the "
        f"family).{_reach_note(t)}"
    )
    tag = sanitise(t.family.replace(":", "-"))
    full = caption + synthetic_note(synthetic)
    return split_table(full, f"tab:evalsuite-{tag}-{level}", columns, 2, blocks)


def _zero_note(t: DiffTable) -> str:
    if not t.n_zero:
        return ""
    return (
        f", less {t.n_zero} zero by construction, shown as =0 and not tested: the metric "
        "depends on nothing that differs between the two cells"
    )


def _reach_note(t: DiffTable) -> str:
    """The caption's notice when the resamples cannot reach a corrected p < 0.05."""
    if t.reachable or t.min_p is None or t.min_p_holm is None:
        return ""
    return (
        f" NOTE: with {t.resamples} bootstrap resamples no p-value is below {t.min_p:.2g}, so "
        f"after Holm over {t.n_comparisons} tests none is below {t.min_p_holm:.2g}: no "
        f"difference can be significant (at least {t.resamples_needed} resamples are needed)."
    )


def tex_name(t: DiffTable) -> str:
    """The download's file name of a family's table, e.g. shift.tex, sweep-patchcore-....tex."""
    return sanitise(t.family.replace(":", "-")).replace("=", "-") + ".tex"
