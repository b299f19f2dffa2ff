"""Downloads of the per-image statistics: CSV of the cells, tests and rankings, and LaTeX
tables of the tests (one per scope and condition/regime, so each fits a page) and rankings."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from evalsuite.site.catalogue import Download
from evalsuite.site.downloads.data_csv import record_path
from evalsuite.site.downloads.latex import latex_escape, separator, synthetic_note, table
from evalsuite.site.pages.per_image import PerImage
from evalsuite.site.views.per_image import VALUES, CellStats, PairedRow
from evalsuite.site.views.rankings import RankingView

CELLS_HEADER = (
    "path",
    "label",
    "scope",
    "condition",
    "regime",
    "category",
    "sweep",
    "seed",
    "image_auroc",
    "bootstrap_low",
    "bootstrap_high",
    "delong_low",
    "delong_high",
    "aupimo_mean",
    "aupimo_low",
    "aupimo_high",
    "aupimo_images",
    "reason",
)
"""Columns of per_image_cells.csv (fractions 0-1; intervals 95%)."""
TESTS_HEADER = (
    "scope",
    "condition",
    "regime",
    "category",
    "a",
    "b",
    "value",
    "n_images",
    "mean_a",
    "mean_b",
    "mean_diff",
    "p_wilcoxon",
    "p_wilcoxon_holm",
    "p_t",
    "p_t_holm",
    "family_size",
)
"""Columns of per_image_tests.csv (mean_diff = b - a; Holm over every row of the file)."""
PER_IMAGE_FILES = {
    "downloads/per_image_cells.csv": "Per cell: image AUROC with its bootstrap and DeLong 95% "
    "intervals, mean AUPIMO with its 95% interval.",
    "downloads/per_image_tests.csv": "Paired per-image tests between detectors: Wilcoxon "
    "signed-rank and paired t-test, raw and Holm-adjusted p.",
    "downloads/per_image_tests.tex": "The per-image tests, LaTeX booktabs (one table per "
    "scope and condition/regime).",
    "downloads/rankings.csv": "Average ranks, Friedman test and Nemenyi critical difference "
    "of every CD diagram.",
    "downloads/rankings.tex": "The average ranks, LaTeX booktabs.",
}
"""The downloads of the Per-image statistics page and what each holds."""
RANKS_HEADER = (
    "metric",
    "scope",
    "treatment",
    "average_rank",
    "blocks",
    "friedman_chi2",
    "friedman_p",
    "iman_davenport_f",
    "iman_davenport_p",
    "nemenyi_cd",
    "alpha",
)


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _blank(value: float | None) -> object:
    return "" if value is None else value


def cells_csv(stats: Sequence[CellStats]) -> str:
    """One row per cell: image AUROC, its bootstrap and DeLong intervals, mean AUPIMO."""
    rows = []
    for s in stats:
        g = s.cell.key.group
        sweep = "" if g.sweep is None else f"{g.sweep[0]}={g.sweep[1]}"
        reason = "; ".join(r for r in (s.delong_reason, s.aupimo_reason) if r)
        key = [record_path(s.cell.relpath), g.label, g.scope, g.condition, g.regime]
        intervals = [*_ends(s.bootstrap), *_ends(s.delong)]
        aupimo = [_blank(s.aupimo), *_ends(s.aupimo_ci), s.aupimo_n]
        rows.append([*key, g.category, sweep, s.cell.key.seed, _blank(s.auroc), *intervals])
        rows[-1] += [*aupimo, reason]
    return _csv(CELLS_HEADER, rows)


def _ends(interval: tuple[float, float] | None) -> list[object]:
    return ["", ""] if interval is None else [interval[0], interval[1]]


def tests_csv(rows: Sequence[PairedRow]) -> str:
    """One row per detector pair, place and per-image value."""
    out = []
    for r in rows:
        condition, _, regime = r.kind.partition("/")
        t = r.test
        key = [r.scope, condition, regime, r.category, r.a, r.b, r.value, t.n]
        means = [t.mean_a, t.mean_b, t.mean_diff]
        out.append([*key, *means, t.p_wilcoxon, r.p_wilcoxon_holm, t.p_t, r.p_t_holm, len(rows)])
    return _csv(TESTS_HEADER, out)


def rankings_csv(views: Sequence[RankingView]) -> str:
    """One row per ranked treatment."""
    out = []
    for v in views:
        r = v.ranking
        if r is None:
            continue
        for name, rank in zip(v.treatments, v.ranks, strict=True):
            stats = [r.chi2, r.p_chi2, r.f_stat, r.p_f, r.cd, r.alpha]
            out.append([v.metric, v.scope, name, rank, r.n_blocks, *stats])
    return _csv(RANKS_HEADER, out)


def _p(p: float, star: bool) -> str:
    return f"{p:.2g}" + ("*" if star else "")


def tests_tex(rows: Sequence[PairedRow], study: str, synthetic: bool) -> str:
    """The tests, one table per (scope, condition/regime): Δ and Holm-adjusted p per value."""
    places = list(dict.fromkeys((r.scope, r.kind) for r in rows))  # rows come in page order
    tables = []
    for scope, kind in places:
        lines: list[str] = []
        chosen = [r for r in rows if (r.scope, r.kind) == (scope, kind)]
        pairs = sorted(dict.fromkeys((r.a, r.b, r.category) for r in chosen), key=lambda x: x[:2])
        for index, (a, b, category) in enumerate(pairs):
            first = index == 0 or pairs[index - 1][:2] != (a, b)
            lines += separator(f"{b} - {a}" if first else None, first, index, 1 + 2 * len(VALUES))
            cells = [latex_escape(category)]
            for value in VALUES:
                found = [
                    r for r in chosen if (r.a, r.b, r.category, r.value) == (a, b, category, value)
                ]
                if not found:
                    cells += ["n/a", "n/a"]
                    continue
                r = found[0]
                cells += [
                    f"{100 * r.test.mean_diff:+.1f}".replace("-", "$-$"),
                    _p(r.p_wilcoxon_holm, r.star_wilcoxon),
                ]
            lines.append(" & ".join(cells) + r" \\")
        columns = ["Category"]
        for name in VALUES.values():
            columns += [rf"$\Delta$ {latex_escape(name)}", "$p_W$"]
        caption = (
            f"Study {study}, {scope}, {kind}: paired per-image tests between detectors (b - a) "
            "on the same test images. Delta: mean per-image difference in points; p_W: "
            "Wilcoxon signed-rank p, Holm-adjusted over all "
            f"{len(rows)} tests of per_image_tests.csv (which also holds the paired t-test); "
            "* marks a Holm-adjusted p < 0.05. Placement: DeLong's per-image AUROC "
            "components; AUPIMO: per anomalous image (FPR 1e-5 to 1e-4)."
        )
        tag = f"tab:evalsuite-per-image-{scope}-{kind.replace('/', '-')}"
        tables.append(table(caption + synthetic_note(synthetic), tag, columns, 1, lines))
    return "\n".join(tables)


def rankings_tex(views: Sequence[RankingView], study: str, synthetic: bool) -> str:
    """Average ranks per ranking, one table."""
    lines: list[str] = []
    shown = [v for v in views if v.ranking is not None]
    index = 0
    for v in shown:
        r = v.ranking
        assert r is not None
        head = f"{v.metric}, {v.scope} (N = {r.n_blocks}, CD = {r.cd:.2f}, "
        head += f"Friedman p = {r.p_chi2:.2g})"
        for i, (name, rank) in enumerate(zip(v.treatments, v.ranks, strict=True)):
            lines += separator(head if i == 0 else None, i == 0, index, 2)
            lines.append(f"{latex_escape(name)} & {rank:.2f} \\\\")
            index += 1
    caption = (
        f"Study {study}: average ranks (1 = best) over the (condition/regime, category) "
        "blocks; two treatments differ (Nemenyi, alpha = 0.05) when their average ranks "
        "differ by at least CD."
    )
    return table(
        caption + synthetic_note(synthetic),
        "tab:evalsuite-rankings",
        ["Treatment", "Average rank"],
        1,
        lines,
    )


def per_image_files(found: PerImage, study: str, synthetic: bool) -> dict[str, bytes]:
    """The downloads, path in the site -> bytes."""
    texts = {
        "downloads/per_image_cells.csv": cells_csv(found.stats),
        "downloads/per_image_tests.csv": tests_csv(found.tests),
        "downloads/per_image_tests.tex": tests_tex(found.tests, study, synthetic),
        "downloads/rankings.csv": rankings_csv(found.rankings),
        "downloads/rankings.tex": rankings_tex(found.rankings, study, synthetic),
    }
    return {path: text.encode("utf-8") for path, text in texts.items()}


def per_image_downloads() -> list[Download]:
    """The Downloads page's entries."""
    return [Download(path, path.rpartition("/")[2], text) for path, text in PER_IMAGE_FILES.items()]
