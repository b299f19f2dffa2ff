"""Planted checks of the shift attribution (issue 23): a detector that sees only brightness has
its whole drop attributed to the photometric factors and none to the geometric ones; a
detector that sees only position shows the reverse. A real study runs both plug-ins
(tests/attribution_detectors.py) on every factor alone, the two groups, the mixed shift and two
leave-one-out variants; `attribution_view` reads its records."""

from __future__ import annotations

from pathlib import Path

import pytest
from attribution_detectors import write_discs

from evalsuite.config import StudyConfig
from evalsuite.data.shift_factors import FACTORS, GEOMETRIC, PHOTOMETRIC
from evalsuite.runner import run_study
from evalsuite.site.read.load import load_results
from evalsuite.site.views.attribution import attribution_view
from evalsuite.site.views.attribution_blocks import drop_blocks, row_anchor
from evalsuite.site.views.attribution_findings import NOTHING, findings, sentences
from evalsuite.site.views.attribution_rows import AttributionView, FactorDrop, Share
from evalsuite.site.views.tables import grid_of

VARIANTS = ["all", *FACTORS, "photometric", "geometric", "all-minus:exposure", "all-minus:rotation"]
SEVERITY = 3


def _study(root: Path) -> dict[str, object]:
    detector = {"backbone": {"resize": 64, "crop": 64}}
    return {
        "name": "planted",
        "kinds": ["clean/none", "shift/none"],
        "scopes": ["per_class"],
        "data": {"source": "mvtec", "root": str(root), "categories": ["disc"]},
        "detectors": [
            {"name": "brightness", "impl": "attribution_detectors:Brightness", **detector},
            {"name": "position", "impl": "attribution_detectors:Position", **detector},
        ],
        "shift": {"severity": SEVERITY, "factors": VARIANTS, "factor_kinds": ["shift/none"]},
        "evaluation": {"bootstrap": 200, "artifacts_per_cell": 0},
    }


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> AttributionView:
    base = tmp_path_factory.mktemp("planted")
    data = write_discs(base / "data", n_train=6, n_good=30, n_defect=30)
    config = StudyConfig.model_validate(_study(data))
    summary = run_study(config, base / "out", cache_dir=base / "cache", progress=False)
    assert not summary.failed
    results = load_results(base / "out")
    return attribution_view(results, grid_of(results))


def _drop(view: AttributionView, label: str, variant: str) -> FactorDrop:
    (found,) = (
        d
        for d in view.drops
        if (d.label, d.variant, d.category, d.metric, d.regime)
        == (label, variant, "disc", "image_auroc", "none")
    )
    return found


def _share(view: AttributionView, label: str, factor: str, kind: str) -> Share:
    (found,) = (
        s
        for s in view.shares
        if (s.label, s.factor, s.kind, s.category, s.metric)
        == (label, factor, kind, "disc", "image_auroc")
    )
    return found


def _interval(drop: FactorDrop) -> tuple[float, float]:
    assert drop.value.diff is not None, drop.value.reason
    return drop.value.diff.ci95


@pytest.mark.parametrize(
    ("label", "sees", "blind"),
    [("brightness", PHOTOMETRIC, GEOMETRIC), ("position", GEOMETRIC, PHOTOMETRIC)],
)
def test_the_drop_goes_to_the_factors_the_detector_sees(
    view: AttributionView, label: str, sees: tuple[str, ...], blind: tuple[str, ...]
) -> None:
    seen = "photometric" if sees == PHOTOMETRIC else "geometric"
    unseen = "geometric" if seen == "photometric" else "photometric"
    mixed = _drop(view, label, "all")
    assert mixed.value.diff is not None and mixed.value.diff.a > 0.95  # it finds the defects
    assert _interval(mixed)[1] < 0  # and the mixed shift costs it
    assert _interval(_drop(view, label, seen))[1] < 0
    assert _interval(_drop(view, label, unseen))[0] <= 0 <= _interval(_drop(view, label, unseen))[1]
    for factor in blind:  # no factor it is blind to costs it anything measurable
        low, high = _interval(_drop(view, label, factor))
        assert low <= 0 <= high, (factor, low, high)
        alone = _share(view, label, factor, "alone")
        assert alone.share is not None and abs(alone.share) < 0.1, (factor, alone)
    # the group it sees carries the whole mixed drop, the other none of it
    whole = _share(view, label, seen, "alone")
    assert whole.share is not None and whole.ci95 is not None
    assert 0.75 < whole.share < 1.25 and whole.ci95[0] > 0.5, whole
    none = _share(view, label, unseen, "alone")
    assert none.share is not None and abs(none.share) < 0.1, none
    # leaving out a factor it is blind to changes nothing; its main factor matters alone
    main, other = ("exposure", "rotation") if seen == "photometric" else ("translation", "exposure")
    left_out = _share(view, label, other, "leave_one_out")
    assert left_out.share is not None and abs(left_out.share) < 0.1, left_out
    main_share = _share(view, label, main, "alone")
    assert main_share.ci95 is not None and main_share.ci95[0] > 0, main_share


def test_the_rest_is_stated_and_the_mean_drop_covers_the_factors(view: AttributionView) -> None:
    for label in ("brightness", "position"):
        (rest,) = (
            s
            for s in view.shares
            if (s.label, s.kind, s.category, s.metric) == (label, "rest", "disc", "image_auroc")
        )
        alone = [
            s.share
            for s in view.shares
            if (s.label, s.kind, s.category, s.metric) == (label, "alone", "disc", "image_auroc")
            and s.factor in FACTORS
        ]
        assert len(alone) == len(FACTORS) and rest.share is not None
        assert rest.share == pytest.approx(1 - sum(a for a in alone if a is not None))
        (mean,) = (
            m
            for m in view.means
            if (m.label, m.metric, m.severity, m.regime) == (label, "image_auroc", SEVERITY, "none")
        )
        factors = [_drop(view, label, f).value.diff for f in FACTORS]
        assert mean.n_drops == len(FACTORS)
        assert mean.delta == pytest.approx(sum(d.delta for d in factors if d) / len(FACTORS))


@pytest.mark.parametrize(
    ("label", "group", "sees", "blind"),
    [
        ("brightness", "photometric", PHOTOMETRIC, GEOMETRIC),
        ("position", "geometric", GEOMETRIC, PHOTOMETRIC),
    ],
)
def test_the_sentence_names_what_the_detector_sees(
    view: AttributionView, label: str, group: str, sees: tuple[str, ...], blind: tuple[str, ...]
) -> None:
    (finding,) = (f for f in findings(view.drops) if (f.label, f.category) == (label, "disc"))
    assert finding.mixed.distinguishable
    by_kind = {claim.kind: claim for claim in finding.claims}
    assert by_kind["group"].variant == group and by_kind["factor"].variant in sees
    assert not [c for c in finding.claims if c.variant in blind]
    if label == "brightness":  # exposure is its main change
        assert {c.variant for c in finding.claims} <= {"photometric", "exposure"}
    assert f"{group} alone costs " in finding.text and NOTHING not in finding.text
    # every number links to the drop table row it is read from
    (sentence,) = (s for s in sentences([finding]))
    rows = {row.anchor for b in drop_blocks(view.drops) for row in b.rows}
    assert [p.href.removeprefix("#") for p in sentence.parts] == [
        row_anchor(c.drops[-1]) for c in (finding.mixed, *finding.claims)
    ]
    assert {p.href.removeprefix("#") for p in sentence.parts} <= rows
