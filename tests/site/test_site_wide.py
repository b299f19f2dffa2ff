"""Every table of every page at 1280 px width in headless Chromium fits its box: no column (the
F1 columns last) hidden behind a horizontal scroll. Skipped, with the reason, only where
Chromium is not installed (`make browser` installs it; see `headless`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from headless import Tab
from playwright.sync_api import Browser

WIDTH = 1280
WIDER = """() => Array.from(document.querySelectorAll(".table-wrap")).map((wrap) => {
  const ths = Array.from(wrap.querySelectorAll("thead th"));
  const head = ths.map((th) => th.textContent.trim());
  const own = wrap.querySelector("table.explorer") ? ths[OWN - 1] : null;
  const shown = own ? own.getBoundingClientRect().right - wrap.getBoundingClientRect().left : null;
  return {scroll: wrap.scrollWidth, box: wrap.clientWidth, head: head.join("|").slice(0, 120),
          own: shown};
})""".replace("OWN", "8")
"""The image explorer's table has one column per cell after its own eight (thumbnails to shift
parameters): it scrolls inside its box by design, its own columns in view."""


@pytest.fixture(scope="module")
def wide(chromium: Browser) -> Iterator[Tab]:
    opened = Tab(chromium, width=WIDTH)
    yield opened
    opened.close()


def test_no_table_is_wider_than_its_box_at_1280_px(wide: Tab, site_dir: Path) -> None:
    pages = sorted(site_dir.rglob("*.html"))
    tables = 0
    for page in pages:
        name = page.relative_to(site_dir).as_posix()
        wide.open(page.as_uri())
        found = wide.evaluate(WIDER)
        tables += len(found)
        for table in found:
            if table["own"] is not None:  # the explorer: its own columns fit
                assert table["own"] <= table["box"], f"{name}: {table}"
                continue
            assert table["scroll"] <= table["box"], (
                f"{name}: a table is wider than its box: {table}"
            )
    assert tables > 100  # every cell page's tables, the shift, unified and sweep pages'
