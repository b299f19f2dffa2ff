"""`site --history`: the History page of four constructed nights of a real tiny run shows each
night's values (read back from the page's chart data and from `downloads/history.csv`, compared
with the records), marks and lists exactly the provenance fields that changed, links the CSV
from the Downloads page, keeps no git commit under `--anonymous`, is in the bundle, and at
400 px does not scroll sideways (headless Chromium; skipped without it); another process with
another hash seed draws the same CSV and charts.

(Named test_site_history: tests/test_history.py is the command's test, and two test modules of
one name cannot be collected side by side.)
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from headless import SKIP, Tab, chromium_executable
from history_nights import CHANGED, Night, append, make_nights, tiny_run
from playwright.sync_api import Browser
from test_site_narrow import DRAWN, OVERFLOW, WIDTH

from evalsuite.cli import main
from evalsuite.results import iter_cells
from evalsuite.results.diff_metrics import HEADLINE
from evalsuite.site.read.records import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> list[Night]:
    return make_nights(tiny_run(tmp_path_factory), tmp_path_factory.mktemp("nights"))


@pytest.fixture(scope="module")
def history(nights: list[Night], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.json"
    for night in nights:
        assert append(night, path).exit_code == 0
    return path


def _site(nights: list[Night], history: Path, out: Path, *more: str) -> Path:
    args = ["site", "--results", str(nights[-1].folder), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--history", str(history), *more])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def site(nights: list[Night], history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _site(nights, history, tmp_path_factory.mktemp("history-site") / "site")


def _specs(page: Path) -> list[dict[str, Any]]:
    text = page.read_text(encoding="utf-8")
    found = re.findall(
        r'<script type="application/json" id="chart-history-\d+-spec">(.*?)</script>', text, re.S
    )
    return [json.loads(spec) for spec in found]


def _records(night: Night) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The night's headline (per_class) records by (label, category, condition, regime)."""
    return {
        (r["label"], r["category"], r["condition"], r["regime"]): r
        for _, r in iter_cells(night.folder)
        if r["scope"] == "per_class"
    }


def _csv(site: Path) -> list[dict[str, str]]:
    text = (site / "downloads" / "history.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_chart_shows_every_nights_values_with_their_intervals(
    nights: list[Night], site: Path
) -> None:
    specs = _specs(site / "history.html")
    assert len(specs) == 2  # one chart per detector
    rows = [r for spec in specs for r in spec["datasets"]["rows"] if r["layer"] == "value"]
    by_night = {night.created: _records(night) for night in nights}
    names = {name: metric for metric, name in METRIC_NAMES.items()}
    assert len(rows) == len(nights) * 4 * len(HEADLINE)
    for row in rows:
        condition, regime = row["kind"].split("/")
        record = by_night[row["time"]][(row["id"].split("/")[0], row["col"], condition, regime)]
        metric = record["metrics"][names[row["row"]]]
        assert row["y"] == pytest.approx(100 * metric["value"])
        assert [row["lo"], row["hi"]] == pytest.approx([100 * v for v in metric["ci95"]])


def test_the_csv_holds_every_nights_values_as_the_records_do(
    nights: list[Night], site: Path
) -> None:
    rows = _csv(site)
    by_night = {night.created: _records(night) for night in nights}
    assert len(rows) == len(nights) * 4 * len(HEADLINE)
    for row in rows:
        key = (row["label"], row["category"], row["condition"], row["regime"])
        metric = by_night[row["run"]][key]["metrics"][row["metric"]]
        assert float(row["value"]) == metric["value"]
        assert [float(row["ci95_low"]), float(row["ci95_high"])] == metric["ci95"]
    reversed_rows = [
        r for r in rows if r["run"] == nights[2].created and r["metric"] == "image_auroc"
    ]
    verdicts = {(r["label"], r["category"]): r["verdict"] for r in reversed_rows}
    assert verdicts[("patchcore", "hazelnut")] == "regressed"


def _named(text: str) -> set[str]:
    """The provenance fields an annotation names: "kind key" of each "kind key: a -> b"."""
    return {part.split(":")[0] for part in text.split("; ")} if text else set()


def test_each_change_names_exactly_the_provenance_fields_that_changed(
    nights: list[Night], site: Path
) -> None:
    rows = _csv(site)
    for index, night in enumerate(nights):
        texts = {r["changes"] for r in rows if r["run"] == night.created}
        assert len(texts) == 1 and _named(texts.pop()) == CHANGED[index]
    marks = [
        r for spec in _specs(site / "history.html") for r in spec["datasets"]["rows"]
        if r["layer"] == "change"
    ]  # fmt: skip
    marked = {r["time"]: _named(r["changes"]) for r in marks}
    assert marked == {night.created: CHANGED[i] for i, night in enumerate(nights) if CHANGED[i]}
    page = (site / "history.html").read_text(encoding="utf-8")
    assert "versions torch: " in page and "code git_commit: " in page


def test_the_page_is_in_the_navigation_and_its_csv_in_the_downloads(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<a href="history.html">History</a>' in index
    downloads = (site / "downloads.html").read_text(encoding="utf-8")
    assert "downloads/history.csv" in downloads


def test_anonymous_keeps_no_commit_and_the_bundle_holds_the_page(
    nights: list[Night], history: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "supplement.zip"
    out = _site(nights, history, tmp_path / "site", "--anonymous", "--bundle", str(bundle))
    commits = [c.encode() for c in ("a" * 40, "b" * 40, "a" * 12, "b" * 12)]
    texts = {".html", ".csv", ".json", ".tex", ".svg", ".txt"}
    for path in out.rglob("*"):
        if path.suffix in texts:
            data = path.read_bytes()
            assert not any(c in data for c in commits), path
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"supplement/history.html", "supplement/downloads/history.csv"} <= names
        for name in names:
            if Path(name).suffix in texts:
                data = archive.read(name)
                assert not any(c in data for c in commits), name
    page = (out / "history.html").read_text(encoding="utf-8")
    assert "code git_commit: commit 1 -&gt; commit 2" in page


def test_a_missing_or_foreign_history_is_refused(nights: list[Night], tmp_path: Path) -> None:
    args = ["site", "--results", str(nights[-1].folder), "--out", str(tmp_path / "site")]
    missing = tmp_path / "absent.json"
    result = CliRunner().invoke(main, [*args, "--history", str(missing)])
    assert result.exit_code == 2 and str(missing) in result.output
    foreign = tmp_path / "notes.json"
    foreign.write_text('{"schema": "evalsuite.diff/1"}')
    result = CliRunner().invoke(main, [*args, "--history", str(foreign)])
    assert result.exit_code == 2 and "not an evalsuite history" in result.output
    assert not (tmp_path / "site").exists()


@pytest.mark.skipif(chromium_executable() is None, reason=SKIP)
def test_the_page_draws_offline_without_scrolling_sideways_at_400_px(
    chromium: Browser, site: Path
) -> None:
    tab = Tab(chromium, width=WIDTH)
    try:
        log = tab.open((site / "history.html").as_uri())
        assert tab.wait_for(DRAWN, timeout_s=60) == {"charts": 2}
        state = tab.evaluate(OVERFLOW)
        assert state["scroll"] <= state["inner"] == WIDTH, state
        assert log.errors == [] and all(url.startswith("file://") for url in log.requests)
    finally:
        tab.close()


BUILD = """
import json, sys
from pathlib import Path
from evalsuite.results.history_file import read_history
from evalsuite.site.pages.history import history_view
view = history_view(read_history(Path(sys.argv[1])))
specs = [chart.spec for _, chart in view.page.data["charts"]]
print(json.dumps({"csv": view.files["downloads/history.csv"].decode(), "specs": specs}))
"""


def test_another_process_with_another_hash_seed_draws_the_same(history: Path, site: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(history)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    again = json.loads(done.stdout)
    assert again["csv"] == (site / "downloads" / "history.csv").read_text(encoding="utf-8")
    assert again["specs"] == _specs(site / "history.html")
