"""The CSV downloads of "What the shift does": one file per table of the page, with every
number, its 95% interval and the paths of the cells it comes from.

Units as in every download: metrics, drops, shares and rates are fractions (a drop of 3.2
points is -0.032), scores and slopes in the detector's score units; every `paths_*` column
lists the cells' records (`downloads/records/cells/...`, relative to the site root) separated
by spaces, one per seed (shares: every cell they are computed from).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evalsuite.site.catalogue import Download
from evalsuite.site.downloads.attribution_tex import attribution_tex
from evalsuite.site.downloads.data_csv import csv_text, record_path
from evalsuite.site.read.records import Cell
from evalsuite.site.views.attribution_rows import AttributionView, Rate

DROPS_HEADER = (
    *("label", "scope", "regime", "category", "family", "variant", "severity", "metric"),
    *("a", "b", "delta", "ci95_low", "ci95_high", "p", "p_holm", "significant", "zero"),
    *("n_images", "resamples", "seeds_mean", "seeds_sd", "seeds_n", "reason"),
    *("paths_clean", "paths_variant"),
)
"""Columns of attribution_drops.csv (a: clean, b: the variant; delta = b - a; p_holm
Holm-adjusted within the detector's family; significant: p_holm < 0.05)."""
MEANS_HEADER = (
    *("label", "scope", "regime", "family", "metric", "severity"),
    *("delta", "ci95_low", "ci95_high", "n_drops", "reason"),
)
"""Columns of attribution_means.csv (severity empty: the mean over every severity)."""
SHARES_HEADER = (
    *("label", "scope", "regime", "category", "metric", "severity", "factor", "kind"),
    *("share", "ci95_low", "ci95_high", "reason", "paths"),
)
"""Columns of attribution_shares.csv (kind: alone, leave_one_out or rest)."""
DEPENDENCE_HEADER = (
    *("label", "scope", "category", "severity", "status", "factor", "param"),
    *("slope", "ci95_low", "ci95_high", "n_images", "reason", "paths_clean", "paths_shifted"),
)
"""Columns of attribution_dependence.csv (slope: score change per unit of the parameter)."""
BINS_HEADER = (
    *("label", "scope", "category", "severity", "status", "factor", "param", "bin"),
    *("low", "high", "n", "mean_change", "ci95_low", "ci95_high"),
)
"""Columns of attribution_bins.csv (the binned curves; mean_change in score units)."""
RATE_PARTS = ("k", "n", "rate", "ci95_low", "ci95_high")
RATES_HEADER = (
    *("label", "scope", "category", "family", "variant", "severity", "threshold"),
    *(f"{name}_{part}" for name in ("false_alarm", "miss") for part in RATE_PARTS),
    *(f"clean_{name}_{part}" for name in ("false_alarm", "miss") for part in RATE_PARTS),
    *("paths_clean", "paths_variant"),
)
"""Columns of attribution_rates.csv (rates at the clean cell's image threshold)."""
FILES = {
    "attribution_drops.csv": "What the shift does: the paired drop (variant - clean) of every "
    "metric per detector, variant and severity, with its 95% interval, raw and Holm-adjusted "
    "p, and the cells.",
    "attribution_means.csv": "What the shift does: the mean drop over a family's variants per "
    "severity and over every severity, with its 95% interval.",
    "attribution_shares.csv": "What the shift does: each factor's share of the mixed shift's "
    "drop, alone and by leave-one-out, and the part not explained, with 95% intervals.",
    "attribution_dependence.csv": "What the shift does: the slope of the per-image score change "
    "on each recorded shift parameter, normal and anomalous images, with 95% intervals.",
    "attribution_bins.csv": "What the shift does: the binned per-image score change per "
    "parameter (the dependence curves), with 95% intervals.",
    "attribution_rates.csv": "What the shift does: false-alarm and miss rates at the clean "
    "threshold per variant and severity, beside the clean rates, with 95% intervals and counts.",
    "attribution.tex": "What the shift does as LaTeX booktabs tables: drops, mean drops, "
    "shares, slopes and line rates with their 95% intervals.",
}
"""The page's downloads under `downloads/` and what each holds."""


def _blank(value: object) -> object:
    return "" if value is None else value


def _ends(ci: tuple[float, float] | None) -> list[object]:
    return ["", ""] if ci is None else [ci[0], ci[1]]


def _paths(cells: Iterable[Cell]) -> str:
    return " ".join(record_path(cell.relpath) for cell in cells)


def drops_csv(view: AttributionView) -> str:
    """One row per drop."""
    rows: list[Sequence[object]] = [DROPS_HEADER]
    for d in view.drops:
        key = [d.label, d.scope, d.regime, d.category, d.family, d.variant, d.severity, d.metric]
        v, diff, s = d.value, d.value.diff, d.value.seeds
        if diff is None:
            numbers: list[object] = ["", "", "", "", "", "", "", 0, int(v.zero), "", ""]
        else:
            numbers = [diff.a, diff.b, diff.delta, *diff.ci95, diff.p_value, _blank(v.p_holm)]
            numbers += [int(v.significant), int(v.zero), diff.n_images, diff.n_resamples]
        seeds = [_blank(s.mean), _blank(s.sd), s.n, v.reason or ""]
        paths = [_paths(a for a, _ in d.cells), _paths(b for _, b in d.cells)]
        rows.append([*key, *numbers, *seeds, *paths])
    return csv_text(rows)


def means_csv(view: AttributionView) -> str:
    """One row per mean drop."""
    rows: list[Sequence[object]] = [MEANS_HEADER]
    for m in view.means:
        key = [m.label, m.scope, m.regime, m.family, m.metric, _blank(m.severity)]
        rows.append([*key, m.delta, *_ends(m.ci95), m.n_drops, m.reason or ""])
    return csv_text(rows)


def shares_csv(view: AttributionView) -> str:
    """One row per share."""
    rows: list[Sequence[object]] = [SHARES_HEADER]
    for s in view.shares:
        key = [s.label, s.scope, s.regime, s.category, s.metric, s.severity, s.factor, s.kind]
        value = [_blank(s.share), *_ends(s.ci95), s.reason or "", _paths(s.cells)]
        rows.append([*key, *value])
    return csv_text(rows)


def dependence_csv(view: AttributionView) -> str:
    """One row per (images, parameter) slope."""
    rows: list[Sequence[object]] = [DEPENDENCE_HEADER]
    for d in view.dependence:
        key = [d.label, d.scope, d.category, d.severity, d.status, d.factor, d.param]
        value = [_blank(d.slope), *_ends(d.ci95), d.n_images, d.reason or ""]
        paths = [_paths(a for a, _ in d.cells), _paths(b for _, b in d.cells)]
        rows.append([*key, *value, *paths])
    return csv_text(rows)


def bins_csv(view: AttributionView) -> str:
    """One row per bin of every dependence curve."""
    rows: list[Sequence[object]] = [BINS_HEADER]
    for d in view.dependence:
        key = [d.label, d.scope, d.category, d.severity, d.status, d.factor, d.param]
        for i, b in enumerate(d.bins):
            rows.append([*key, i, b.low, b.high, b.n, b.mean_change, *_ends(b.ci95)])
    return csv_text(rows)


def _rate(rate: Rate) -> list[object]:
    return [rate.k, rate.n, _blank(rate.value), *_ends(rate.ci95)]


def rates_csv(view: AttributionView) -> str:
    """One row per variant, severity and detector of the line rates."""
    rows: list[Sequence[object]] = [RATES_HEADER]
    for r in view.rates:
        key = [r.label, r.scope, r.category, r.family, r.variant, r.severity, r.threshold]
        rates = [*_rate(r.false_alarm), *_rate(r.miss)]
        rates += [*_rate(r.clean_false_alarm), *_rate(r.clean_miss)]
        paths = [_paths(a for a, _ in r.cells), _paths(b for _, b in r.cells)]
        rows.append([*key, *rates, *paths])
    return csv_text(rows)


def attribution_files(view: AttributionView, study: str, synthetic: bool) -> dict[str, bytes]:
    """Site path -> content of the page's downloads (none for an empty view)."""
    if view.empty:
        return {}
    texts = {
        "attribution_drops.csv": drops_csv(view),
        "attribution_means.csv": means_csv(view),
        "attribution_shares.csv": shares_csv(view),
        "attribution_dependence.csv": dependence_csv(view),
        "attribution_bins.csv": bins_csv(view),
        "attribution_rates.csv": rates_csv(view),
        "attribution.tex": attribution_tex(view, study, synthetic),
    }
    return {f"downloads/{name}": text.encode("utf-8") for name, text in texts.items()}


def attribution_downloads(view: AttributionView) -> list[Download]:
    """The Downloads page's entries of the page's files (none for an empty view)."""
    if view.empty:
        return []
    return [Download(f"downloads/{name}", name, text) for name, text in FILES.items()]
