"""A study's fitted model, loaded from its results folder, scoring images (imports torch).

The model is loaded as the run left it (`<results>/fits/<fit_id>`, `load_detector`) with the
feature source the run gave it (its backbone's feature cache, or an image stream for a detector
that reads raw images), so its maps are the ones the run would compute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from evalsuite import regular, results
from evalsuite.backbone.device import resolve_device
from evalsuite.backbone.images import ImageStream
from evalsuite.backbone.preprocessing import Preprocessing
from evalsuite.config import DetectorSpec, StudyConfig
from evalsuite.data.samples import Sample
from evalsuite.detectors.base import Detector
from evalsuite.detectors.output import calling, check_scores, naming
from evalsuite.detectors.registry import load_detector, reads_images
from evalsuite.detectors.threads import DETECTOR_THREADS, limit_threads
from evalsuite.errors import SubmissionError
from evalsuite.results.paths import FIT_DONE
from evalsuite.runner.planning.plan import backbone_key
from evalsuite.runner.preparation.context import feature_sources

BATCH = 16
"""Images scored at once (bounds the maps held in memory)."""


class Models:
    """The fitted models of one study, loaded from its results folder.

    The study's feature sources (one per backbone configuration, as the run made them) are
    described once and shared by every model loaded.
    """

    def __init__(
        self, config: StudyConfig, results_dir: Path, cache_dir: Path, device: str | None
    ) -> None:
        """Describe the study `config`'s backbones (their weights located and digested)."""
        self._results = results_dir
        self._device = resolve_device(device or config.device)
        self._sources = feature_sources(config, cache_dir, self._device)

    def load(self, record: dict[str, Any]) -> FittedModel:
        """The model the cell `record` was evaluated with.

        Raises:
            SubmissionError: its fitted model is missing, or its backbone is not the study's
                or has other weights than the run had.
        """
        spec = DetectorSpec.model_validate(record["config"]["detector"])
        who = naming(spec.label, spec.ref)
        directory = results.fit_dir(self._results, record["fit_id"])
        if not (directory / FIT_DONE).is_file():
            raise SubmissionError(
                f"{directory} holds no fitted model (no {FIT_DONE}); run the study again "
                "(`evalsuite run`) to refit it"
            )
        regular.walk_files(directory, regular.ARTIFACT)  # no link or FIFO: never followed
        features = self._sources.get(backbone_key(spec.backbone))
        if features is None:
            raise SubmissionError(
                f"the backbone of {who} is not the study's: the results folder {self._results} "
                "does not match its manifest"
            )
        ran = record["provenance"]["weights"].get("sha256")
        now = features.backbone.weights.to_dict().get("sha256")
        if ran != now:
            raise SubmissionError(
                f"the weights of {who}'s backbone are not the ones the run used (sha256 {now} "
                f"here, {ran} in cell {record['id']}); restore them or run the study again"
            )
        preprocessing = features.backbone.preprocessing
        source = ImageStream(preprocessing) if reads_images(spec.ref) else features
        with calling(who, "load()"):
            detector = load_detector(spec.ref, directory, source, self._device)
        return FittedModel(detector, who, preprocessing, features.input_size)


class FittedModel:
    """One fitted model, ready to score images.

    Attributes:
        preprocessing: the input pipeline its maps are at (`crop` x `crop`).
    """

    def __init__(
        self,
        detector: Detector,
        who: str,
        preprocessing: Preprocessing,
        size: tuple[int, int],
    ) -> None:
        self._detector, self._who, self._size = detector, who, size
        self.preprocessing = preprocessing

    def maps(self, samples: list[Sample]) -> Iterator[np.ndarray]:
        """The anomaly map of each sample, (crop, crop) float32, in order."""
        for start in range(0, len(samples), BATCH):
            batch = samples[start : start + BATCH]
            with limit_threads(DETECTOR_THREADS), calling(self._who, "score()"):
                scores = self._detector.score(batch)
            yield from check_scores(self._who, scores, len(batch), self._size).maps


def private_sample(path: Path, category: str, split: str) -> Sample:
    """A private test image as a sample (no label is known: 0, its split as defect type)."""
    return Sample(
        id=f"{category}/{split}/{path.stem}",
        path=path,
        category=category,
        folder="test",
        label=0,
        defect=split,
        mask_path=None,
    )
