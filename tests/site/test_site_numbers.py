"""The site's numbers against the records: means over seeds, paired differences, tables, exports
and chart specs."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
import statistics
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
from altair.vegalite.v6.schema.core import load_schema

from evalsuite import results
from evalsuite.site.downloads.latex import number
from evalsuite.site.downloads.metrics_csv import metrics_csv
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import METRICS, Cell, cell_from_record
from evalsuite.site.views.stats import FAILED, MISSING, paired_delta, summarise
from evalsuite.site.views.tables import HEADLINE_METRICS, drop_rows, gap_rows, grid_of, metric_rows

T_975_DF2 = 4.302652729911275
"""Student's t, 0.975 quantile, 2 degrees of freedom (statistical tables: 4.303)."""
CELL = "patchcore/per_class/none/clean/hazelnut.json"


@pytest.fixture(scope="module")
def record(results_dir: Path) -> dict[str, Any]:
    return results.read_cell(results_dir / "cells" / CELL)


def with_seed(record: dict[str, Any], seed: int, auroc: float | None, **changes: Any) -> Cell:
    """A copy of `record` as another seed with another image AUROC."""
    edited = copy.deepcopy(record)
    edited["seed"] = seed
    edited["metrics"]["image_auroc"]["value"] = auroc
    edited.update(changes)
    return cell_from_record(PurePosixPath(f"{CELL[:-5]}__seed{seed}.json"), edited)


def test_one_seed_keeps_the_bootstrap_interval(record: dict[str, Any]) -> None:
    cell = cell_from_record(PurePosixPath(CELL), record)
    summary = summarise([cell], "image_auroc")
    assert summary.mean == record["metrics"]["image_auroc"]["value"]
    assert summary.ci == tuple(record["metrics"]["image_auroc"]["ci95"])
    assert (summary.n, summary.sd, summary.interval) == (1, None, "bootstrap")


def test_several_seeds_give_mean_sd_and_t_interval(record: dict[str, Any]) -> None:
    cells = [with_seed(record, s, v) for s, v in ((0, 0.8), (1, 0.9), (2, 0.7))]
    summary = summarise(cells, "image_auroc")
    assert summary.mean == pytest.approx(0.8) and summary.sd == pytest.approx(0.1)
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert summary.ci == pytest.approx((0.8 - half, 0.8 + half))
    assert (summary.n, summary.interval) == (3, "seeds")


def test_missing_failed_and_undefined_metrics_say_why(record: dict[str, Any]) -> None:
    failed = with_seed(record, 0, None, status="failed", metrics=None)
    assert summarise([], "image_auroc") == MISSING
    assert summarise([failed], "image_auroc") == FAILED
    undefined = copy.deepcopy(record)
    undefined["metrics"]["pixel_auroc"] = {"value": None, "ci95": None, "reason": "no masks"}
    cell = cell_from_record(PurePosixPath(CELL), undefined)
    summary = summarise([cell], "pixel_auroc")
    assert summary.mean is None and summary.reason == "no masks"


def test_differences_are_paired_by_seed(record: dict[str, Any]) -> None:
    clean = [with_seed(record, 0, 0.9), with_seed(record, 1, 0.8), with_seed(record, 2, 0.5)]
    shift = [with_seed(record, 0, 0.7), with_seed(record, 1, 0.7)]
    delta = paired_delta(clean, shift, "image_auroc")
    assert delta.n == 2  # seed 2 has no shifted cell
    assert delta.mean == pytest.approx(statistics.fmean([-0.2, -0.1]))
    assert delta.sd == pytest.approx(statistics.stdev([-0.2, -0.1]))


def test_tables_hold_the_records_numbers(results_dir: Path) -> None:
    loaded = load_results(results_dir)
    grid = grid_of(loaded)
    assert grid.labels == ("padim", "patchcore") and grid.categories == ("hazelnut", "zipper")
    records = {p.as_posix(): r for p, r in results.iter_cells(results_dir)}

    def value(path: str, metric: str) -> float:
        return float(records[path]["metrics"][metric]["value"])

    rows = metric_rows(loaded, grid, "per_class", HEADLINE_METRICS, grid.kinds)
    assert len(rows) == 2 * 2 * 4
    row = next(
        r for r in rows if (r.label, r.category, r.kind) == ("padim", "zipper", "shift/retrain")
    )
    for metric, summary in zip(HEADLINE_METRICS, row.values, strict=True):
        assert summary.mean == value("padim/per_class/retrain/shift/zipper.json", metric)
    drop = next(
        r
        for r in drop_rows(loaded, grid)
        if (r.label, r.scope, r.category) == ("patchcore", "unified", "hazelnut")
    )
    expected = value("patchcore/unified/none/shift/hazelnut.json", "aupro_0.3") - value(
        "patchcore/unified/none/clean/hazelnut.json", "aupro_0.3"
    )
    assert drop.delta[HEADLINE_METRICS.index("aupro_0.3")].mean == pytest.approx(expected)
    gap = next(
        r
        for r in gap_rows(loaded, grid)
        if (r.label, r.kind, r.category) == ("padim", "shift/threshold", "zipper")
    )
    expected = value("padim/unified/threshold/shift/zipper.json", "image_f1") - value(
        "padim/per_class/threshold/shift/zipper.json", "image_f1"
    )
    assert gap.delta[HEADLINE_METRICS.index("image_f1")].mean == pytest.approx(expected)


def test_metrics_csv_has_every_metric_of_every_cell(results_dir: Path) -> None:
    loaded = load_results(results_dir)
    rows = list(csv.DictReader(io.StringIO(metrics_csv(loaded))))
    assert len(rows) == 36 * len(METRICS)
    for path, record in results.iter_cells(results_dir):
        mine = {r["metric"]: r for r in rows if r["path"] == f"downloads/records/cells/{path}"}
        assert set(mine) == set(METRICS)
        for name, metric in record["metrics"].items():
            assert mine[name]["value"] == ("" if metric["value"] is None else repr(metric["value"]))
            assert mine[name]["status"] == "ok" and mine[name]["id"] == record["id"]


def test_headline_latex_is_booktabs_with_the_table_values(
    site_dir: Path, results_dir: Path
) -> None:
    tex = (site_dir / "downloads" / "headline.tex").read_text()
    for command in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{llcc}"):
        assert command in tex
    assert tex.count(r"\begin{table}") == 4  # image level, pixel level; one per detector
    lines = [line for line in tex.splitlines() if line.endswith(r"\\") and "Category" not in line]
    # per level: 16 category rows and 8 mean rows (2 detectors x 4 kinds)
    assert len([line for line in lines if "multicolumn" not in line]) == 2 * (16 + 8)
    record = results.read_cell(results_dir / "cells" / "padim/per_class/none/clean/hazelnut.json")
    auroc = record["metrics"]["image_auroc"]
    low, high = (number(v) for v in auroc["ci95"])
    expected = rf"\shortstack{{{number(auroc['value'])}\\ {{\scriptsize [{low}, {high}]}}}}"
    first = next(line for line in lines if line.startswith("hazelnut & clean/none"))
    assert first.split(" & ")[2] == expected
    assert tex.count(r"\caption{padim. Study ") == tex.count(r"\caption{patchcore. Study ") == 2
    assert "Synthetic data" in tex


def test_every_chart_is_valid_vega_lite(site_dir: Path) -> None:
    schema = load_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    pages = ["index.html", "shift.html", "roc.html", "unified.html", "hyperparameters.html"]
    pages.append("statistics.html")  # the CD diagrams
    pages.append("cells/patchcore--per_class--none--clean--hazelnut.html")
    count = 0
    for page in pages:
        text = (site_dir / page).read_text(encoding="utf-8")
        for body in re.findall(
            r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S
        ):
            errors = [e.message[:200] for e in validator.iter_errors(json.loads(body))]
            assert not errors, (page, errors[:3])
            count += 1
    assert count >= 15
