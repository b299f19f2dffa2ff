"""End to end: every page of a built site in real headless Chromium, from file://, offline.

Chromium (Debian's `chromium`) is installed with apt-get when missing; the test is skipped, with
the reason, only where that is impossible. It is driven over the DevTools protocol on a pipe
(`chromium_cdp`), so no driver package is needed. Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium_cdp import Browser, install_chromium

CHART_STATE = """(() => {
  const charts = Array.from(document.querySelectorAll("div.chart[data-spec]"));
  const done = charts.every((c) => c.hasAttribute("data-rendered"));
  return done ? {charts: charts.map((c) => [c.id, c.getAttribute("data-rendered"),
                                            c.querySelectorAll("svg, canvas").length])} : null;
})()"""
OFFLINE = ("file:", "data:", "about:", "blob:")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = install_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed and cannot be (needs root and apt-get)")
    chromium = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def test_every_page_renders_offline_without_errors(
    browser: Browser, edge_site: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("screenshots")
    pages = sorted(edge_site.rglob("*.html"))
    assert len(pages) > 40
    charts_seen = 0
    for page in pages:
        name = page.relative_to(edge_site).as_posix()
        log = browser.open(page.as_uri())
        state = browser.wait_for(CHART_STATE, timeout=60)
        assert state is not None, f"{name}: charts still drawing after 60 s"
        for chart_id, rendered, drawn in state["charts"]:
            assert rendered == "true" and drawn >= 1, f"{name}: chart {chart_id} not drawn"
        charts_seen += len(state["charts"])
        assert browser.evaluate("document.title").endswith("evalsuite"), name
        assert not log.errors, f"{name}: {log.errors}"
        remote = [url for url in log.requests if not url.startswith(OFFLINE)]
        assert not remote, f"{name} requested {remote}"
        browser.screenshot(shots / (name.replace("/", "__") + ".png"))
    assert charts_seen >= 40
    assert (shots / "index.html.png").stat().st_size > 10_000
