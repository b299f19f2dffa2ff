"""The Compare page: its embedded numbers against the difference tables, the paired machinery
and the records (each recomputed here), its pairs and the cell pages' links to them, and in
headless Chromium from file:// that choosing two cells shows their numbers, keeps the choice in
the URL's fragment, and that the fragment restores it (skipped, with the reason, only where
Chromium is not installed)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from headless import Tab
from lxml import html
from playwright.sync_api import Browser
from scipy.stats import rankdata

from evalsuite.evaluation.paired import paired_image_difference
from evalsuite.results import iter_cells
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import cell_page
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.resamples import paired_resamples
from evalsuite.site.views.tables import grid_of

DATA = re.compile(r'^window\.evalsuiteCompare\[("[^"]+")\] = (.*);$', re.MULTILINE)
SHOWN = "() => document.querySelector('#compare-metrics') !== null"


def page_name(relpath: str) -> str:
    """A cell's name in the page's fragment: its page's file name without .html."""
    return cell_page(relpath)[len("cells/") : -len(".html")]


def compare_data(site: Path) -> dict[str, dict[str, Any]]:
    """Each data script of the page, by its path in the site: the JSON it registers."""
    found = {}
    for script in sorted((site / "compare").glob("*.js")):
        match = DATA.search(script.read_text(encoding="utf-8"))
        assert match is not None, script
        path = json.loads(match.group(1))
        assert path == script.relative_to(site).as_posix()
        found[path] = json.loads(match.group(2))
    return found


def all_pairs(site: Path) -> dict[str, dict[str, Any]]:
    return {
        key: pair for data in compare_data(site).values() for key, pair in data["pairs"].items()
    }


def records(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Every finished cell record, by its name in the page."""
    return {
        page_name(relpath.as_posix()): record
        for relpath, record in iter_cells(results_dir)
        if record["status"] == "ok"
    }


def test_paired_differences_are_the_tables_and_the_paired_machinerys(
    site_dir: Path, results_dir: Path
) -> None:
    pairs = all_pairs(site_dir)
    results = load_results(results_dir)
    from_tables = 0
    grid = grid_of(results)
    for table in difference_tables(results, grid, paired_resamples(results, grid)):  # the site's
        for row in table.rows:
            if row.mean or len(row.pairs) != 1:
                continue
            a, b = row.pairs[0]
            shown = pairs[f"{page_name(a.relpath)}|{page_name(b.relpath)}"]
            for value, embedded in zip(row.values, shown["d"], strict=True):
                if value.diff is None:
                    assert embedded == value.reason
                    continue
                d = value.diff
                assert embedded == [d.delta, d.ci95[0], d.ci95[1], d.p_value, d.n_resamples]
                from_tables += 1
    assert from_tables > 100
    found = records(results_dir)
    detectors = 0
    for key, shown in pairs.items():
        a, b = (found[name] for name in key.split("|"))
        if a["label"] == b["label"]:
            continue
        ids = [s["id"] for s in a["scores"]]
        score_b = {s["id"]: s["score"] for s in b["scores"]}
        labels = np.array([s["label"] == 1 for s in a["scores"]])
        thresholds = (a["threshold"]["image"]["value"], b["threshold"]["image"]["value"])
        for metric, embedded in zip(
            ("image_auroc", "image_f1"), (shown["d"][0], shown["d"][3]), strict=True
        ):
            d = paired_image_difference(
                metric,
                labels,
                np.array([s["score"] for s in a["scores"]]),
                np.array([score_b[i] for i in ids]),
                thresholds=thresholds,
                n=a["config"]["evaluation"]["bootstrap"],
                seed=a["seed"],
            )
            assert embedded == [d.delta, d.ci95[0], d.ci95[1], d.p_value, d.n_resamples], key
        assert shown["n"] == len(ids)
        detectors += 1
    assert detectors >= 8  # PatchCore vs PaDiM under each scope and condition/regime


def test_embedded_roc_scores_and_metrics_are_the_records(site_dir: Path, results_dir: Path) -> None:
    found = records(results_dir)
    cells = 0
    for data in compare_data(site_dir).values():
        for name, cell in data["cells"].items():
            record = found.pop(name)
            roc = record["roc"]
            assert cell["roc"] == {level: [roc[level]["fpr"], roc[level]["tpr"]] for level in roc}
            scores = dict(zip(data["ids"], cell["scores"], strict=True))
            assert {s["id"]: s["score"] for s in record["scores"]} == {
                i: s for i, s in scores.items() if s is not None
            }
            assert cell["metrics"][0][0] == record["metrics"]["image_auroc"]["value"]
            assert cell["threshold"] == record["threshold"]["image"]["value"]
            cells += 1
    assert not found and cells > 30  # every finished cell, once


def test_moved_images_are_the_largest_rank_changes(site_dir: Path, results_dir: Path) -> None:
    found = records(results_dir)
    checked = 0
    for data in compare_data(site_dir).values():
        for key, shown in data["pairs"].items():
            a, b = (found[name] for name in key.split("|"))
            score_b = {s["id"]: s["score"] for s in b["scores"]}
            ids = [s["id"] for s in a["scores"] if s["id"] in score_b]
            n = len(ids)
            rank_a = rankdata([s["score"] for s in a["scores"]]) - 1  # ties: the mean rank,
            rank_b = rankdata([score_b[i] for i in ids]) - 1  # exact halves
            order = sorted(range(n), key=lambda i: (-abs(rank_b[i] - rank_a[i]), ids[i]))[:10]
            expected = [
                [ids[i], round(rank_a[i] / (n - 1), 4), round(rank_b[i] / (n - 1), 4)]
                for i in order
            ]
            assert [[data["ids"][m[0]], m[1], m[2]] for m in shown["moved"]] == expected, key
            checked += 1
    assert checked > 40


def test_pairs_are_the_counterparts_and_each_cell_page_links_its_own(
    site_dir: Path, results_dir: Path
) -> None:
    found = records(results_dir)

    def facets(r: dict[str, Any]) -> tuple[Any, ...]:
        return r["label"], r["scope"], r["condition"], r["regime"]

    expected = set()
    for (x, a), (y, b) in combinations(sorted(found.items()), 2):
        if (a["category"], a["seed"]) != (b["category"], b["seed"]):
            continue
        differ = sum(p != q for p, q in zip(facets(a), facets(b), strict=True))
        both_baseline = a["sweep"] is None and b["sweep"] is None
        swept = (a["sweep"] is None) != (b["sweep"] is None)
        if (both_baseline and differ == 1) or (swept and differ == 0):
            expected.add(frozenset((x, y)))
    pairs = all_pairs(site_dir)
    assert {frozenset(key.split("|")) for key in pairs} == expected
    assert len(expected) > 60
    for name in found:
        page = html.parse(str(site_dir / "cells" / f"{name}.html")).getroot()
        hrefs = [a.get("href") for a in page.xpath("//p[@class='compare-with']/a")]
        assert all(href.startswith("../compare.html#") for href in hrefs), name
        own = {f"a={k.split('|')[0]}&b={k.split('|')[1]}" for k in pairs if name in k.split("|")}
        assert {href.split("#", 1)[1] for href in hrefs} == own, name


@pytest.fixture(scope="module")
def tab(chromium: Browser) -> Iterator[Tab]:
    opened = Tab(chromium)
    yield opened
    opened.close()


def shown_delta(tab: Tab, metric: str) -> float:
    """The B − A of `metric` the page shows (its data-value: the embedded number)."""
    row = tab.page.locator("#compare-metrics tbody tr", has_text=metric).first
    return float(row.locator("td").nth(4).get_attribute("data-value") or "nan")


def test_choosing_two_cells_shows_them_and_the_fragment_restores_them(
    tab: Tab, site_dir: Path
) -> None:
    pairs = all_pairs(site_dir)
    a = "padim--per_class--none--clean--zipper"
    b = "patchcore--per_class--none--clean--zipper"
    key = f"{a}|{b}" if f"{a}|{b}" in pairs else f"{b}|{a}"
    sign = 1 if key.startswith(a) else -1
    delta = pairs[key]["d"][0][0]
    page = site_dir / "compare.html"
    log = tab.open(page.as_uri())
    assert tab.wait_for(SHOWN) is not None
    tab.page.select_option("#compare-a", a)
    tab.page.select_option("#compare-b", b)
    assert tab.wait_for(f"() => location.hash === '#a={a}&b={b}'") is not None
    hrefs = tab.evaluate(
        "() => Array.from(document.querySelectorAll('.cmp-who a'), (x) => x.getAttribute('href'))"
    )
    assert hrefs == [f"cells/{a}.html", f"cells/{b}.html"]
    assert shown_delta(tab, "image AUROC") == sign * delta
    assert tab.page.locator("#compare-paired").text_content().startswith("B − A paired over")
    assert tab.page.locator("svg.cmp-svg polyline.cmp-b").count() >= 1
    assert tab.page.locator("#compare-moved tbody tr").count() == len(pairs[key]["moved"])
    tab.open("about:blank")
    tab.open(f"{page.as_uri()}#a={b}&b={a}")
    assert tab.wait_for(SHOWN) is not None
    chosen = tab.evaluate(
        "() => ['compare-a', 'compare-b'].map((id) => document.getElementById(id).value)"
    )
    assert chosen == [b, a]
    assert shown_delta(tab, "image AUROC") == -sign * delta
    link = tab.page.locator("a.compare-link").nth(3)  # a row of the list: the page shows it
    first, second = link.get_attribute("href").split("#a=", 1)[1].split("&b=")
    link.click()
    assert tab.wait_for(f"() => document.getElementById('compare-b').value === '{second}'")
    assert tab.evaluate("() => document.getElementById('compare-a').value") == first
    shown = pairs[f"{first}|{second}"]["d"][0]
    if not isinstance(shown, str):
        assert shown_delta(tab, "image AUROC") == shown[0]
    assert not log.errors and not tab.log.errors, (log.errors, tab.log.errors)


def test_without_javascript_the_page_lists_the_computed_pairs(
    chromium: Browser, site_dir: Path
) -> None:
    context = chromium.new_context(java_script_enabled=False)
    try:
        opened = context.new_page()
        opened.goto((site_dir / "compare.html").as_uri(), wait_until="load")
        assert not opened.locator("#compare").is_visible()
        rows = opened.locator("table.data tbody tr")
        assert rows.count() == len(all_pairs(site_dir))
        assert rows.first.is_visible()
    finally:
        context.close()
