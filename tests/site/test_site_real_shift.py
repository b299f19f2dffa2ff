"""The page "Synthetic vs real shift" on the tiny study's records with real conditions added by
their contract (`real_shift_fixture`): every drop and correlation recomputed here from the raw
records (scikit-learn's AUROC, SciPy's Spearman), unpaired ids left out and counted, ids that
do not pair stated as not comparable, the words' rules on numbers made by hand, the page and its
downloads, and no page (no byte changed) for a study without a real condition."""

from __future__ import annotations

import copy
import csv
import json
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest
from lxml import html as lxml_html
from real_shift_fixture import SUFFIX, UNPAIRED
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.bootstrap import percentile_interval, stratified_resamples
from evalsuite.evaluation.correlation import Correlation, spearman
from evalsuite.evaluation.paired import Difference
from evalsuite.site.downloads.data_csv import record_path
from evalsuite.site.pages.real_shift import real_shift_page, with_real_shift
from evalsuite.site.pages.study import NAV
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import Cell, GroupKey, Results, cell_from_record
from evalsuite.site.views.difference_rows import DIFF_METRICS, DiffRow, PairedValue
from evalsuite.site.views.real_shift import NOT_PAIRED, real_shift_view
from evalsuite.site.views.real_shift_cells import MIXED, Shift
from evalsuite.site.views.real_shift_findings import sentences
from evalsuite.site.views.real_shift_rows import DropRow, Prediction, RealShiftView, inside
from evalsuite.site.views.resamples import paired_resamples
from evalsuite.site.views.stats import Delta
from evalsuite.site.views.tables import grid_of

pytestmark = pytest.mark.long  # builds a site: started first (tests/conftest.py)

PAGE = "real_shift.html"
OVER, UNDER = Shift("real", "overexposed"), Shift("real", "underexposed")


@pytest.fixture(scope="module")
def real(real_results: Path) -> Results:
    return load_results(real_results)


@pytest.fixture(scope="module")
def view(real: Results) -> RealShiftView:
    """The view on 300 resamples (the numbers checked against slow references)."""
    return real_shift_view(real, 300)


@pytest.fixture(scope="module")
def site_view(real: Results) -> RealShiftView:
    """The view as the site computes it (the study's resamples)."""
    return real_shift_view(real, paired_resamples(real, grid_of(real)))


def _scores(cell: Cell) -> dict[str, tuple[bool, float]]:
    return {s["id"]: (bool(s["label"]), float(s["score"])) for s in cell.record["scores"]}


def _auroc(found: dict[str, tuple[bool, float]], ids: list[str]) -> float:
    return float(roc_auc_score([found[i][0] for i in ids], [found[i][1] for i in ids]))


def test_every_drop_is_the_paired_difference_of_the_records(view: RealShiftView) -> None:
    """Image AUROC on the ids both records hold (scikit-learn), its interval from the same
    stratified resamples; the drop of an all-paired shift is the records' metrics' difference."""
    assert view.drops and {d.shift for d in view.drops} == {OVER, UNDER, MIXED}
    for d in view.drops:
        ((clean, shifted),) = d.row.pairs
        a, b = _scores(clean), _scores(shifted)
        ids = [i for i in a if i in b]
        assert (d.common, d.unpaired) == (len(ids), len(b) - len(ids))
        assert d.unpaired == (UNPAIRED if d.shift == UNDER else 0)
        diff = d.value("image_auroc").diff
        assert diff is not None and diff.n_images == len(ids)
        assert diff.delta == pytest.approx(_auroc(b, ids) - _auroc(a, ids), abs=1e-12)
        labels = np.array([a[i][0] for i in ids])
        draws = stratified_resamples(labels, diff.n_resamples, clean.key.seed)
        deltas = [_auroc(b, [ids[k] for k in r]) - _auroc(a, [ids[k] for k in r]) for r in draws]
        assert diff.ci95 == pytest.approx(percentile_interval(np.array(deltas), 0.95), abs=1e-12)
        if d.unpaired == 0:  # every image paired: the records' own metrics
            for metric, tolerance in (("image_auroc", 1e-12), ("pixel_auroc", 1e-6)):
                value = d.value(metric).diff
                assert value is not None, metric
                expected = shifted.metrics[metric].value - clean.metrics[metric].value  # type: ignore[operator]
                assert value.delta == pytest.approx(expected, abs=tolerance), metric
        for v in d.values:  # pixel metrics too, where the evidence allows
            assert v.diff is not None and v.p_holm is not None, v.reason


def test_every_prediction_is_scipys_spearman_of_the_score_changes(view: RealShiftView) -> None:
    assert len(view.predictions) == 2 * 2 * 2 * 2  # detectors x scopes x categories x conditions
    for p in view.predictions:
        ((clean, synthetic, real),) = p.cells
        a, s, r = _scores(clean), _scores(synthetic), _scores(real)
        ids = [i for i in a if i in s and i in r]
        assert not any(i.endswith(SUFFIX) for i in ids)
        d_syn = np.array([s[i][1] - a[i][1] for i in ids])
        d_real = np.array([r[i][1] - a[i][1] for i in ids])
        c = p.value
        assert c is not None and c.n_images == len(ids) == len(p.points)
        assert c.rho == pytest.approx(spearmanr(d_syn, d_real).statistic, abs=1e-12)
        labels = np.array([a[i][0] for i in ids])
        draws = stratified_resamples(labels, c.n_resamples, clean.key.seed)
        rhos = np.array([spearmanr(d_syn[k], d_real[k]).statistic for k in draws])
        assert c.ci95 == pytest.approx(percentile_interval(rhos, 0.95), abs=1e-12)
        assert p.real_drop is not None and p.synthetic_drop is not None
        real_drop = p.real_drop.value("image_auroc").diff
        syn_drop = p.synthetic_drop.value("image_auroc").diff
        assert real_drop is not None and syn_drop is not None
        assert p.inside is not None
        assert p.inside.real_in_synthetic == (
            syn_drop.ci95[0] <= real_drop.delta <= syn_drop.ci95[1]
        )
        assert p.inside.synthetic_in_real == (
            real_drop.ci95[0] <= syn_drop.delta <= real_drop.ci95[1]
        )
    # the underexposed condition holds MVTec-Shift's own scores: its changes rank the same
    assert all(p.value and p.value.rho == 1.0 for p in view.predictions if p.real == UNDER)


def _renamed(cell: Cell) -> Cell:
    record = copy.deepcopy(cell.record)
    for score in record["scores"]:
        score["id"] += SUFFIX
    return cell_from_record(PurePosixPath(cell.relpath), record)


def test_ids_that_do_not_pair_are_not_comparable(real: Results) -> None:
    """A real cell none of whose ids is a regular image's: its drops and predictions are stated
    as not comparable, with the reason, and the words say so."""
    target = next(c for c in real.cells if c.key.group.sweep == ("shift.conditions", "overexposed"))
    cells = tuple(_renamed(c) if c is target else c for c in real.cells)
    view = real_shift_view(replace(real, cells=cells))
    g = target.key.group
    row = next(
        d
        for d in view.drops
        if (d.label, d.scope, d.category, d.shift) == (g.label, g.scope, g.category, OVER)
    )
    assert all(v.diff is None and v.reason == NOT_PAIRED for v in row.values)
    assert (row.common, row.unpaired) == (0, len(target.record["scores"]))
    prediction = next(
        p
        for p in view.predictions
        if (p.label, p.scope, p.category, p.real) == (g.label, g.scope, g.category, OVER)
    )
    assert prediction.value is None and prediction.reason == NOT_PAIRED and not prediction.points
    drops, predictions = sentences(view)
    assert [f.href for f in drops.not_comparable] == [f"{PAGE}#{row.anchor}"]
    assert [f.href for f in predictions.not_comparable] == [f"{PAGE}#{prediction.anchor}"]
    assert NOT_PAIRED in predictions.not_comparable[0].text
    others = [d for d in view.drops if d is not row]
    assert all(d.value("image_auroc").diff is not None for d in others)


def test_no_view_without_a_real_condition_or_without_mvtec_shift(
    results_dir: Path, real: Results
) -> None:
    assert real_shift_view(load_results(results_dir)).empty
    no_mixed = tuple(
        c
        for c in real.cells
        if not (c.key.group.kind == "shift/none" and c.key.group.sweep is None)
    )
    assert real_shift_view(replace(real, cells=no_mixed)).empty


def test_a_study_without_real_conditions_has_no_page_link_or_download(site_dir: Path) -> None:
    assert not [p for p in site_dir.rglob("*") if "real_shift" in p.name]
    for page in site_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert PAGE not in text and "Synthetic vs real" not in text, page


def _drop(delta: float, ci: tuple[float, float], p_holm: float, metric: str) -> PairedValue:
    diff = Difference(metric, 0.9, 0.9 + delta, delta, ci, p_holm / 4, 40, 5000, 0)
    return PairedValue(diff, Delta(delta, None, 1), p_holm, None)


def _hand_view() -> RealShiftView:
    """Numbers made by hand: one significant drop of image AUROC (real), one not significant
    (MVTec-Shift), one significant correlation and one not."""
    rows = []
    for shift, delta, ci, p in (
        (OVER, -0.123, (-0.2, -0.05), 0.001),
        (MIXED, -0.04, (-0.15, 0.07), 0.4),
    ):
        values = tuple(
            _drop(delta, ci, p, m)
            if m == "image_auroc"
            else PairedValue(None, Delta(None, None, 0), None, "no evidence")
            for m in DIFF_METRICS
        )
        b = GroupKey("patchcore", "per_class", "shift/none", "zipper", None)
        row = DiffRow(
            GroupKey("patchcore", "per_class", "clean/none", "zipper", None), b, values, (), True
        )
        rows.append(DropRow(shift, row, 40, 0, (), f"r-{shift.name}"))
    found = []
    for name, rho, ci, p in (
        ("significant", 0.617, (0.41, 0.78), 0.004),
        ("weak", 0.1, (-0.2, 0.4), 0.6),
    ):
        value = Correlation(rho, ci, p / 2, 40, 5000, 0)
        real = Shift("real", name)
        found.append(
            Prediction(
                "patchcore",
                "per_class",
                "zipper",
                real,
                MIXED,
                value,
                p,
                None,
                rows[0],
                rows[1],
                inside(rows[0].values[0], rows[1].values[0]),
                (),
                (),
                f"p-{name}",
            )
        )
    return RealShiftView(tuple(rows), tuple(found))


def test_the_words_state_only_what_is_significant() -> None:
    view = _hand_view()
    drops, predictions = sentences(view)
    assert [f.text for f in drops.effects] == [
        "The real overexposed condition costs patchcore 12.3 points of image AUROC on zipper "
        "(per_class) [5.0, 20.0] (Holm-adjusted p = 0.001)."
    ]
    assert drops.effects[0].href == f"{PAGE}#r-overexposed"
    assert drops.undetected == (
        ("No detectable difference in image AUROC", (drops.undetected[0][1][0],)),
    )
    assert drops.undetected[0][1][0].text == "patchcore on zipper (per_class), MVTec-Shift"
    assert [f.text for f in predictions.effects] == [
        "The per-image score changes under MVTec-Shift predict those under the real significant "
        "condition for patchcore on zipper (per_class): Spearman ρ = 0.62 [0.41, 0.78] over 40 "
        "paired images (Holm-adjusted p = 0.004)."
    ]
    assert [f.href for f in predictions.undetected[0][1]] == [f"{PAGE}#p-weak"]
    assert drops.untestable == predictions.untestable == ""  # 5000 resamples can reach 0.05
    assert view.predictions[0].inside is not None
    assert view.predictions[0].inside.real_in_synthetic is True  # -12.3 in [-15, +7]
    assert view.predictions[0].inside.synthetic_in_real is False  # -4.0 not in [-20, -5]


def test_spearman_refuses_too_few_or_constant_changes() -> None:
    labels = np.array([False, True, True, False])
    with pytest.raises(EvaluationError, match="at least 3"):
        spearman(np.ones(2), np.ones(2), labels[:2], n=10, seed=0)
    with pytest.raises(EvaluationError, match="constant"):
        spearman(np.ones(4), np.arange(4.0), labels, n=10, seed=0)


def _page(site: Path) -> Any:
    return lxml_html.fromstring((site / PAGE).read_text(encoding="utf-8"))


def _text(element: Any) -> str:
    return " ".join(element.text_content().split())


def _csv(site: Path, name: str) -> list[dict[str, str]]:
    with (site / "downloads" / name).open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_the_page_shows_every_number_links_its_cells_and_is_in_the_navigation(
    real_site: Path, site_view: RealShiftView
) -> None:
    page = _page(real_site)
    assert page.findtext(".//h1") == "Synthetic vs real shift"
    for path in sorted(real_site.rglob("*.html")):
        root = "../" * (len(path.relative_to(real_site).parts) - 1)
        nav = [
            a.get("href")
            for a in lxml_html.parse(str(path)).findall(".//nav[@aria-label='pages']/a")
        ]
        assert nav[nav.index(f"{root}{PAGE}") - 1] == f"{root}shift.html", path
    for d in site_view.drops:
        row = page.get_element_by_id(d.anchor)
        text = _text(row)
        for v in d.values:
            assert v.diff is not None and f"{v.delta_text}" in text and v.ci_text in text
        images = f"{d.common} +{d.unpaired}" if d.unpaired else str(d.common)
        assert images in text
        links = [a.get("href") for a in row.iter("a")]
        assert [c.page for pair in d.row.pairs for c in pair] == links
    for p in site_view.predictions:
        row = page.get_element_by_id(p.anchor)
        assert p.value is not None
        star = "*" if p.significant else ""  # a Holm-adjusted p < 0.05 is starred
        rho = f"{p.value.rho:.2f}{star} [{p.value.ci95[0]:.2f}, {p.value.ci95[1]:.2f}]".replace(
            "-", "\u2212"
        )
        assert rho in _text(row) and f" {p.value.n_images} " in f" {_text(row)} "
        assert [c.page for triple in p.cells for c in triple] == [
            a.get("href") for a in row.iter("a")
        ]
    said = page.get_element_by_id("said")
    hrefs = [a.get("href") for a in said.iter("a")]
    assert hrefs and all(page.get_element_by_id(h.split("#")[1]) is not None for h in hrefs)
    # the study's resamples reach significance where the family can: said only where not
    untestable = not site_view.table.reachable or not site_view.predictions_reachable
    assert ("none can be below 0.05" in _text(said)) == untestable
    assert "16 real images of objects the regular condition lacks" in _text(
        page.get_element_by_id("comparable")
    )
    assert len(page.find_class("chart")) == 4  # one scatter per detector and scope


def test_the_csvs_hold_every_row_with_its_id_and_cells(
    real_site: Path, site_view: RealShiftView
) -> None:
    drops = _csv(real_site, "real_shift_drops.csv")
    assert len(drops) == len(site_view.drops) * len(DIFF_METRICS)
    page = _page(real_site)
    for d, rows in zip(
        site_view.drops, [drops[i : i + 5] for i in range(0, len(drops), 5)], strict=True
    ):
        for metric, row in zip(DIFF_METRICS, rows, strict=True):
            v = d.value(metric)
            assert (row["id"], row["name"], row["metric"]) == (d.anchor, d.shift.name, metric)
            assert page.get_element_by_id(row["id"]) is not None
            assert v.diff is not None and float(row["delta"]) == v.diff.delta
            assert (float(row["ci95_low"]), float(row["ci95_high"])) == v.diff.ci95
            assert int(row["n_images"]) == d.common and int(row["n_unpaired"]) == d.unpaired
            found = d.inside[DIFF_METRICS.index(metric)] if d.inside else None
            assert (d.shift == MIXED) == (found is None)
            if found is not None:
                assert row["real_in_synthetic"] == str(int(found.real_in_synthetic))
                assert row["synthetic_in_real"] == str(int(found.synthetic_in_real))
            for path in (*row["paths_clean"].split(), *row["paths_shifted"].split()):
                assert (real_site / path).is_file(), path
    predictions = _csv(real_site, "real_shift_prediction.csv")
    assert [r["id"] for r in predictions] == [p.anchor for p in site_view.predictions]
    for p, row in zip(site_view.predictions, predictions, strict=True):
        assert p.value is not None and float(row["rho"]) == p.value.rho
        assert row["paths_real"] == " ".join(record_path(c.relpath) for *_, c in p.cells)
    listed = (real_site / "downloads.html").read_text(encoding="utf-8")
    for name in (
        "real_shift_drops.csv",
        "real_shift_prediction.csv",
        "figures/real_shift-changes-patchcore-per_class.svg",
    ):
        assert f'href="downloads/{name}"' in listed, name


def test_the_chart_is_the_same_bytes_and_holds_every_paired_image(view: RealShiftView) -> None:
    first = json.dumps(real_shift_page(view).data["changes"][0].chart.spec, sort_keys=False)
    again = json.dumps(real_shift_page(real_shift_view_again(view)).data["changes"][0].chart.spec)
    assert first == again
    block = real_shift_page(view).data["changes"][0]
    points = block.chart.spec["datasets"]["rows"]
    mine = [p for p in block.predictions if p.synthetic == MIXED]
    assert len(points) == sum(len(p.points) for p in mine)


def real_shift_view_again(view: RealShiftView) -> RealShiftView:
    """A copy of the view made of new objects (the chart must not depend on identity)."""
    return copy.deepcopy(view)


def test_the_navigation_entry_follows_the_attribution_page_when_there_is_one() -> None:
    nav = with_real_shift(NAV)
    hrefs = [href for href, _ in nav]
    assert hrefs[hrefs.index(PAGE) - 1] == "shift.html"
    with_page = (*NAV[:2], ("attribution.html", "What the shift does"), *NAV[2:])
    hrefs = [href for href, _ in with_real_shift(with_page)]
    assert hrefs[hrefs.index(PAGE) - 1] == "attribution.html"
