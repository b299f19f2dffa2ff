"""Per-image statistics of the study: each cell's DeLong interval and mean AUPIMO, and paired
tests between detectors on per-image values.

Per cell: image AUROC with its bootstrap interval (the record's) beside DeLong's (computed here
from the record's per-image scores, `evaluation.delong`), and the mean AUPIMO over the anomalous
test images (read from the cell's `evidence.npz`, `evaluation.aupimo`) with a percentile
bootstrap interval over those images (2,000 resamples, the cell's seed).

Tests: every pair of detectors evaluated on the same test images (same scope, condition/regime
and category; baseline cells; images paired by seed and sample id), on two per-image values on
one scale for both detectors: DeLong's placement value (image level) and AUPIMO (pixel level);
shift/threshold is left out (its scores are shift/none's by construction).
Wilcoxon signed-rank and paired t-test (`evaluation.per_image_tests`); each test's p-values are
Holm-adjusted over every row of the page's table (its family).
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalsuite import regular
from evalsuite.errors import EvaluationError
from evalsuite.evaluation.aupimo import FPR_BOUNDS
from evalsuite.evaluation.bootstrap import Interval, percentile_interval
from evalsuite.evaluation.delong import delong
from evalsuite.evaluation.paired import holm
from evalsuite.evaluation.per_image_tests import PairedTest, paired_tests
from evalsuite.evaluation.regimes import plan_for
from evalsuite.results.paths import SCOPES
from evalsuite.site.read.records import KINDS, Cell, Results

AUPIMO_RESAMPLES = 2000
VALUES = {"placement": "image AUROC (placement)", "aupimo": "AUPIMO"}
"""The per-image values the tests compare, and how the site names them."""
ALPHA = 0.05


@dataclass(frozen=True)
class CellStats:
    """One cell's image AUROC intervals and mean AUPIMO.

    Attributes:
        cell: the cell.
        auroc: image AUROC (the record's), or None.
        bootstrap: its bootstrap 95% interval (the record's), or None.
        delong: DeLong's 95% interval, or None with `delong_reason`.
        aupimo: mean AUPIMO over anomalous test images, or None with `aupimo_reason`.
        aupimo_ci: its bootstrap 95% interval.
        aupimo_n: the anomalous images it averages.
    """

    cell: Cell
    auroc: float | None
    bootstrap: Interval | None
    delong: Interval | None
    delong_reason: str
    aupimo: float | None
    aupimo_ci: Interval | None
    aupimo_n: int
    aupimo_reason: str


@dataclass(frozen=True)
class PairedRow:
    """One paired comparison b − a on one per-image value.

    Attributes:
        scope, kind, category: where both detectors were evaluated.
        a, b: the two detector labels.
        value: a key of VALUES.
        test: the two tests' result.
        p_wilcoxon_holm, p_t_holm: Holm-adjusted over the page's family.
    """

    scope: str
    kind: str
    category: str
    a: str
    b: str
    value: str
    test: PairedTest
    p_wilcoxon_holm: float
    p_t_holm: float

    @property
    def value_name(self) -> str:
        """How the site names the value."""
        return VALUES[self.value]

    @property
    def star_wilcoxon(self) -> bool:
        """Holm-adjusted Wilcoxon p < 0.05."""
        return self.p_wilcoxon_holm < ALPHA

    @property
    def star_t(self) -> bool:
        """Holm-adjusted t-test p < 0.05."""
        return self.p_t_holm < ALPHA


class PerImageValues:
    """Each cell's per-image values by (seed, sample id), read once."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._aupimo: dict[str, dict[tuple[int, str], float] | str] = {}

    def placement(self, cell: Cell) -> dict[tuple[int, str], float]:
        """DeLong's placement value per test image (raises EvaluationError when undefined)."""
        values = delong(*_scores(cell)).placement
        ids = [x["id"] for x in cell.record["scores"] or []]
        return {(cell.key.seed, i): float(v) for i, v in zip(ids, values, strict=True)}

    def aupimo(self, cell: Cell) -> dict[tuple[int, str], float] | str:
        """AUPIMO per anomalous test image, or why there is none."""
        path = cell.record.get("evidence")
        if not path:
            return "no pixel evidence (no masks, or results from before evidence.npz)"
        if path not in self._aupimo:
            self._aupimo[path] = self._read(cell, path)
        return self._aupimo[path]

    def _read(self, cell: Cell, path: str) -> dict[tuple[int, str], float] | str:
        try:
            stream = regular.open_file(self.source / path, regular.ARTIFACT, "pixel evidence")
            with stream, np.load(stream, allow_pickle=False) as data:
                if "aupimo" not in data:
                    return _why_none(dict(data))
                values = np.asarray(data["aupimo"], dtype=np.float64)
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
            return f"cannot read pixel evidence {path}: {error}"  # the row says so; site goes on
        ids = [x["id"] for x in cell.record["scores"] or []]
        if len(ids) != values.size:
            return f"{path} holds {values.size} AUPIMO values for {len(ids)} test images"
        seed = cell.key.seed
        return {(seed, i): float(v) for i, v in zip(ids, values, strict=True) if np.isfinite(v)}


def _why_none(arrays: dict[str, np.ndarray]) -> str:
    """Why a cell's evidence holds no AUPIMO, from its per-image pixel counts."""
    if not {"n_defect", "n_normal"} <= set(arrays):
        return "no AUPIMO in this evidence file (written before AUPIMO); re-run with --force"
    normal = np.asarray(arrays["n_defect"]) == 0
    pixels = int(np.asarray(arrays["n_normal"])[normal].sum())
    if not normal.any() or normal.all():
        return "AUPIMO needs normal and anomalous test images"
    if pixels < round(1 / FPR_BOUNDS[0]):
        return (
            f"the normal test images have {pixels} pixels: too few for a shared FPR of "
            f"{FPR_BOUNDS[0]:g} (AUPIMO needs {round(1 / FPR_BOUNDS[0])})"
        )
    return "no AUPIMO in this evidence file (written before AUPIMO); re-run with --force"


def cell_stats(cell: Cell, values: PerImageValues) -> CellStats:
    """The row of one cell."""
    metric = cell.metrics.get("image_auroc")
    try:
        interval: Interval | None = delong(*_scores(cell)).ci95
        reason = ""
    except EvaluationError as error:
        interval, reason = None, str(error)
    found = values.aupimo(cell)
    mean = ci = None
    n = 0
    if isinstance(found, str):
        aupimo_reason = found
    else:
        per_image = np.array(sorted(found.values()))  # sorted: independent of dict order
        n = per_image.size
        aupimo_reason = "" if n else "no anomalous test image"
        if n:
            mean, ci = float(per_image.mean()), _mean_interval(per_image, cell.key.seed)
    return CellStats(
        cell,
        None if metric is None else metric.value,
        None if metric is None else metric.ci,
        interval,
        reason,
        mean,
        ci,
        n,
        aupimo_reason,
    )


def _scores(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    scores = cell.record["scores"] or []
    return (
        np.array([x["score"] for x in scores], dtype=np.float64),
        np.array([bool(x["label"]) for x in scores]),
    )


def _mean_interval(values: np.ndarray, seed: int) -> Interval:
    """Percentile bootstrap 95% interval of the mean of `values` (M,)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(AUPIMO_RESAMPLES, values.size))
    return percentile_interval(values[picks].mean(axis=1), 0.95)


def distinct_kinds(kinds: Iterable[str]) -> set[str]:
    """The kinds whose test scores are not another kind's by construction: a kind with the
    same fit and test data as an earlier one (shift/threshold: shift/none's model on shift/none's
    test images) only moves the threshold, so threshold-free values are equal; left out."""
    kept: dict[tuple[str, str], str] = {}
    for kind in sorted(set(kinds), key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS)):
        plan = plan_for(*kind.split("/", 1))
        kept.setdefault((plan.fit_condition, plan.test_condition), kind)
    return set(kept.values())


def paired_rows(results: Results, values: PerImageValues) -> list[PairedRow]:
    """Every detector pair × value with a test, Holm-adjusted over the whole list (kinds
    whose scores are another's by construction left out: `distinct_kinds`)."""
    by_place: dict[tuple[str, str, str], dict[str, list[Cell]]] = {}
    kinds = distinct_kinds(c.key.group.kind for c in results.cells)
    for cell in results.cells:
        g = cell.key.group
        if cell.ok and g.sweep is None and g.kind in kinds:
            by_label = by_place.setdefault((g.scope, g.kind, g.category), {})
            by_label.setdefault(g.label, []).append(cell)
    found: list[tuple[tuple[str, str, str], str, str, str, PairedTest]] = []
    for place in sorted(by_place, key=_place_order):
        labels = by_place[place]
        for a, b in itertools.combinations(sorted(labels), 2):
            for value in VALUES:
                test = _test(labels[a], labels[b], value, values)
                if test is not None:
                    found.append((place, a, b, value, test))
    p_w = holm([t.p_wilcoxon for *_, t in found])
    p_t = holm([t.p_t for *_, t in found])
    return [
        PairedRow(*place, a, b, value, test, float(p_w[i]), float(p_t[i]))
        for i, (place, a, b, value, test) in enumerate(found)
    ]


def _place_order(place: tuple[str, str, str]) -> tuple[int, int, str]:
    scope, kind, category = place
    return SCOPES.index(scope), KINDS.index(kind) if kind in KINDS else len(KINDS), category


def _test(a: list[Cell], b: list[Cell], value: str, values: PerImageValues) -> PairedTest | None:
    """The paired tests of two detectors' cells (all seeds), or None without enough pairs."""
    try:
        side_a, side_b = _pooled(a, value, values), _pooled(b, value, values)
    except EvaluationError:
        return None
    common = sorted(set(side_a) & set(side_b))
    if len(common) < 2:
        return None
    x = np.array([side_a[k] for k in common])
    y = np.array([side_b[k] for k in common])
    return paired_tests(x, y)


def _pooled(cells: list[Cell], value: str, values: PerImageValues) -> dict[tuple[int, str], float]:
    pooled: dict[tuple[int, str], float] = {}
    for cell in cells:
        found = values.placement(cell) if value == "placement" else values.aupimo(cell)
        if isinstance(found, str):
            raise EvaluationError(found)
        pooled.update(found)
    return pooled
