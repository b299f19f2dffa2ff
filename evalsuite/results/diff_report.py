"""`evalsuite diff` as text (a table a person reads), as JSON data (the same content) and as
CSV rows (the site's downloads)."""

from __future__ import annotations

from typing import Any

from evalsuite.results.diff import ORDER, CellDiff, RunDiff
from evalsuite.results.diff_metrics import MetricDelta

CSV_COLUMNS = (
    "status",
    "label",
    "scope",
    "regime",
    "condition",
    "category",
    "sweep",
    "seed",
    "metric",
    "base",
    "new",
    "delta",
    "ci95_low",
    "ci95_high",
    "p_value",
    "verdict",
    "paired",
    "reason",
    "base_path",
    "new_path",
    "changes",
)
METRIC_COLUMNS = CSV_COLUMNS[CSV_COLUMNS.index("metric") : CSV_COLUMNS.index("reason") + 1]
"""The columns of one headline metric, blank in the row of a cell without metrics."""


def summary_line(diff: RunDiff) -> str:
    """e.g. `3 regressed, 1 newly failed, 2 improved, 30 unchanged (36 cells)`; counts of zero
    are left out."""
    parts = [
        f"{diff.count(status)} {status.replace('_', ' ')}" for status in ORDER if diff.count(status)
    ]
    return f"{', '.join(parts)} ({len(diff.cells)} cells)"


def diff_lines(diff: RunDiff) -> list[str]:
    """The readable report: a summary, then one block per cell that is not unchanged."""
    lines = [
        f"base {diff.base} ({diff.base_created or 'no manifest'}) -> new {diff.new} "
        f"({diff.new_created or 'no manifest'}); min delta {diff.min_delta:g}",
        summary_line(diff),
    ]
    if diff.unpaired:
        lines.append(
            f"{diff.unpaired} cell(s) compared UNPAIRED: their records name different datasets, "
            "so each side's own test images were resampled on their own"
        )
    for cell in diff.cells:
        if cell.status == "unchanged":
            continue
        lines.append("")
        lines.append(f"{cell.status.upper().replace('_', ' ')}  {cell.key.name()}")
        if cell.error:
            lines.append(f"    error: {' '.join(cell.error.split())}")
        for m in cell.metrics:
            if m.delta != 0 and (m.delta is not None or (m.base is None) != (m.new is None)):
                lines.append(f"    {_metric_text(m)}")
        lines += [f"    changed: {change.text()}" for change in cell.changes]
    return lines


def _metric_text(m: MetricDelta) -> str:
    if m.delta is None:
        return f"{m.metric:<12} {_num(m.base)} -> {_num(m.new)}  ({m.reason})"
    text = f"{m.metric:<12} {_num(m.base)} -> {_num(m.new)}  delta {m.delta:+.4f}"
    if m.ci95 is None:
        return f"{text}  ({m.reason or 'no interval'})"
    return (
        text + f"  95% CI [{m.ci95[0]:+.4f}, {m.ci95[1]:+.4f}]  p={m.p_value:.3f}  "
        f"n={m.n_images}  {verdict_text(m)}"
    )


def verdict_text(m: MetricDelta) -> str:
    """The verdict, e.g. "regressed", or "regressed (unpaired: different datasets)"."""
    return f"{m.verdict}" if m.paired else f"{m.verdict} (unpaired: different datasets)"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


DIFF_SCHEMA = "evalsuite.diff/1"
"""The `schema` of a diff report as JSON: how a later `diff --json` knows the file is its own."""


def diff_json(diff: RunDiff) -> dict[str, Any]:
    """The report as data: its schema, folders, dates, counts by status, every cell."""
    return {
        "schema": DIFF_SCHEMA,
        "base": {"folder": str(diff.base), "created": diff.base_created},
        "new": {"folder": str(diff.new), "created": diff.new_created},
        "min_delta": diff.min_delta,
        "unpaired": diff.unpaired,
        "counts": {status: diff.count(status) for status in ORDER},
        "cells": [_cell_json(cell) for cell in diff.cells],
    }


def _cell_json(cell: CellDiff) -> dict[str, Any]:
    key = cell.key
    return {
        "status": cell.status,
        "key": {
            "label": key.label,
            "scope": key.scope,
            "regime": key.regime,
            "condition": key.condition,
            "category": key.category,
            "sweep": None if key.sweep is None else {"param": key.sweep[0], "value": key.sweep[1]},
            "seed": key.seed,
        },
        "base_path": None if cell.base_path is None else str(cell.base_path),
        "new_path": None if cell.new_path is None else str(cell.new_path),
        "error": cell.error,
        "metrics": [
            {
                "metric": m.metric,
                "base": m.base,
                "new": m.new,
                "delta": m.delta,
                "ci95": None if m.ci95 is None else list(m.ci95),
                "p_value": m.p_value,
                "n_images": m.n_images,
                "verdict": m.verdict,
                "paired": m.paired,
                "reason": m.reason,
            }
            for m in cell.metrics
        ],
        "changes": [
            {"kind": c.kind, "key": c.key, "base": c.base, "new": c.new} for c in cell.changes
        ],
    }


def csv_rows(diff: RunDiff) -> list[dict[str, Any]]:
    """One row per (cell, headline metric) of a pair of ok cells, one row per other cell;
    columns `CSV_COLUMNS`."""
    rows = []
    for cell in diff.cells:
        key = cell.key
        common = {
            "status": cell.status,
            "label": key.label,
            "scope": key.scope,
            "regime": key.regime,
            "condition": key.condition,
            "category": key.category,
            "sweep": "" if key.sweep is None else f"{key.sweep[0]}={key.sweep[1]}",
            "seed": key.seed,
            "base_path": "" if cell.base_path is None else str(cell.base_path),
            "new_path": "" if cell.new_path is None else str(cell.new_path),
            "changes": "; ".join(change.text() for change in cell.changes),
        }
        empty = dict.fromkeys(METRIC_COLUMNS, "")
        if not cell.metrics:
            rows.append({**common, **empty})
        for m in cell.metrics:
            rows.append(
                {
                    **common,
                    **empty,
                    "metric": m.metric,
                    "base": _blank(m.base),
                    "new": _blank(m.new),
                    "delta": _blank(m.delta),
                    "ci95_low": "" if m.ci95 is None else m.ci95[0],
                    "ci95_high": "" if m.ci95 is None else m.ci95[1],
                    "p_value": _blank(m.p_value),
                    "verdict": m.verdict or "",
                    "paired": "yes" if m.paired else "no (different datasets)",
                    "reason": m.reason or "",
                }
            )
    return [{column: row[column] for column in CSV_COLUMNS} for row in rows]


def _blank(value: float | None) -> Any:
    return "" if value is None else value
