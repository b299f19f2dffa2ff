"""How an image's score change under the mixed shift depends on its recorded draw.

Per detector label x scope x category x severity of the mixed MVTec-Shift, for normal and for
anomalous test images apart: each image's **score change** is its image score in the shifted
cell minus its score in the clean cell (same id, same seed; regime none, whose scores are those
of regime threshold), divided by the standard deviation of the clean cell's normal test scores,
so that detectors whose scores live on different scales are comparable (a change of 1 is one
spread of the clean normal scores). Images whose label differs between the two cells are left
out; with several seeds, the seeds' images are pooled.

The change is regressed on the image's parameters (`attribution_params`: one per factor) by
ordinary least squares with an intercept, the parameters standardised (mean 0, sd 1 over the
images) for the fit; a slope is reported per unit of its parameter, the other parameters held
fixed. Its interval is the percentile interval over bootstrap resamples of the images (the
clean cell's `evaluation.bootstrap` count, its seed). A parameter that does not vary over the
images has no slope; with fewer images than the varying parameters + 2, none has.

Beside each slope, the binned curve: the images split at the parameter's quantiles into up to
`N_BINS` bins (at least `MIN_PER_BIN` images each where the images allow), each with the mean
change and its bootstrap interval (not holding the other parameters fixed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalsuite.data.shift_factors import ALL, FACTORS
from evalsuite.evaluation.bootstrap import percentile_interval
from evalsuite.site.read.records import Cell, Results
from evalsuite.site.views.attribution_cells import DEFAULT_FAMILY, Block, BlockKey
from evalsuite.site.views.attribution_pairs import LEVEL
from evalsuite.site.views.attribution_params import ENCODINGS, Draw, encode, mixed_draws
from evalsuite.site.views.attribution_rows import Bin, Dependence

N_BINS = 4
MIN_PER_BIN = 3
STATUSES = ("normal", "anomalous")
Pairs = list[tuple[Cell, Cell]]


def dependence(blocks: dict[BlockKey, Block], results: Results) -> list[Dependence]:
    """Every dependence row of the study's mixed shifts, in the blocks' order."""
    groups: dict[tuple[str, str, str, int], dict[str, Pairs]] = {}
    for key, block in blocks.items():
        if key.family != DEFAULT_FAMILY or key.regime not in ("none", "threshold"):
            continue
        if block.clean is None or not block.clean.ok:
            continue
        for variant, cell in block.variants.items():
            if variant.name == ALL and cell.ok:
                by_regime = groups.setdefault(
                    (key.label, key.scope, key.category, variant.severity), {}
                )
                by_regime.setdefault(key.regime, []).append((block.clean, cell))
    draws: dict[int, dict[str, Draw]] = {}
    out: list[Dependence] = []
    for (label, scope, category, severity), by_regime in groups.items():
        pairs = by_regime.get("none") or by_regime["threshold"]
        if severity not in draws:
            draws[severity] = mixed_draws(results, severity)
        head = (label, scope, category, severity)
        for status in STATUSES:
            out += _rows(head, status, pairs, draws[severity])
    return out


def _rows(
    head: tuple[str, str, str, int], status: str, pairs: Pairs, draws: dict[str, Draw]
) -> list[Dependence]:
    """The dependence rows of one group of cells and one status, one per factor."""
    x, y, reason = changes(pairs, draws, status == "anomalous")
    clean = pairs[0][0]
    n = int(clean.record["config"]["evaluation"]["bootstrap"])
    seed = int(clean.key.seed)
    slopes = regression(x, y, n, seed) if reason is None else None
    rows = []
    for j, factor in enumerate(FACTORS):
        slope, ci, why = (None, None, reason) if slopes is None else slopes[j]
        bins = binned(x[:, j], y, n, seed) if y.size else ()
        rows.append(
            Dependence(
                *head[:3],
                head[3],
                status,
                factor,
                ENCODINGS[factor][0],
                slope,
                ci,
                int(y.size),
                bins,
                why,
                tuple(pairs),
            )
        )
    return rows


def changes(
    pairs: Pairs, draws: dict[str, Draw], anomalous: bool
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The images' parameters x (n, 11), their standardised score changes y (n,), and why
    there is no regression (None when there is one)."""
    rows: list[list[float]] = []
    values: list[float] = []
    reasons: list[str] = []
    for clean, shifted in pairs:
        normal = [float(s["score"]) for s in clean.record["scores"] if not s["label"]]
        spread = float(np.std(normal, ddof=1)) if len(normal) > 1 else 0.0
        if not np.isfinite(spread) or spread <= 0:
            reasons.append("the clean cell's normal scores have no spread to standardise by")
            continue
        before = {s["id"]: s for s in clean.record["scores"]}
        for s in shifted.record["scores"]:
            first = before.get(s["id"])
            draw = draws.get(s["id"])
            encoded = encode(draw) if draw is not None else None
            if first is None or encoded is None or bool(first["label"]) != bool(s["label"]):
                continue
            if bool(s["label"]) == anomalous:
                rows.append(encoded)
                values.append((float(s["score"]) - float(first["score"])) / spread)
    x = np.array(rows, dtype=np.float64).reshape(-1, len(FACTORS))
    y = np.array(values, dtype=np.float64)
    if not draws:
        return x, y, "no recorded parameters of this shift in the results folder (splits/)"
    if not y.size:
        return x, y, "; ".join(dict.fromkeys(reasons)) or "no image with a recorded draw"
    return x, y, None


Slope = tuple[float | None, tuple[float, float] | None, str | None]


def regression(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> list[Slope]:
    """Each parameter's slope (per unit), its bootstrap interval, or why there is none.

    Args:
        x: (N, P) parameters; y: (N,) score changes; n: resamples; seed: their seed.
    """
    sd = x.std(axis=0)
    varying = np.flatnonzero(sd > 1e-12)
    fixed = "the parameter does not vary over these images"
    out: list[Slope] = [(None, None, fixed)] * x.shape[1]
    if y.size < varying.size + 2:
        why = f"{y.size} images for {varying.size} varying parameters: too few for a regression"
        return [(None, None, why)] * x.shape[1]
    z = (x[:, varying] - x[:, varying].mean(axis=0)) / sd[varying]
    design = np.column_stack([np.ones(y.size), z])
    beta = _fit(design, y)
    picks = np.random.default_rng(seed).integers(0, y.size, size=(max(n, 1), y.size))
    resampled = np.array([_fit(design[p], y[p]) for p in picks])
    for column, j in enumerate(varying, start=1):
        ci = percentile_interval(resampled[:, column] / sd[j], LEVEL) if n >= 1 else None
        out[j] = (float(beta[column] / sd[j]), ci, None)
    return out


def _fit(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients (the minimum-norm solution where the design is singular)."""
    return np.linalg.lstsq(design, y, rcond=None)[0]


def binned(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[Bin, ...]:
    """The mean change in quantile bins of one parameter x (N,), in parameter order."""
    k = max(1, min(N_BINS, y.size // MIN_PER_BIN))
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, k + 1)))
    if edges.size < 2:
        return (_bin(float(x.min()), float(x.max()), y, n, seed),)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    return tuple(
        _bin(float(edges[b]), float(edges[b + 1]), y[which == b], n, seed)
        for b in range(edges.size - 1)
        if np.any(which == b)
    )


def _bin(low: float, high: float, y: Sequence[float] | np.ndarray, n: int, seed: int) -> Bin:
    values = np.asarray(y, dtype=np.float64)
    ci = None
    if values.size >= 2 and n >= 1:
        picks = np.random.default_rng(seed).integers(0, values.size, size=(n, values.size))
        ci = percentile_interval(values[picks].mean(axis=1), LEVEL)
    return Bin(low, high, int(values.size), float(values.mean()), ci)
