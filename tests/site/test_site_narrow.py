"""Every page of the site at 400 px width in headless Chromium: no horizontal page scroll (wide
tables and charts scroll inside their own container). Skipped, with the reason, only where
Chromium is not installed (`make browser` installs it; see `headless`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from headless import Tab
from playwright.sync_api import Browser

WIDTH = 400
DRAWN = """() => {
  const charts = Array.from(document.querySelectorAll("div.chart[data-spec]"));
  return charts.every((c) => c.hasAttribute("data-rendered")) ? {charts: charts.length} : null;
}"""
OVERFLOW = """() => {
  const page = document.documentElement;
  const wide = Array.from(document.body.querySelectorAll("*"))
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .filter((e) => !e.closest(".table-wrap, .chart, pre"))
    .slice(0, 3).map((e) => e.tagName + "." + e.className);
  return {scroll: page.scrollWidth, inner: window.innerWidth, wide: wide};
}"""


@pytest.fixture(scope="module")
def narrow(chromium: Browser) -> Iterator[Tab]:
    opened = Tab(chromium, width=WIDTH)
    yield opened
    opened.close()


def test_no_page_scrolls_horizontally_at_400_px(narrow: Tab, edge_site: Path) -> None:
    pages = sorted(edge_site.rglob("*.html"))
    assert len(pages) > 40
    for page in pages:
        name = page.relative_to(edge_site).as_posix()
        narrow.open(page.as_uri())
        assert narrow.wait_for(DRAWN, timeout_s=60) is not None, f"{name}: charts still drawing"
        state = narrow.evaluate(OVERFLOW)
        assert state["inner"] == WIDTH, name
        assert state["scroll"] <= state["inner"], f"{name} is {state['scroll']} px wide: {state}"


def test_the_real_shift_page_fits_400_px(narrow: Tab, real_site: Path) -> None:
    """The page "Synthetic vs real shift" (a study with real conditions: not in `edge_site`),
    its charts drawn, offline."""
    log = narrow.open((real_site / "real_shift.html").as_uri())
    state = narrow.wait_for(DRAWN, timeout_s=60)
    assert state is not None and state["charts"] == 4, state
    overflow = narrow.evaluate(OVERFLOW)
    assert overflow["inner"] == WIDTH
    assert overflow["scroll"] <= overflow["inner"], overflow
    assert log.errors == [] and all(url.startswith("file://") for url in log.requests)


SHOWN = "() => document.querySelector('#compare-moved') !== null"


def test_the_compare_page_fits_400_px_with_a_pair_shown(narrow: Tab, edge_site: Path) -> None:
    page = (edge_site / "compare.html").as_uri()
    for fragment in ("", "#a=patchcore--per_class--none--clean--hazelnut"
                     "&b=padim--per_class--none--clean--hazelnut"):  # fmt: skip
        narrow.open(page + fragment)
        assert narrow.wait_for(SHOWN, timeout_s=60) is not None, f"compare.html{fragment}"
        state = narrow.evaluate(OVERFLOW)
        assert state["scroll"] <= state["inner"] == WIDTH, f"compare.html{fragment}: {state}"


def test_the_image_explorer_and_its_enlarged_thumbnails_fit_400_px(
    narrow: Tab, edge_site: Path
) -> None:
    pages = sorted((edge_site / "explorer").glob("*.html"))
    assert len(pages) > 20  # the explorer's pages are among every page checked above
    page = edge_site / "explorer" / "patchcore--per_class--none--clean--zipper.html"
    narrow.open(page.as_uri() + "#z0")  # a thumbnail clicked: shown enlarged
    shown = narrow.evaluate(
        """() => { const z = document.getElementById("z0").getBoundingClientRect();
        return {display: getComputedStyle(document.getElementById("z0")).display,
                left: z.left, right: z.right}; }"""
    )
    assert shown["display"] == "block" and shown["left"] >= 0 and shown["right"] <= WIDTH
    state = narrow.evaluate(OVERFLOW)
    assert state["scroll"] <= state["inner"] == WIDTH, state
