"""The History page (`site --history FILE`): the nightly's trend of every headline metric over
the nights a history file holds (`evalsuite history append`), each night annotated with what
changed in its provenance since the night before, and the same as `downloads/history.csv`.

Per detector, one chart (`charts.history`): columns are categories, rows the headline metrics,
a line and 95% band per condition/regime (and seed), a dashed rule on each night whose
provenance changed. The table lists every night: its verdicts against the night it was
compared with (`evalsuite diff`'s), the headline metrics that moved beyond their interval, and
what changed in provenance (code commit, versions, weights, data, configuration).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.errors import ResultsError
from evalsuite.results.diff_metrics import HEADLINE
from evalsuite.results.history import Night, cell_id, provenance_changes
from evalsuite.results.history_file import History, read_history
from evalsuite.results.provenance_diff import Change
from evalsuite.site.catalogue import Download
from evalsuite.site.charts.history import trend_chart
from evalsuite.site.charts.specs import Chart
from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import KINDS, METRIC_NAMES

HISTORY_PAGE = "history.html"
HISTORY_CSV = "downloads/history.csv"
CSV_COLUMNS = (
    "night",
    "run",
    "label",
    "category",
    "condition",
    "regime",
    "seed",
    "metric",
    "value",
    "ci95_low",
    "ci95_high",
    "verdict",
    "against",
    "changes",
)
DOWNLOAD = Download(
    HISTORY_CSV,
    "history.csv",
    "The nightly's history (the History page): one row per night, headline cell and headline "
    "metric with its value, 95% interval, the verdict against the night it was compared with "
    "(`against`), and what changed in provenance since the night before (`changes`).",
)


@dataclass(frozen=True)
class NightRow:
    """A night of the table: its label, run, commit, verdict counts, the metrics that moved
    beyond their interval, and what changed in provenance since the night before."""

    night: str
    run: str
    commit: str
    against: str | None
    counts: str
    moved: tuple[str, ...]
    changes: tuple[str, ...]


@dataclass(frozen=True)
class HistoryView:
    """What `site --history` adds: the page, its CSV and the Downloads page's entry."""

    page: Page
    files: dict[str, bytes]
    downloads: tuple[Download, ...]


def history_page(path: Path | None, anonymous: bool = False) -> HistoryView | None:
    """The History page of the history file at `path` (None without one), read and checked
    before any other work; `anonymous`: its commits renamed (`anonymous_history`).

    Raises:
        ResultsError: the file is missing, not a history, or corrupt (naming it).
    """
    if path is None:
        return None
    found = read_history(path)
    if found is None:
        raise ResultsError(
            f"--history {path} does not exist; write it with `evalsuite history append`"
        )
    return history_view(anonymous_history(found) if anonymous else found)


def history_view(history: History) -> HistoryView:
    """The History page of a (validated) history."""
    nights = history["nights"]
    labels = night_labels(nights)
    changes = [[] if i == 0 else provenance_changes(nights[i - 1], n) for i, n in enumerate(nights)]
    charts = [
        (label, _chart(label, nights, labels, changes))
        for label in sorted({c["label"] for n in nights for c in n["cells"]})
    ]
    rows = [_night_row(n, labels[i], changes[i]) for i, n in enumerate(nights)]
    first, last = (labels[0], labels[-1]) if nights else ("", "")
    data = {
        "charts": charts,
        "nights": list(reversed(rows)),  # the newest first
        "count": len(nights),
        "first": first,
        "last": last,
        "download": HISTORY_CSV,
    }
    page = Page(HISTORY_PAGE, "history.html.j2", "History", HISTORY_PAGE, data, charts=True)
    files = {HISTORY_CSV: history_csv(nights, labels, changes).encode("utf-8")}
    return HistoryView(page, files, (DOWNLOAD,))


def with_history(nav: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The navigation with History after Overview (and after Changes where it is)."""
    at = 2 if len(nav) > 1 and nav[1][0] == "changes.html" else 1
    return (*nav[:at], (HISTORY_PAGE, "History"), *nav[at:])


def night_labels(nights: list[Night]) -> list[str]:
    """Each night's label: its date, with the time (UTC) where two nights share a date."""
    dates = [n["date"] for n in nights]
    return [
        n["date"] if dates.count(n["date"]) == 1 else f"{n['date']} {n['run'][11:16]}"
        for n in nights
    ]


def anonymous_history(history: History) -> History:
    """`history` without its git commits (a hash finds a public repository): each distinct
    commit becomes "commit 1", "commit 2"... in order of first appearance, so a change of
    commit still shows. Nothing else in a history names the machine (`results.history`)."""
    names: dict[str, str] = {}
    nights = []
    for night in history["nights"]:
        code = dict(night["provenance"]["code"])
        commit = code["git_commit"]
        if commit is not None:
            code["git_commit"] = names.setdefault(commit, f"commit {len(names) + 1}")
        nights.append({**night, "provenance": {**night["provenance"], "code": code}})
    return {**history, "nights": nights}


def history_csv(nights: list[Night], labels: list[str], changes: list[list[Change]]) -> str:
    """One row per night, headline cell and metric; columns `CSV_COLUMNS` (fractions)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for night, label, changed in zip(nights, labels, changes, strict=True):
        text = "; ".join(c.text() for c in changed)
        for cell in night["cells"]:
            for metric in HEADLINE:
                m = cell["metrics"][metric]
                writer.writerow(
                    {
                        "night": label,
                        "run": night["run"],
                        **{k: cell[k] for k in ("label", "category", "condition", "regime")},
                        "seed": cell["seed"],
                        "metric": metric,
                        "value": _blank(m["value"]),
                        "ci95_low": "" if m["ci95"] is None else m["ci95"][0],
                        "ci95_high": "" if m["ci95"] is None else m["ci95"][1],
                        "verdict": m["verdict"] or "",
                        "against": night["against"] or "",
                        "changes": text,
                    }
                )
    return buffer.getvalue()


def _chart(
    label: str, nights: list[Night], labels: list[str], changes: list[list[Change]]
) -> Chart:
    """The trend chart of detector `label`."""
    rows: list[dict[str, Any]] = []
    panels: set[tuple[str, str]] = set()
    kinds: set[str] = set()
    for night, name in zip(nights, labels, strict=True):
        for cell in night["cells"]:
            if cell["label"] != label:
                continue
            kind = f"{cell['condition']}/{cell['regime']}"
            kinds.add(kind)
            for metric in HEADLINE:
                m = cell["metrics"][metric]
                panels.add((cell["category"], metric))
                rows.append(_value_row(night, name, cell, kind, metric, m))
    for night, name, changed in zip(nights, labels, changes, strict=True):
        if changed:
            text = "; ".join(c.text() for c in changed)
            for col, metric in sorted(panels):
                row = METRIC_NAMES[metric]
                rows.append(
                    {"layer": "change", "time": night["run"], "night": name, "col": col}
                    | {"row": row, "changes": text}
                )
    categories = sorted({col for col, _ in panels})
    metrics = [METRIC_NAMES[m] for m in HEADLINE if any(m == p for _, p in panels)]
    order = [k for k in KINDS if k in kinds] + sorted(kinds - set(KINDS))
    spec = trend_chart(rows, columns=categories, panels=metrics, kinds=order)
    caption = (
        f"{label}: each headline metric per category over the nights, in %, with its 95% "
        "interval as a band; a dashed line marks a night whose provenance changed since the "
        "night before (hover it for what changed)."
    )
    return Chart("", caption, spec)


def _value_row(
    night: Night, name: str, cell: dict[str, Any], kind: str, metric: str, m: dict[str, Any]
) -> dict[str, Any]:
    ci = m["ci95"]
    return {
        "layer": "value",
        "time": night["run"],
        "night": name,
        "id": cell_id(cell),
        "col": cell["category"],
        "row": METRIC_NAMES[metric],
        "metric": metric,
        "kind": kind,
        "seed": cell["seed"],
        "y": None if m["value"] is None else 100 * m["value"],
        "lo": None if ci is None else 100 * ci[0],
        "hi": None if ci is None else 100 * ci[1],
        "verdict": m["verdict"] or ("not compared" if night["against"] is None else "no interval"),
    }


def _night_row(night: Night, name: str, changed: list[Change]) -> NightRow:
    verdicts = [
        (cell, metric, cell["metrics"][metric]["verdict"])
        for cell in night["cells"]
        for metric in HEADLINE
    ]
    moved = tuple(
        f"{cell_id(cell)} {METRIC_NAMES[metric]} {verdict}"
        for cell, metric, verdict in verdicts
        if verdict in ("regressed", "improved")
    )
    counted = [
        f"{sum(v == kind for _, _, v in verdicts)} {kind}"
        for kind in ("regressed", "improved", "unchanged")
        if any(v == kind for _, _, v in verdicts)
    ]
    counts = ", ".join(counted) or "no verdict"
    commit = night["provenance"]["code"]["git_commit"]
    return NightRow(
        name,
        night["run"],
        "" if commit is None else commit[:12],
        night["against"],
        "not compared" if night["against"] is None else counts,
        moved,
        tuple(c.text() for c in changed),
    )


def _blank(value: float | None) -> Any:
    return "" if value is None else value
