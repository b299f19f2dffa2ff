"""Per-image statistics: AUPIMO against anomalib's `AUPIMO`, DeLong against Hanley & McNeil's
published example and an O(n^2) structural-components computation, the Friedman/Nemenyi ranking
against Demšar's worked example, and the paired tests against their definitions."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from scipy.stats import friedmanchisquare, wilcoxon

from evalsuite.errors import EvaluationError
from evalsuite.evaluation.aupimo import aupimo
from evalsuite.evaluation.delong import delong
from evalsuite.evaluation.per_image_tests import paired_tests
from evalsuite.evaluation.pixel_evidence import PixelEvidence, pixel_evidence
from evalsuite.evaluation.ranking import average_ranks, friedman_nemenyi, ranking_from_ranks


def _lattice_maps(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """10 normal + 6 anomalous 100 x 100 maps on a 1/1000 lattice; the 30 highest normal pixels
    are distinct, so the shared FPR takes the values k / 1e5 and hits 1e-5 and 1e-4 exactly."""
    rng = np.random.default_rng(seed)
    n_normal, size = 10, 100
    maps = np.round(rng.uniform(0, 0.5, (16, size, size)) * 1000) / 1000
    masks = np.zeros(maps.shape, dtype=bool)
    for i in range(n_normal, 16):
        masks[i, 10 + i : 40 + i, 30:60] = True
        maps[i][masks[i]] = np.round(rng.uniform(0.2, 1.0, int(masks[i].sum())) * 1000) / 1000
    flat = maps[:n_normal].reshape(-1)
    flat[rng.choice(flat.size, 30, replace=False)] = (
        501 + rng.choice(499, 30, replace=False)
    ) / 1e3
    maps[:n_normal] = flat.reshape(n_normal, size, size)
    return maps, masks


@pytest.mark.parametrize("seed", [0, 1])
def test_aupimo_equals_anomalib(seed: int) -> None:
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("anomalib.metrics")
    maps, masks = _lattice_maps(seed)
    ours = aupimo(maps, masks)
    metric = metrics.AUPIMO(return_average=False, num_thresholds=300_000)
    batch = types.SimpleNamespace(
        anomaly_map=torch.from_numpy(maps), gt_mask=torch.from_numpy(masks)
    )
    metric.update(batch)
    _, theirs = metric.compute()
    expected = theirs.aupimos.numpy()
    assert np.array_equal(np.isnan(ours), np.isnan(expected))
    assert np.isnan(ours[:10]).all() and (ours[10:] > 0).all()
    np.testing.assert_allclose(ours[10:], expected[10:], rtol=0, atol=1e-9)


def test_aupimo_of_a_perfect_and_a_blind_image() -> None:
    maps, masks = _lattice_maps(0)
    maps[10][masks[10]] = 2.0  # above every normal pixel: TPR 1 over the whole range
    maps[11][masks[11]] = 0.0  # below every normal pixel: TPR 0
    scores = aupimo(maps, masks)
    assert scores[10] == pytest.approx(1.0) and scores[11] == pytest.approx(0.0)


def test_aupimo_refuses_too_few_normal_pixels() -> None:
    maps, masks = _lattice_maps(0)
    with pytest.raises(EvaluationError, match="lower bound"):
        aupimo(maps[8:, 20:40, 30:50], masks[8:, 20:40, 30:50])  # 800 normal pixels
    with pytest.raises(EvaluationError, match="normal and anomalous"):
        aupimo(maps[10:], masks[10:])


def test_pixel_evidence_carries_aupimo_through_its_arrays() -> None:
    maps, masks = _lattice_maps(1)
    evidence = pixel_evidence(maps, masks, 0.6)
    assert evidence.aupimo is not None
    back = PixelEvidence.from_arrays(evidence.to_arrays())
    assert back.aupimo is not None
    np.testing.assert_allclose(back.aupimo, aupimo(maps, masks), atol=1e-6)  # float32 store
    assert back.subset(np.array([12, 3])).aupimo is not None
    older = {k: v for k, v in evidence.to_arrays().items() if k != "aupimo"}
    assert PixelEvidence.from_arrays(older).aupimo is None


# Hanley & McNeil (Radiology 143, 1982), Table 1: 109 CT images rated 1 (definitely normal)
# to 5 (definitely abnormal); published area 0.893, standard error 0.032.
HM_NORMAL = (33, 6, 6, 11, 2)
HM_ABNORMAL = (3, 2, 2, 11, 33)


def _structural(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """AUROC and DeLong's SE from the O(m n) kernel psi(x, y) = 1[x > y] + 1[x == y] / 2."""
    x, y = scores[labels], scores[~labels]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), math.sqrt(v10.var(ddof=1) / x.size + v01.var(ddof=1) / y.size)


def test_delong_on_hanley_mcneil_radiology_example() -> None:
    ratings = np.arange(1, 6)
    scores = np.concatenate([np.repeat(ratings, HM_NORMAL), np.repeat(ratings, HM_ABNORMAL)])
    labels = np.repeat([False, True], [58, 51])
    result = delong(scores, labels)
    assert result.auroc == pytest.approx(0.893, abs=5e-4)
    # DeLong's nonparametric SE (0.0307) beside HM's published exponential-model 0.032
    assert result.se == pytest.approx(0.032, abs=2e-3)
    auc, se = _structural(scores, labels)
    assert result.auroc == pytest.approx(auc, abs=1e-12) and result.se == pytest.approx(
        se, rel=1e-12
    )
    low, high = result.ci95
    assert low == pytest.approx(auc - 1.959964 * se, abs=1e-6) and high <= 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_equals_structural_components(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random(80) < 0.4
    scores = np.round(rng.normal(size=80) + labels, 1)  # ties on purpose
    result = delong(scores, labels)
    auc, se = _structural(scores, labels)
    assert result.auroc == pytest.approx(auc, abs=1e-12)
    assert result.se == pytest.approx(se, rel=1e-10)
    assert result.placement[labels].mean() == pytest.approx(auc)
    assert result.placement[~labels].mean() == pytest.approx(auc)


def test_delong_needs_two_images_per_class() -> None:
    with pytest.raises(EvaluationError, match="two images of each class"):
        delong(np.array([0.1, 0.2, 0.9]), np.array([0, 0, 1]))


def test_friedman_nemenyi_on_demsar_worked_example() -> None:
    # Demšar (JMLR 7, 2006), §3.2.2: four C4.5 variants over 14 data sets; average ranks
    # 3.143, 2.000, 2.893, 1.964 give chi2_F = 9.28, F_F = 3.69, and at alpha = 0.05
    # q_0.05 = 2.569 and CD = 1.25 (Nemenyi).
    ranking = ranking_from_ranks(np.array([3.143, 2.000, 2.893, 1.964]), 14)
    assert ranking.chi2 == pytest.approx(9.28, abs=0.01)
    assert ranking.f_stat == pytest.approx(3.69, abs=0.01)
    assert ranking.cd == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 14)), abs=1e-3)
    assert ranking.cd == pytest.approx(1.25, abs=0.005)
    assert ranking.p_f < 0.05  # Demšar: the F_F critical value is 2.85
    # Demšar: the largest gap, 3.143 - 1.964 = 1.179, is below the CD: Nemenyi tells no two
    # variants apart, so the diagram joins all four in one clique, best first
    assert ranking.cliques == ((3, 1, 2, 0),)
    assert ranking_from_ranks(np.array([3.143, 2.000, 2.893, 1.964]), 40).cliques == (
        (3, 1),
        (2, 0),
    )  # with 40 data sets (CD 0.74) they split


def test_friedman_equals_scipy_without_ties() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(12, 5)) + np.arange(5) * 0.3
    ranking = friedman_nemenyi(values)
    expected = friedmanchisquare(*values.T)
    assert ranking.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert ranking.p_chi2 == pytest.approx(expected.pvalue, rel=1e-9)
    assert average_ranks(values)[4] < average_ranks(values)[0]  # higher values rank better
    assert average_ranks(np.array([[1.0, 1.0, 0.0]])).tolist() == [1.5, 1.5, 3.0]


def test_paired_tests_follow_their_definitions() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=40)
    b = a + 0.5 + rng.normal(scale=0.3, size=40)
    b[3] = np.nan  # one image without a value on one side: left out
    result = paired_tests(a, b)
    keep = np.isfinite(b)
    d = b[keep] - a[keep]
    t = d.mean() / (d.std(ddof=1) / math.sqrt(d.size))
    from scipy.stats import t as student

    assert result.n == 39 and result.mean_diff == pytest.approx(d.mean())
    assert result.p_t == pytest.approx(2 * student.sf(abs(t), d.size - 1), rel=1e-9)
    assert result.p_wilcoxon < 1e-6  # every difference but a few is positive
    tied = np.round(b, 0)  # ties and zeros: the normal approximation with tie correction
    expected = wilcoxon(tied[keep], np.round(a, 0)[keep], method="asymptotic").pvalue
    assert paired_tests(np.round(a, 0), tied).p_wilcoxon == pytest.approx(expected)
    small = paired_tests(a[:10], a[:10] + np.arange(1, 11) / 10)  # 10 distinct: exact
    assert small.p_wilcoxon == pytest.approx(2 / 2**10)
    same = paired_tests(a, a.copy())
    assert same.p_wilcoxon == 1.0 and same.p_t == 1.0
