"""Downloads: every metric as CSV, the means over seeds as CSV, the headline tables as LaTeX.

The LaTeX tables use booktabs (`\\usepackage{booktabs}`); values are percentages with one
decimal, the 95% interval in brackets; text is escaped for LaTeX.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from evalsuite.site.data_csv import record_path
from evalsuite.site.records import METRIC_NAMES, METRICS, GroupKey, Results
from evalsuite.site.stats import Delta, Summary, summarise
from evalsuite.site.tables import HEADLINE_METRICS, DeltaRow, Row

CELL_FIELDS = (
    "path",
    "id",
    "detector",
    "label",
    "scope",
    "condition",
    "regime",
    "category",
    "sweep_param",
    "sweep_value",
    "seed",
    "status",
)
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def _text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _cell_fields(
    path: str, cell_id: str, detector: str, group: GroupKey, seed: int, status: str
) -> tuple[object, ...]:
    param, value = group.sweep if group.sweep else ("", "")
    fields = (path, cell_id, detector, group.label, group.scope, group.condition, group.regime)
    return (*fields, group.category, param, value, seed, status)


def metrics_csv(results: Results) -> str:
    """One row per cell and metric (a failed or missing cell: one row, without metric); `path`
    is the shipped record (site-relative), empty for a missing cell."""
    header = (*CELL_FIELDS, "metric", "value", "ci95_low", "ci95_high", "reason")
    rows: list[Sequence[object]] = [header]
    for cell in results.cells:
        group = cell.key.group
        fields = _cell_fields(
            record_path(cell.relpath),
            cell.record["id"],
            cell.detector,
            group,
            cell.key.seed,
            cell.status,
        )
        if not cell.ok:
            rows.append((*fields, "", "", "", "", cell.record["error"]["message"]))
            continue
        for name in METRICS:
            metric = cell.metrics[name]
            low, high = metric.ci if metric.ci else ("", "")
            rows.append((*fields, name, _number(metric.value), low, high, metric.reason or ""))
    for key in results.missing:
        fields = _cell_fields("", "", "", key.group, key.seed, "missing")  # no record to ship
        rows.append((*fields, "", "", "", "", ""))
    return _text(rows)


def summary_csv(results: Results) -> str:
    """Means over seeds per group and metric, with sd, n and the 95% interval."""
    header = ("label", "scope", "condition", "regime", "category", "sweep_param", "sweep_value")
    rows: list[Sequence[object]] = [
        (*header, "metric", "mean", "sd", "n", "ci95_low", "ci95_high", "interval", "reason")
    ]
    for group, cells in results.groups().items():
        param, value = group.sweep if group.sweep else ("", "")
        fields = (group.label, group.scope, group.condition, group.regime, group.category)
        for name in METRICS:
            s = summarise(cells, name)
            low, high = s.ci if s.ci else ("", "")
            numbers = (_number(s.mean), _number(s.sd), s.n, low, high)
            rows.append((*fields, param, value, name, *numbers, s.interval or "", s.reason or ""))
    return _text(rows)


def _number(value: float | None) -> object:
    return "" if value is None else value


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped."""
    return "".join(_LATEX.get(char, char) for char in text)


def _cell(summary: Summary) -> str:
    if summary.mean is None:
        return {"missing": "--", "failed": "failed"}.get(summary.reason or "missing", "n/a")
    text = f"{100 * summary.mean:.1f}"
    if summary.ci is not None:
        low, high = summary.ci
        text += rf" {{\scriptsize[{100 * low:.1f}, {100 * high:.1f}]}}"
    return text


def _delta(delta: Delta) -> str:
    if delta.mean is None:
        return "--"
    points = round(100 * delta.mean, 1)
    text = "0.0" if points == 0 else f"{points:+.1f}"
    return text + (rf" {{\scriptsize$\pm${100 * delta.sd:.1f}}}" if delta.sd is not None else "")


def _table(
    caption: str, label: str, columns: Sequence[str], lines: Sequence[str], synthetic: bool
) -> str:
    note = " Synthetic data: not comparable with published MVTec AD results." if synthetic else ""
    head = " & ".join(columns) + r" \\"
    spec = "lll" + "c" * (len(columns) - 3)
    return "\n".join(
        [
            "% requires \\usepackage{booktabs}",
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(caption + note)}}}",
            rf"\label{{{label}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            head,
            r"\midrule",
            *lines,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            "",
        ]
    )


def _separator(first_of_label: bool, first_of_group: bool, index: int) -> list[str]:
    if index == 0:
        return []
    if first_of_label:
        return [r"\midrule"]
    return [r"\addlinespace"] if first_of_group else []


def headline_tex(rows: Sequence[Row], study: str, synthetic: bool) -> str:
    """The headline table (per_class): detector × category × condition/regime."""
    lines = []
    for index, row in enumerate(rows):
        lines += _separator(row.first_of_label, row.first_of_category, index)
        label = latex_escape(row.label) if row.first_of_label else ""
        category = latex_escape(row.category) if row.first_of_category else ""
        values = " & ".join(_cell(v) for v in row.values)
        lines.append(rf"{label} & {category} & {latex_escape(row.kind)} & {values} \\")
    columns = ["Detector", "Category", "Condition/regime"]
    columns += [METRIC_NAMES[m] for m in HEADLINE_METRICS]
    caption = (
        f"Study {study}, one model per category: mean over seeds in %, 95% interval in "
        "brackets; F1 at the image threshold chosen on validation data."
    )
    return _table(caption, "tab:evalsuite-headline", columns, lines, synthetic)


def delta_tex(
    rows: Sequence[DeltaRow], study: str, synthetic: bool, *, what: str, middle: str
) -> str:
    """A difference table (shift drop or unified gap): b − a per metric in points.

    Args:
        rows: the rows.
        study: the study's name.
        synthetic: whether the data is synthetic (said in the caption).
        what: the caption's description of the difference.
        middle: "scope" or "kind": the third column.
    """
    lines = []
    for index, row in enumerate(rows):
        first_group = (
            index == 0 or rows[index - 1].kind != row.kind or rows[index - 1].scope != row.scope
        )
        lines += _separator(row.first_of_label, first_group, index)
        label = latex_escape(row.label) if row.first_of_label else ""
        third = row.scope if middle == "scope" else row.kind
        values = " & ".join(_delta(d) for d in row.delta)
        lines.append(
            rf"{label} & {latex_escape(third)} & {latex_escape(row.category)} & {values} \\"
        )
    columns = ["Detector", "Scope" if middle == "scope" else "Condition/regime", "Category"]
    columns += [METRIC_NAMES[m] for m in HEADLINE_METRICS]
    caption = f"Study {study}: {what}, in percentage points (± sd over seeds)."
    tag = "shift" if middle == "scope" else "unified"
    return _table(caption, f"tab:evalsuite-{tag}", columns, lines, synthetic)
