"""Timing a detector without a cost model on a small sample of the run's own inputs.

For each detector configuration (a study's detector entry, by label) whose detector declares
no cost model, `sample_unpriced` takes the label's first planned fit (a per-category one when
there is one; a sweep's variants are priced from their baseline's sample), the first 2n of its
train images and the first m test images of its first category in its condition, in id
order, and reads their features from the run's own backbone (the same weights,
preprocessing, layers and storage) into a feature store in a temporary folder that is removed
afterwards (one store per backbone: configurations on one backbone share their sample's
features); nothing enters the run's cache or results. Then, as a run does (the registry
builds it with the same params, seed and device; one thread; the checks of `FitScorer` and
`check_scores`):

- it builds and fits the detector on the first n and on the first 2n images;
- it scores the m test images with the detector fitted on 2n (`search` then `scores_from`
  for a detector that declares the split, else `score`);
- each is timed as the best of up to `ROUNDS` rounds (fewer once a round takes `ROUND_S`);
- one more fit on 2n runs under `tracemalloc`: the peak of the Python and NumPy allocations
  (memory that torch allocates itself is not traced).

`Sampled.fit_at` extrapolates a fit on N images as build + fit(2n) (N / 2n)^g, with the
growth g measured from the two fits, log2(fit(2n) / fit(n)), clamped to `GROWTH_RANGE`
(linear at least: a fixed cost would otherwise look like no growth; quadratic at most); the
scoring is priced per scored image. A detector whose sample raises is reported with the
error (`SampleError`) and stays unpriced.
"""

from __future__ import annotations

import math
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from evalsuite import progress
from evalsuite.backbone.cache import FeatureCache
from evalsuite.backbone.images import ImageStream
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import Detector, Source
from evalsuite.detectors.output import calling, check_scores, naming
from evalsuite.detectors.registry import (
    as_memory_bank,
    as_split,
    build_detector,
    cost_model,
    reads_images,
    resolve_params,
)
from evalsuite.detectors.threads import DETECTOR_THREADS, limit_threads
from evalsuite.errors import EvalsuiteError
from evalsuite.runner.planning.plan import FitPlan, Plan, backbone_key
from evalsuite.runner.planning.study_data import StudyData

SAMPLE_TRAIN = 32
"""n: the fit is timed on the first n and the first 2n train images of the sample (a fit with
fewer train images: on half of them and all of them). DFKDE's default 16 PCA components need
more than 16 images (on 16 its kernel density's covariance is singular)."""
SAMPLE_TEST = 8
"""m: test images scored."""
ROUNDS = 3
"""Each timing is the best of this many rounds..."""
ROUND_S = 0.5
"""...fewer once a round has taken this long (the noise is then small beside it)."""
GROWTH_RANGE = (1.0, 2.0)
"""The fit's growth exponent is clamped to this range."""


@dataclass(frozen=True)
class Sampled:
    """A detector configuration timed on a sample of the run's inputs.

    Attributes:
        label: the detector configuration.
        train_images: (n, 2n), the train images of the two timed fits.
        test_images: m, the test images scored.
        build_s: seconds to build the detector (the run counts it in the fit).
        fit_s: seconds of the fits on n and 2n images.
        score_s: seconds per scored image.
        measured_growth: log(fit(2n) / fit(n)) / log(2n / n) (1 when only one size fits).
        traced_peak_bytes: peak of the Python and NumPy allocations during a fit on 2n.
    """

    label: str
    train_images: tuple[int, int]
    test_images: int
    build_s: float
    fit_s: tuple[float, float]
    score_s: float
    measured_growth: float
    traced_peak_bytes: int

    @property
    def growth(self) -> float:
        """The growth exponent extrapolated with: the measured one in `GROWTH_RANGE`."""
        low, high = GROWTH_RANGE
        return min(max(self.measured_growth, low), high)

    def fit_at(self, train: int) -> float:
        """Projected seconds to build and fit on `train` images."""
        return self.build_s + self.fit_s[1] * (train / self.train_images[1]) ** self.growth

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the extrapolation spelled out."""
        return {
            "train_images": list(self.train_images),
            "test_images": self.test_images,
            "build_s": self.build_s,
            "fit_s": list(self.fit_s),
            "score_s_per_image": self.score_s,
            "measured_growth": self.measured_growth,
            "growth": self.growth,
            "traced_peak_bytes": self.traced_peak_bytes,
            "extrapolation": (
                "fit_s(N) = build_s + fit_s[1] * (N / train_images[1]) ** growth; "
                "score_s = score_s_per_image * scored images"
            ),
        }


@dataclass(frozen=True)
class SampleError:
    """A detector configuration whose sample raised: it stays unpriced.

    Attributes:
        label: the detector configuration.
        error: the one-line error.
    """

    label: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"error": self.error}


def sample_unpriced(
    plan: Plan,
    data: StudyData,
    sources: Mapping[str, FeatureCache],
    device: torch.device | None = None,
) -> dict[str, Sampled | SampleError]:
    """Label -> the sample's timings (or its error), for every detector configuration of
    `plan` without a cost model, in plan order (see the module docstring)."""
    chosen: dict[str, FitPlan] = {}
    for fit in plan.fits:  # per label, its first baseline per-category fit if it has one
        label = fit.variant.spec.label
        if cost_model(fit.variant.spec.ref) is not None:
            continue
        if label not in chosen or _rank(fit) < _rank(chosen[label]):
            chosen[label] = fit
    found: dict[str, Sampled | SampleError] = {}
    shown = progress.enabled()
    progress.set_enabled(False)
    try:
        with tempfile.TemporaryDirectory(prefix="evalsuite-estimate-") as folder:
            stores: dict[str, FeatureCache] = {}  # one per backbone: labels share features
            for label, fit in chosen.items():
                key = backbone_key(fit.variant.spec.backbone)
                if key not in stores:
                    source = sources[key]
                    stores[key] = FeatureCache(
                        source.backbone,
                        source.layers,
                        Path(folder) / f"features-{len(stores)}",
                        batch_size=source.batch_size,
                        storage=source.storage,
                    )
                found[label] = _sample_fit(data, fit, stores[key], device)
    finally:
        progress.set_enabled(shown)
    return found


def _rank(fit: FitPlan) -> tuple[bool, bool]:
    """Baseline before sweep variant, per-category before unified."""
    return fit.variant.sweep is not None, fit.scope != "per_class"


def sample_inputs(data: StudyData, fit: FitPlan) -> tuple[list[Sample], list[Sample]]:
    """(The first up to 2n train images of `fit`, the first up to m test images of its first
    category in its condition), in id order."""
    (family, severity, factors), seed = fit.variant.tree, fit.seed
    train = data.samples(fit.condition, severity, "train", fit.categories, seed, factors, family)
    test = data.samples(fit.condition, severity, "test", fit.categories[:1], seed, factors, family)
    return train[: 2 * SAMPLE_TRAIN], test[:SAMPLE_TEST]


def _sample_fit(
    data: StudyData, fit: FitPlan, store: FeatureCache, device: torch.device | None
) -> Sampled | SampleError:
    """`fit`'s detector timed on a sample of its inputs, their features in `store` (a
    temporary copy of the run's feature source), or the error that stopped it."""
    spec = fit.variant.spec
    train, test = sample_inputs(data, fit)
    try:
        source: Source = store
        if reads_images(spec.ref):  # handed the preprocessed images, as a run does
            source = ImageStream(store.backbone.preprocessing)
        else:
            for _ in store.iter_features(train + test, store.layers, store.batch_size):
                pass  # extracted first, as a run does: the fits read stored features
        timer = _Timer(spec.label, spec.ref, spec.params, source, fit.seed, device)
        return timer.run(train, test)
    except Exception as error:  # reported, never swallowed: the detector stays unpriced
        return SampleError(spec.label, _one_line(error))


class _Timer:
    """Builds, fits and scores one detector configuration on a sample, as a run does."""

    def __init__(
        self,
        label: str,
        ref: str,
        params: Mapping[str, Any],
        store: Source,
        seed: int,
        device: torch.device | None,
    ) -> None:
        self.label, self.ref, self.params = label, ref, params
        self.store, self.seed, self.device = store, seed, device
        self.who = naming(label, ref)

    def run(self, train: list[Sample], test: list[Sample]) -> Sampled:
        """Time the fits on n and 2n images and the scoring of `test`."""
        if not train or not test:
            raise EvalsuiteError(f"no {'train' if not train else 'test'} image to time it on")
        sizes = (max(1, len(train) // 2), len(train))
        best: dict[str, float] = {}
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for name, seconds in self._round(train, test, sizes).items():
                best[name] = min(best.get(name, math.inf), seconds)
            if time.perf_counter() - started >= ROUND_S:
                break
        growth = 1.0
        if sizes[1] > sizes[0] and best["fit_small"] > 0:
            growth = math.log(best["fit_large"] / best["fit_small"]) / math.log(sizes[1] / sizes[0])
        return Sampled(
            label=self.label,
            train_images=sizes,
            test_images=len(test),
            build_s=best["build"],
            fit_s=(best["fit_small"], best["fit_large"]),
            score_s=best["score"] / len(test),
            measured_growth=growth,
            traced_peak_bytes=self._traced_peak(train),
        )

    def _round(
        self, train: list[Sample], test: list[Sample], sizes: tuple[int, int]
    ) -> dict[str, float]:
        """One round's seconds: build, the fit on n, the fit on 2n, the scoring of `test`."""
        small = self._fitted(train[: sizes[0]])[2]
        detector, build, large = self._fitted(train[: sizes[1]])
        score = self._clocked(lambda: self._score(detector, test))
        return {"build": build, "fit_small": small, "fit_large": large, "score": score}

    def _fitted(self, train: Sequence[Sample]) -> tuple[Detector, float, float]:
        """(A new detector fitted on `train`, seconds to build it, seconds to fit it)."""
        built: list[Detector] = []

        def build() -> None:
            with calling(self.who, "construction"):
                built.append(
                    build_detector(self.ref, self.params, self.store, self.seed, self.device)
                )

        build_s = self._clocked(build)
        detector = built[0]

        def fit() -> None:
            with calling(self.who, "fit()"):
                detector.fit(train)

        return detector, build_s, self._clocked(fit)

    def _score(self, detector: Detector, test: list[Sample]) -> None:
        """Score `test` as the run's `FitScorer` does, its output checked."""
        split = as_split(self.ref, detector)
        as_memory_bank(self.ref, detector)  # a declaration it lacks fails the run's cells too
        with limit_threads(DETECTOR_THREADS):
            if split is None:
                with calling(self.who, "score()"):
                    scores: object = detector.score(test)
            else:
                params = resolve_params(self.ref, self.params)
                with calling(self.who, "search()"):
                    evidence = split.search(test, params)
                with calling(self.who, "scores_from()"):
                    scores = split.scores_from(evidence, params)
        check_scores(self.who, scores, len(test), self.store.input_size)

    def _clocked(self, function: Callable[[], None]) -> float:
        """Seconds `function` takes on one thread (waited for on a GPU)."""
        with limit_threads(DETECTOR_THREADS):
            started = time.perf_counter()
            function()
            if self.device is not None and self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            return time.perf_counter() - started

    def _traced_peak(self, train: Sequence[Sample]) -> int:
        """Peak bytes of the Python and NumPy allocations while building and fitting on
        `train` (0 when tracemalloc is already tracing for someone else)."""
        if tracemalloc.is_tracing():
            return 0
        tracemalloc.start()
        try:
            self._fitted(train)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def _one_line(error: Exception) -> str:
    """The error as one line: ours as they are, others with their type."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(error, EvalsuiteError):
        return line or type(error).__name__
    return f"{type(error).__name__}: {line}" if line else type(error).__name__
