"""Findings in words (`views.findings`): only differences significant after Holm are stated as
effects, with their size and interval in points of the change; the others are "no detectable
difference"; a family whose resamples cannot reach significance says so; every sentence of a
built site links to a row that exists on its page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from evalsuite.evaluation.paired import Difference
from evalsuite.evaluation.per_image_tests import PairedTest
from evalsuite.site.pages.render import environment
from evalsuite.site.read.records import GroupKey
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffRow, DiffTable, PairedValue
from evalsuite.site.views.findings import findings
from evalsuite.site.views.per_image import PairedRow
from evalsuite.site.views.per_image_findings import per_image_findings, row_anchor
from evalsuite.site.views.stats import Delta


def value(metric: str, delta: float, ci: tuple[float, float], p_holm: float) -> PairedValue:
    """A tested difference of `metric` with 2000 resamples (enough for a 5-metric table)."""
    diff = Difference(metric, 0.9, 0.9 + delta, delta, ci, p_holm / 4, 75, 2000, 0, np.zeros(1))
    return PairedValue(diff, Delta(delta, None, 1), p_holm, None)


def untested() -> PairedValue:
    return PairedValue(None, Delta(None, None, 0), None, "not measured")


def row(category: str, image_auroc: PairedValue, image_f1: PairedValue) -> DiffRow:
    a = GroupKey("patchcore", "per_class", "clean/none", category, None)
    b = GroupKey("patchcore", "per_class", "shift/none", category, None)
    values = {"image_auroc": image_auroc, "image_f1": image_f1}
    return DiffRow(a, b, tuple(values.get(m, untested()) for m in DIFF_METRICS), (), True)


def test_only_significant_differences_are_effects_largest_first() -> None:
    table = DiffTable(
        "shift",
        "shift/none − clean/none",
        (
            row("zipper", value("image_auroc", -0.481, (-0.562, -0.397), 0.004), untested()),
            row(
                "carpet",
                value("image_auroc", -0.136, (-0.2, -0.07), 0.012),
                value("image_f1", 0.02, (-0.01, 0.05), 0.31),
            ),
            row("hazelnut", value("image_auroc", -0.041, (-0.09, 0.0), 0.06), untested()),
        ),
    )
    (block,) = findings([table], "shift.html")
    assert [f.text for f in block.effects] == [
        "The shift costs patchcore 48.1 points of image AUROC on zipper (per_class) "
        "[39.7, 56.2] (Holm-adjusted p = 0.004).",
        "The shift costs patchcore 13.6 points of image AUROC on carpet (per_class) "
        "[7.0, 20.0] (Holm-adjusted p = 0.012).",
    ]
    assert dict(block.undetected) and {
        metric: [f.text for f in items] for metric, items in block.undetected
    } == {
        "image AUROC": ["patchcore on hazelnut (per_class)"],
        "F1": ["patchcore on carpet (per_class)"],
    }
    assert block.n_undetected == 2 and block.untestable == ""
    anchors = [f.href for f in block.effects]
    assert anchors == [f"shift.html#{table.anchor(table.rows[i])}" for i in (0, 1)]
    assert len({table.anchor(r) for r in table.rows}) == 3


def test_a_gain_is_stated_as_a_gain() -> None:
    table = DiffTable(
        "retrain",
        "shift/retrain − shift/none",
        (row("zipper", value("image_auroc", 0.25, (0.1, 0.4), 0.01), untested()),),
    )
    (block,) = findings([table], "shift.html")
    assert block.effects[0].text == (
        "Retraining on shifted images gains patchcore 25.0 points of image AUROC on zipper "
        "(per_class) [10.0, 40.0] (Holm-adjusted p = 0.01)."
    )


def test_a_family_that_cannot_reach_significance_says_so() -> None:
    few = value("image_auroc", -0.3, (-0.4, -0.2), 1.0)
    assert few.diff is not None
    diff = Difference(*[getattr(few.diff, f) for f in ("metric", "a", "b", "delta", "ci95")],
                      few.diff.p_value, 75, 20, 0, np.zeros(1))  # fmt: skip
    table = DiffTable(
        "shift",
        "shift/none − clean/none",
        tuple(
            row(c, PairedValue(diff, Delta(-0.3, None, 1), 1.0, None), untested())
            for c in ("zipper", "carpet", "hazelnut")
        ),
    )
    (block,) = findings([table], "shift.html")
    assert block.effects == ()
    assert block.untestable.startswith("With 20 bootstrap resamples no p-value is below 0.095")
    assert "raise evaluation.bootstrap to at least 120" in block.untestable
    assert block.n_undetected == 3


class Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.finding_links: list[str] = []
        self._in_findings = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "section" and found.get("class") == "findings":
            self._in_findings += 1
        if tag == "a" and self._in_findings and found.get("href"):
            self.finding_links.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._in_findings:
            self._in_findings -= 1


def test_every_finding_of_the_site_links_to_its_row(site_dir: Path) -> None:
    seen = 0
    pages = ("index.html", "shift.html", "unified.html", "hyperparameters.html", "statistics.html")
    for name in pages:
        page = Ids()
        page.feed((site_dir / name).read_text(encoding="utf-8"))
        for href in page.finding_links:
            target, _, anchor = href.partition("#")
            if not anchor:
                continue
            other = Ids()
            other.feed((site_dir / target).read_text(encoding="utf-8"))
            assert anchor in other.ids, (name, href)
            seen += 1
    assert seen > 10
    text = re.sub(r"<[^>]+>", "", (site_dir / "shift.html").read_text(encoding="utf-8"))
    assert "What the differences say" in text and "No detectable difference in" in text
    statistics = Ids()
    statistics.feed((site_dir / "statistics.html").read_text(encoding="utf-8"))
    assert any(href.startswith("statistics.html#t-") for href in statistics.finding_links)


def paired_row(category: str, mean_a: float, mean_b: float, p_holm: float) -> PairedRow:
    test = PairedTest(40, mean_a, mean_b, p_holm / 6, p_holm / 6)
    return PairedRow(
        "per_class", "clean/none", category, "padim", "patchcore", "aupimo", test, p_holm, p_holm
    )


def test_per_image_tests_are_effects_only_when_holm_wilcoxon_is_significant() -> None:
    rows = [
        paired_row("zipper", 0.40, 0.75, 0.003),
        paired_row("carpet", 0.80, 0.70, 0.02),
        paired_row("hazelnut", 0.60, 0.62, 0.4),
    ]
    (block,) = per_image_findings(rows)
    assert [f.text for f in block.effects] == [
        "patchcore scores higher than padim in per-image AUPIMO on zipper (per_class, "
        "clean/none): 75.0 vs 40.0, 35.0 points over 40 images (Holm-adjusted Wilcoxon "
        "p = 0.003).",
        "patchcore scores lower than padim in per-image AUPIMO on carpet (per_class, "
        "clean/none): 70.0 vs 80.0, 10.0 points over 40 images (Holm-adjusted Wilcoxon "
        "p = 0.02).",
    ]
    assert [(m, [f.text for f in items]) for m, items in block.undetected] == [
        ("AUPIMO", ["patchcore vs padim on hazelnut (per_class, clean/none)"])
    ]
    assert all(
        f.href == f"statistics.html#{row_anchor(r)}"
        for f, r in zip(block.effects, rows[:2], strict=True)
    )
    assert len({row_anchor(r) for r in rows}) == 3
    assert per_image_findings([]) == []


def test_the_overview_states_each_tables_three_largest_effects_and_counts_the_rest() -> None:
    sizes = (-0.48, -0.30, -0.20, -0.136, -0.09)
    table = DiffTable(
        "shift",
        "shift/none − clean/none",
        tuple(
            row(f"c{i}", value("image_auroc", size, (size - 0.05, size + 0.05), 0.01), untested())
            for i, size in enumerate(sizes)
        ),
    )
    blocks = findings([table], "shift.html")
    html = str(environment().get_template("paired.html.j2").module.summary(blocks))  # type: ignore[attr-defined]
    shown = re.findall(r'<li><a href="([^"]+)">', html)
    assert shown == [f.href for f in blocks[0].effects[:3]]
    assert "48.0 points" in html and "20.0 points" in html and "13.6 points" not in html
    assert "2 more effect(s), 0 comparison(s) without a detectable difference" in html
