"""The site's tables in real headless Chromium, from file://: sorting by a column orders the
rows by its values, a facet filter and the search box show exactly the rows that match, the
state in the URL's fragment restores the same view, and with JavaScript off the table is whole
and in its order. The oracle is the page's own HTML, read with lxml."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from headless import Tab
from lxml import html
from playwright.sync_api import Browser

NUMBER = re.compile(r"^[^0-9+\-\u2212.]*([+\-\u2212]?\d+(?:\.\d+)?)")
DATA_TABLES = "//table[contains(concat(' ', normalize-space(@class), ' '), ' data ')]"
VISIBLE = """(index) => {
  const table = document.querySelectorAll("table.data")[index];
  return Array.from(table.tBodies[0].rows).filter((row) => !row.hidden).map((row) =>
    Array.from(row.cells).map((cell) =>
      (cell.getAttribute("data-value") ?? cell.textContent).replace(/\\s+/g, " ").trim()));
}"""


@pytest.fixture(scope="module")
def tab(chromium: Browser) -> Iterator[Tab]:
    opened = Tab(chromium)
    yield opened
    opened.close()


def static_rows(page: Path, index: int) -> list[list[str]]:
    """The rows of the page's `index`-th data table as its HTML has them (what tables.js reads:
    a cell's data-value, else its whitespace-collapsed text)."""
    table = html.parse(str(page)).getroot().xpath(DATA_TABLES)[index]
    return [
        [
            cell.get("data-value")
            if cell.get("data-value") is not None
            else " ".join(cell.text_content().split())
            for cell in row.xpath("./th|./td")
        ]
        for row in table.xpath("./tbody/tr")
    ]


def number(text: str) -> float | None:
    found = NUMBER.match(text)
    return float(found.group(1).replace("\u2212", "-")) if found else None


def headers(page: Path, index: int) -> list[list[str]]:
    """The header rows of the page's `index`-th data table, each a list of its cells' texts."""
    table = html.parse(str(page)).getroot().xpath(DATA_TABLES)[index]
    return [
        [" ".join(th.text_content().split()) for th in row.xpath("./th")]
        for row in table.xpath("./thead/tr")
    ]


def sort_by(tab: Tab, index: int, header: str) -> None:
    tab.page.locator("table.data").nth(index).locator(
        "thead button.sort", has_text=header
    ).first.click()


def test_sorting_orders_the_rows_by_the_columns_values(tab: Tab, site_dir: Path) -> None:
    page = site_dir / "shift.html"
    log = tab.open(page.as_uri())
    rows = static_rows(page, 0)
    assert len(rows) > 4
    top, leaves = headers(page, 0)
    assert top[:3] == ["detector", "scope", "category"] and leaves[2] == "Δ pp"
    category, delta = 2, 5  # the first "Δ pp": image AUROC's drop
    sort_by(tab, 0, "category")
    shown = tab.evaluate(f"() => ({VISIBLE})(0)")
    assert [r[category] for r in shown] == sorted(r[category] for r in rows)
    assert sorted(map(tuple, shown)) == sorted(map(tuple, rows))  # the same rows, reordered
    sort_by(tab, 0, "category")
    descending = tab.evaluate(f"() => ({VISIBLE})(0)")
    assert [r[category] for r in descending] == sorted((r[category] for r in rows), reverse=True)
    sort_by(tab, 0, "Δ pp")
    values = [number(r[delta]) for r in tab.evaluate(f"() => ({VISIBLE})(0)")]
    known = [v for v in values if v is not None]
    assert len(known) >= 4 and known == sorted(known)
    assert values[: len(known)] == known  # cells without a number come last
    assert any(v < 0 for v in known), "the drops include negative (Unicode minus) values"
    assert not log.errors, log.errors


def test_filters_and_search_show_exactly_the_matching_rows(tab: Tab, site_dir: Path) -> None:
    page = site_dir / "shift.html"
    tab.open(page.as_uri())
    rows = static_rows(page, 0)
    detectors = list(dict.fromkeys(r[0] for r in rows))
    assert len(detectors) >= 2
    tools = tab.page.locator("div.table-tools").first
    tools.locator("select[aria-label='filter by detector']").select_option(detectors[1])
    shown = tab.evaluate(f"() => ({VISIBLE})(0)")
    assert shown == [r for r in rows if r[0] == detectors[1]]
    assert tools.locator(".table-count").text_content() == f"{len(shown)} of {len(rows)} rows"
    tools.locator("input[type=search]").fill("zipper")
    both = tab.evaluate(f"() => ({VISIBLE})(0)")
    expected = [r for r in rows if r[0] == detectors[1] and "zipper" in " ".join(r).lower()]
    assert both == expected and 0 < len(both) < len(shown)


def test_the_url_fragment_restores_the_view(tab: Tab, site_dir: Path) -> None:
    page = site_dir / "shift.html"
    tab.open(page.as_uri())
    rows = static_rows(page, 0)
    tab.page.locator("div.table-tools").first.locator(
        "select[aria-label='filter by detector']"
    ).select_option(rows[0][0])
    sort_by(tab, 0, "category")
    sort_by(tab, 0, "category")
    state: Any = tab.evaluate("() => [location.hash, " + f"({VISIBLE})(0)]")
    fragment, view = state
    assert fragment == f"#t0.s=2d&t0.f0={rows[0][0]}"
    tab.open("about:blank")
    tab.open(page.as_uri() + fragment)
    assert tab.evaluate(f"() => ({VISIBLE})(0)") == view
    assert tab.evaluate("() => document.querySelector('table.data').classList.contains('sorted')")


def test_without_javascript_the_table_is_whole_and_in_order(
    chromium: Browser, site_dir: Path
) -> None:
    page = site_dir / "shift.html"
    context = chromium.new_context(java_script_enabled=False)
    try:
        opened = context.new_page()
        opened.goto(page.as_uri() + "#t0.s=2d&t0.f0=padim", wait_until="load")
        cells = opened.locator("table.data").first.locator("tbody > tr").all()
        assert len(cells) == len(static_rows(page, 0))
        assert all(row.is_visible() for row in cells)
        assert opened.locator("div.table-tools").count() == 0
    finally:
        context.close()


def test_the_real_shift_tables_sort_and_filter(tab: Tab, real_site: Path) -> None:
    """The tables of "Synthetic vs real shift" (a study with real conditions): a menu per
    category and condition, and sorting by Spearman's rho orders the rows by its value."""
    page = real_site / "real_shift.html"
    log = tab.open(page.as_uri())
    first = 4  # four drop tables (detector x scope), then the prediction tables
    rows = static_rows(page, first)
    assert headers(page, first)[0][:4] == [
        "category",
        "real condition",
        "synthetic condition",
        "Spearman ρ",
    ]
    tools = tab.page.locator("div.table-tools").nth(first)
    tools.locator("select[aria-label='filter by real condition']").select_option("underexposed")
    shown = tab.evaluate(f"() => ({VISIBLE})({first})")
    assert shown == [r for r in rows if r[1] == "underexposed"] and 0 < len(shown) < len(rows)
    tools.locator("select[aria-label='filter by real condition']").select_option("")
    sort_by(tab, first, "Spearman ρ")
    values = [number(r[3]) for r in tab.evaluate(f"() => ({VISIBLE})({first})")]
    assert None not in values and values == sorted(values) and values[0] != values[-1]  # type: ignore[type-var]
    drops = tab.page.locator("div.table-tools").first
    assert drops.locator("select[aria-label='filter by shift condition']").count() == 1
    assert not log.errors, log.errors
