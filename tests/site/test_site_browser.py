"""End to end: every page of a built site in real headless Chromium, from file://, offline.

Chromium is Debian's `chromium` (installed by `make browser`, which `make test` runs), driven by
Playwright (`headless`); the test is skipped, with the reason, where it is not installed.
Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from headless import Tab
from playwright.sync_api import Browser

pytestmark = pytest.mark.long  # among the slowest files: started first (tests/conftest.py)

CHART_STATE = """() => {
  const charts = Array.from(document.querySelectorAll("div.chart[data-spec]"));
  const done = charts.every((c) => c.hasAttribute("data-rendered"));
  return done ? {charts: charts.map((c) => [c.id, c.getAttribute("data-rendered"),
                                            c.querySelectorAll("svg, canvas").length])} : null;
}"""
OFFLINE = ("file:", "data:", "about:", "blob:")


@pytest.fixture(scope="module")
def tab(chromium: Browser) -> Iterator[Tab]:
    opened = Tab(chromium)
    yield opened
    opened.close()


def test_every_page_renders_offline_without_errors(
    tab: Tab, edge_site: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("screenshots")
    pages = sorted(edge_site.rglob("*.html"))
    assert len(pages) > 40
    charts_seen = 0
    for page in pages:
        name = page.relative_to(edge_site).as_posix()
        log = tab.open(page.as_uri())
        state = tab.wait_for(CHART_STATE, timeout_s=60)
        assert state is not None, f"{name}: charts still drawing after 60 s"
        for chart_id, rendered, drawn in state["charts"]:
            assert rendered == "true" and drawn >= 1, f"{name}: chart {chart_id} not drawn"
        charts_seen += len(state["charts"])
        assert tab.evaluate("() => document.title").endswith("evalsuite"), name
        assert not log.errors, f"{name}: {log.errors}"
        remote = [url for url in log.requests if not url.startswith(OFFLINE)]
        assert not remote, f"{name} requested {remote}"
        tab.screenshot(shots / (name.replace("/", "__") + ".png"))
    assert charts_seen >= 40
    assert (shots / "index.html.png").stat().st_size > 10_000
