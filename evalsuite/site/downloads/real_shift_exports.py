"""The CSV downloads of "Synthetic vs real shift": the drop table and the prediction table, each
row with its id on the page (`id`: `real_shift.html#<id>` is the row), every number with its
interval and the paths of the cells it comes from.

Units as in every download: metrics and drops are fractions (a drop of 3.2 points is
-0.032); every `paths_*` column lists the cells' records (`downloads/records/cells/...`,
relative to the site root) separated by spaces, one per seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evalsuite.site.catalogue import Download
from evalsuite.site.downloads.data_csv import csv_text, record_path
from evalsuite.site.read.records import Cell
from evalsuite.site.views.difference_rows import DIFF_METRICS, PairedValue
from evalsuite.site.views.real_shift_rows import Inside, RealShiftView

DROPS_HEADER = (
    *("id", "label", "scope", "category", "shift", "name", "metric"),
    *("a", "b", "delta", "ci95_low", "ci95_high", "p", "p_holm", "significant"),
    *("n_images", "n_unpaired", "resamples", "seeds_mean", "seeds_sd", "seeds_n"),
    *("real_in_synthetic", "synthetic_in_real", "reason", "paths_clean", "paths_shifted"),
)
"""Columns of real_shift_drops.csv (shift: real or synthetic; name: the real condition, or
MVTec-Shift's variant, `all` for the mixed shift; a: clean, b: shifted, delta = b - a;
p_holm over every drop of the page; real_in_synthetic / synthetic_in_real, for a real row: 1
when its drop lies inside the mixed MVTec-Shift's interval of the same metric / the other way
round, empty without both intervals)."""
PREDICTION_HEADER = (
    *("id", "label", "scope", "category", "real", "synthetic"),
    *("rho", "ci95_low", "ci95_high", "p", "p_holm", "significant", "n_images", "resamples"),
    *("real_delta", "real_ci95_low", "real_ci95_high"),
    *("synthetic_delta", "synthetic_ci95_low", "synthetic_ci95_high"),
    *("real_in_synthetic", "synthetic_in_real", "reason"),
    *("paths_clean", "paths_synthetic", "paths_real"),
)
"""Columns of real_shift_prediction.csv (rho: Spearman's rho of the per-image score changes;
the deltas: the two image AUROC drops)."""
FILES = {
    "real_shift_drops.csv": "Synthetic vs real shift: the paired drop (shifted - clean) of "
    "every metric per detector, category and shift (real conditions, MVTec-Shift and its "
    "variants), with its 95% interval, Holm-adjusted p, paired and unpaired images, and the "
    "cells.",
    "real_shift_prediction.csv": "Synthetic vs real shift: Spearman's rho of the per-image "
    "score changes under a synthetic shift and a real condition, with its 95% interval, the "
    "two image AUROC drops and whether each lies inside the other's interval.",
}
"""The page's downloads under `downloads/` and what each holds."""


def _blank(value: object) -> object:
    return "" if value is None else value


def _flag(found: Inside | None, real_in_synthetic: bool) -> object:
    if found is None:
        return ""
    return int(found.real_in_synthetic if real_in_synthetic else found.synthetic_in_real)


def _paths(cells: Iterable[Cell]) -> str:
    return " ".join(record_path(cell.relpath) for cell in cells)


def _drop(value: PairedValue | None) -> list[object]:
    if value is None or value.diff is None:
        return ["", "", ""]
    return [value.diff.delta, *value.diff.ci95]


def drops_csv(view: RealShiftView) -> str:
    """One row per drop and metric."""
    rows: list[Sequence[object]] = [DROPS_HEADER]
    for d in view.drops:
        key = [d.anchor, d.label, d.scope, d.category, d.shift.kind, d.shift.name]
        paths = [_paths(a for a, _ in d.row.pairs), _paths(b for _, b in d.row.pairs)]
        for index, metric in enumerate(DIFF_METRICS):
            v, s = d.values[index], d.values[index].seeds
            diff = v.diff
            if diff is None:
                numbers: list[object] = ["", "", "", "", "", "", "", 0, "", d.unpaired, ""]
            else:
                numbers = [diff.a, diff.b, diff.delta, *diff.ci95, diff.p_value]
                numbers += [_blank(v.p_holm), int(v.significant), diff.n_images, d.unpaired]
                numbers += [diff.n_resamples]
            found = d.inside[index] if d.inside else None
            flags = [_flag(found, True), _flag(found, False)]
            seeds = [_blank(s.mean), _blank(s.sd), s.n]
            rows.append([*key, metric, *numbers, *seeds, *flags, v.reason or "", *paths])
    return csv_text(rows)


def prediction_csv(view: RealShiftView) -> str:
    """One row per real condition and synthetic shift of every detector and category."""
    rows: list[Sequence[object]] = [PREDICTION_HEADER]
    for p in view.predictions:
        key = [p.anchor, p.label, p.scope, p.category, p.real.name, p.synthetic.name]
        c = p.value
        if c is None:
            numbers: list[object] = ["", "", "", "", "", 0, "", ""]
        else:
            numbers = [c.rho, *c.ci95, c.p_value, _blank(p.p_holm), int(p.significant)]
            numbers += [c.n_images, c.n_resamples]
        drops = [
            *_drop(p.real_drop.value("image_auroc") if p.real_drop else None),
            *_drop(p.synthetic_drop.value("image_auroc") if p.synthetic_drop else None),
        ]
        flags = [_flag(p.inside, True), _flag(p.inside, False)]
        paths = [_paths(t[i] for t in p.cells) for i in range(3)]
        rows.append([*key, *numbers, *drops, *flags, p.reason or "", *paths])
    return csv_text(rows)


def real_shift_files(view: RealShiftView) -> dict[str, bytes]:
    """Site path -> content of the page's downloads (none for an empty view)."""
    if view.empty:
        return {}
    texts = {
        "real_shift_drops.csv": drops_csv(view),
        "real_shift_prediction.csv": prediction_csv(view),
    }
    return {f"downloads/{name}": text.encode("utf-8") for name, text in texts.items()}


def real_shift_downloads(view: RealShiftView) -> list[Download]:
    """The Downloads page's entries of the page's files (none for an empty view)."""
    if view.empty:
        return []
    return [Download(f"downloads/{name}", name, text) for name, text in FILES.items()]
