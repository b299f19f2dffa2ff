"""The page "What the shift does": a factor study's site with an `AttributionView` made by hand
from its real cells (`attribution_fixture`): the page is written and linked, every number is
shown with its interval and a link to its cell, the downloads hold every row and round-trip,
the LaTeX compiles, the figures are exported, builds are deterministic, and an empty view
changes no byte of the site."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from attribution_fixture import factor_study, hand_view
from lxml import html as lxml_html

from evalsuite.config import StudyConfig
from evalsuite.runner import run_study
from evalsuite.site import build_site
from evalsuite.site.build import assemble
from evalsuite.site.downloads.data_csv import record_path
from evalsuite.site.pages import attribution as attribution_pages
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import Results
from evalsuite.site.views.attribution_rows import AttributionView, Rate
from evalsuite.site.views.difference_rows import points
from evalsuite.site.views.tables import grid_of

PAGE = "attribution.html"


def EMPTY(results: Any, grid: Any, resamples: Any = None) -> AttributionView:
    """The view of a study without shift variants."""
    return AttributionView((), (), (), (), ())


"""The build's view before any test patches it: empty until the lead wires the real one."""
CSVS = (
    "attribution_drops.csv",
    "attribution_means.csv",
    "attribution_shares.csv",
    "attribution_dependence.csv",
    "attribution_bins.csv",
    "attribution_rates.csv",
)


@pytest.fixture(scope="module")
def factor_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results of a study with `shift.factors` (the mixed shift and two factors)."""
    base = tmp_path_factory.mktemp("factors")
    config = StudyConfig.model_validate(factor_study())
    run_study(config, base / "out", cache_dir=base / "cache", progress=False)
    return base / "out"


def _by_hand(results: Results, grid: Any, resamples: Any = None) -> AttributionView:
    return hand_view(results)


@pytest.fixture(scope="module")
def patched() -> Any:
    """`assemble._attribution` returning the view made by hand (the lead wires the real one)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(assemble, "_attribution", _by_hand)
        yield mp


@pytest.fixture(scope="module")
def attribution_site(factor_results: Path, patched: Any, tmp_path_factory: Any) -> Path:
    out = tmp_path_factory.mktemp("attribution-site") / "site"
    build_site(factor_results, out)
    return out


@pytest.fixture(scope="module")
def view(factor_results: Path) -> AttributionView:
    return hand_view(load_results(factor_results))


def _page(site: Path) -> Any:
    return lxml_html.fromstring((site / PAGE).read_text(encoding="utf-8"))


def _text(element: Any) -> str:
    return " ".join(element.text_content().split())


def test_the_page_is_written_and_in_every_pages_navigation(attribution_site: Path) -> None:
    page = _page(attribution_site)
    assert page.findtext(".//h1") == "What the shift does"
    pages = sorted(attribution_site.rglob("*.html"))
    for path in pages:
        root = "../" * (len(path.relative_to(attribution_site).parts) - 1)
        nav = [
            a.get("href")
            for a in lxml_html.parse(str(path)).findall(".//nav[@aria-label='pages']/a")
        ]
        assert f"{root}{PAGE}" in nav, path
        at = nav.index(f"{root}{PAGE}")
        assert nav[at - 1] == f"{root}shift.html", path  # beside the other topic pages
    for section in ("drops", "means", "shares", "dependence", "rates"):
        assert page.get_element_by_id(section) is not None


def _cell_of(page: Any, href: str, text: str) -> Any:
    """The table cell holding a link to `href` whose text is `text`."""
    found = [a for a in page.iter("a") if a.get("href") == href and _text(a) == text]
    assert found, (href, text)
    return found[0].getparent()


def test_every_drop_shows_its_interval_and_links_its_variant_cell(
    attribution_site: Path, view: AttributionView
) -> None:
    page = _page(attribution_site)
    shown = 0
    for d in view.drops:
        v = d.value
        if v.diff is None or d.category == "mean":
            continue
        td = _cell_of(page, d.cells[0][1].page, v.delta_text)
        assert v.ci_text in _text(td) and f"pHolm {v.p_holm_text}" in _text(td)
        row = [_text(cell) for cell in td.getparent()]
        assert row[:4] == [d.category, d.variant, str(d.severity), d.regime]
        links = [a.get("href") for a in td.getparent().iter("a")]
        assert d.cells[0][0].page in links  # the clean side too
        shown += 1
    assert shown == 7
    mean = next(d for d in view.drops if d.category == "mean")
    assert mean.value.ci_text in _text(page) and mean.value.delta_text == "\u221210.0"
    zero = [td for td in page.iter("td") if _text(td) == "= 0"]
    assert len(zero) == 3  # the threshold regime's image AUROC, per variant
    for m in view.means:
        assert m.ci95 is None or f"[{points(m.ci95[0])}, {points(m.ci95[1])}]" in _text(page)
    assert "\u22128.8 [\u221220.0, +3.0]" in _text(page)  # the mean drop at severity 2
    assert f"#{'drops-patchcore-per_class-mvtec_shift'}" in [a.get("href") for a in page.iter("a")]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}".replace("-", "\u2212")


def test_every_share_slope_and_rate_shows_its_interval_and_cells(
    attribution_site: Path, view: AttributionView
) -> None:
    page = _page(attribution_site)
    text = _text(page)
    for s in view.shares:
        if s.share is None:
            assert f"n/a: {s.reason}" in text
        elif s.kind == "rest":
            sentence = f"Not explained by any factor alone: {_pct(s.share)}%"
            assert sentence in text
            assert s.ci95 is not None
            assert f"[{_pct(s.ci95[0])}, {_pct(s.ci95[1])}] of the drop" in text
        else:
            td = _cell_of(page, s.cells[-1].page, _pct(s.share))
            assert s.ci95 is not None
            assert f"[{_pct(s.ci95[0])}, {_pct(s.ci95[1])}]" in _text(td)
    for d in view.dependence:
        if d.slope is None:
            assert f"n/a: {d.reason}" in text
            continue
        td = _cell_of(page, d.cells[0][1].page, f"{d.slope:.3g}".replace("-", "\u2212"))
        assert d.ci95 is not None
        low, high = (f"{x:.3g}".replace("-", "\u2212") for x in d.ci95)
        assert f"[{low}, {high}]" in _text(td)
    rates = page.get_element_by_id("rates")
    for r in view.rates:
        rows = [
            tr
            for tr in rates.iter("tr")
            if r.cells[0][1].page in [a.get("href") for a in tr.iter("a")]
        ]
        assert len(rows) == 1
        row = _text(rows[0])
        for rate in (r.false_alarm, r.clean_false_alarm, r.miss, r.clean_miss):
            assert _rate_text(rate) in row, (row, rate)


def _rate_text(rate: Rate) -> str:
    assert rate.value is not None and rate.ci95 is not None
    low, high = rate.ci95
    return f"{_pct(rate.value)} [{_pct(low)}, {_pct(high)}] ({rate.k}/{rate.n})"


def _csv(site: Path, name: str) -> list[dict[str, str]]:
    with (site / "downloads" / name).open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_the_csvs_hold_every_row_and_round_trip(
    attribution_site: Path, view: AttributionView
) -> None:
    drops = _csv(attribution_site, "attribution_drops.csv")
    assert len(drops) == len(view.drops)
    for d, row in zip(view.drops, drops, strict=True):
        assert (row["variant"], int(row["severity"]), row["metric"]) == (
            d.variant,
            d.severity,
            d.metric,
        )
        assert row["paths_variant"] == " ".join(record_path(b.relpath) for _, b in d.cells)
        assert row["paths_clean"] == " ".join(record_path(a.relpath) for a, _ in d.cells)
        for path in (*row["paths_clean"].split(), *row["paths_variant"].split()):
            assert (attribution_site / path).is_file(), path
        diff = d.value.diff
        if diff is None:
            assert row["delta"] == "" and row["reason"] == (d.value.reason or "")
            assert row["zero"] == str(int(d.value.zero))
            continue
        assert float(row["delta"]) == diff.delta and float(row["p_holm"]) == d.value.p_holm
        assert (float(row["ci95_low"]), float(row["ci95_high"])) == diff.ci95
    shares = _csv(attribution_site, "attribution_shares.csv")
    assert len(shares) == len(view.shares)
    for s, row in zip(view.shares, shares, strict=True):
        assert row["kind"] == s.kind and row["reason"] == (s.reason or "")
        assert (None if row["share"] == "" else float(row["share"])) == s.share
        assert row["paths"] == " ".join(record_path(c.relpath) for c in s.cells)
    rates = _csv(attribution_site, "attribution_rates.csv")
    assert len(rates) == len(view.rates)
    for r, row in zip(view.rates, rates, strict=True):
        assert float(row["threshold"]) == r.threshold
        assert int(row["false_alarm_k"]) == r.false_alarm.k
        assert float(row["miss_rate"]) == r.miss.value
        assert float(row["clean_false_alarm_ci95_high"]) == r.clean_false_alarm.ci95[1]  # type: ignore[index]
    slopes = _csv(attribution_site, "attribution_dependence.csv")
    assert [None if x["slope"] == "" else float(x["slope"]) for x in slopes] == [
        d.slope for d in view.dependence
    ]
    bins = _csv(attribution_site, "attribution_bins.csv")
    expected = [(d.param, b.mean_change) for d in view.dependence for b in d.bins]
    assert [(x["param"], float(x["mean_change"])) for x in bins] == expected
    means = _csv(attribution_site, "attribution_means.csv")
    assert [(x["severity"], float(x["delta"])) for x in means] == [
        ("" if m.severity is None else str(m.severity), m.delta) for m in view.means
    ]
    listed = (attribution_site / "downloads.html").read_text(encoding="utf-8")
    for name in (*CSVS, "attribution.tex"):
        assert f'href="downloads/{name}"' in listed, name


def test_the_latex_is_ascii_and_compiles_in_a_two_column_paper(
    attribution_site: Path, tmp_path: Path
) -> None:
    from test_latex import DOCUMENT, _tables, estimated_height

    text = (attribution_site / "downloads" / "attribution.tex").read_bytes().decode("ascii")
    tables = _tables(text)
    assert len(tables) >= 6  # drops (image AUROC, F1), means, shares, slopes, rates
    for caption, rows in tables:
        assert rows and estimated_height(caption, rows) <= 550.0, caption[:60]
    assert r"\shortstack{$-$25.0\\ {\scriptsize [$-$40.0, $-$10.0]}}" in text
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed; attribution.tex was not compiled")
    (tmp_path / "table.tex").write_text(text, encoding="ascii")
    (tmp_path / "main.tex").write_text(DOCUMENT % "table", encoding="ascii")
    done = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
        check=False,
    )
    log = (tmp_path / "main.log").read_text(errors="replace")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Overfull \\hbox" not in log and "Float too large" not in log, log[-3000:]


def test_the_figures_are_exported_without_the_pages_links(attribution_site: Path) -> None:
    figures = attribution_site / "downloads" / "figures"
    for name in ("drops", "shares", "dependence"):
        stem = f"attribution-{name}-patchcore-per_class"
        for path in (
            *(figures / f"{stem}.{fmt}" for fmt in ("svg", "pdf", "png")),
            *(
                figures / size / f"{stem}.{fmt}"
                for size in ("column", "text")
                for fmt in ("svg", "pdf")
            ),
        ):
            assert path.is_file() and path.stat().st_size > 0, path
        svg = (figures / f"{stem}.svg").read_text(encoding="utf-8")
        assert "cells/" not in svg  # a figure file leads nowhere from outside the site
    page = (attribution_site / PAGE).read_text(encoding="utf-8")
    assert '"href":{"field":"href"' in page.replace(" ", "")  # the page's heatmap links cells
    listed = (attribution_site / "downloads.html").read_text(encoding="utf-8")
    assert "downloads/figures/attribution-drops-patchcore-per_class.svg" in listed


def test_two_builds_are_byte_identical(
    attribution_site: Path, factor_results: Path, patched: Any, tmp_path: Path
) -> None:
    build_site(factor_results, tmp_path / "again")
    first = {
        p.relative_to(attribution_site): p.read_bytes()
        for p in attribution_site.rglob("*")
        if p.is_file()
    }
    second = {
        p.relative_to(tmp_path / "again"): p.read_bytes()
        for p in (tmp_path / "again").rglob("*")
        if p.is_file()
    }
    assert first.keys() == second.keys()
    assert [p for p in first if first[p] != second[p]] == []


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("an empty view reached the page's code")


def test_an_empty_view_leaves_the_site_as_it_was(
    factor_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty view (a study without variants): no page, link, download or figure, and the
    page's code is never reached (so every byte is what it was)."""
    results = load_results(factor_results)
    monkeypatch.setattr(assemble, "_attribution", EMPTY)
    assert EMPTY(results, grid_of(results)).empty
    for name in (
        "attribution_page",
        "with_attribution",
        "attribution_files",
        "attribution_downloads",
    ):
        monkeypatch.setattr(assemble, name, _refuse)
    files = assemble.site_files(results)
    assert not [p for p in files if "attribution" in p]
    for path, content in files.items():
        if path.endswith(".html"):
            assert b"attribution" not in content and b"What the shift does" not in content, path
    nav = attribution_pages.with_attribution(assemble.NAV)
    assert [href for href, _ in nav] == [href for href, _ in assemble.NAV[:2]] + [
        PAGE,
        *(href for href, _ in assemble.NAV[2:]),
    ]


def test_the_anonymous_site_holds_the_page(
    factor_results: Path, patched: Any, tmp_path: Path
) -> None:
    """The view is computed from the anonymised records, and the leak check reads the page."""
    out = tmp_path / "anonymous"
    build_site(factor_results, out, anonymous=True)
    page = (out / PAGE).read_text(encoding="utf-8")
    assert str(factor_results.resolve()) not in page and "What the shift does" in page


def test_the_page_fits_400_px_without_console_errors(attribution_site: Path, chromium: Any) -> None:
    from headless import Tab
    from test_site_narrow import DRAWN, OVERFLOW

    tab = Tab(chromium, width=400)
    try:
        log = tab.open((attribution_site / PAGE).as_uri())
        state = tab.wait_for(DRAWN, timeout_s=60)
        assert state is not None and state["charts"] == 3
        assert (
            tab.evaluate(
                "() => Array.from(document.querySelectorAll('div.chart'))"
                ".map(c => c.getAttribute('data-rendered'))"
            )
            == ["true"] * 3
        )
        overflow = tab.evaluate(OVERFLOW)
        assert overflow["scroll"] <= overflow["inner"] == 400, overflow
        assert log.errors == []
        assert all(url.startswith("file://") for url in log.requests)  # offline
    finally:
        tab.close()
