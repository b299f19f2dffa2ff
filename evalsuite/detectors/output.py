"""What the runner accepts from a detector's code: scores of the promised form, and failures
turned into one line that names the detector.

`check_scores` checks every `Scores` a detector returns before a metric reads it; `calling`
wraps each call into a detector's own code (build, fit, save, search, score), so that an
exception it raises fails that detector's cells with `DetectorError`: one line naming the
detector, the step and the error; the run's other cells go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from evalsuite.detectors.base import Scores
from evalsuite.errors import DetectorError, EvalsuiteError


def check_scores(detector: str, scores: object, count: int, size: tuple[int, int]) -> Scores:
    """`scores` if it is a `Scores` of `count` images at input size `size`, else a
    `DetectorError` naming `detector` and what is wrong.

    Args:
        detector: how to name the detector (label and class).
        scores: what it returned.
        count: N, the images it was given.
        size: (H, W) of the network input.
    """
    if not isinstance(scores, Scores):
        raise DetectorError(
            f"detector {detector} returned {type(scores).__name__}, not "
            "evalsuite.detectors.base.Scores"
        )
    expected = {"image scores": (count,), "maps": (count, *size)}
    for (what, shape), array in zip(expected.items(), (scores.image, scores.maps), strict=True):
        _check_array(detector, what, array, shape)
    return scores


def _check_array(detector: str, what: str, array: object, shape: tuple[int, ...]) -> None:
    """One array of a `Scores`: an ndarray of `shape`, float32, finite."""
    wanted = f"{shape} float32"
    if not isinstance(array, np.ndarray):
        raise DetectorError(
            f"detector {detector} returned {what} as {type(array).__name__}; "
            f"expected a numpy array {wanted}"
        )
    if array.shape != shape:
        raise DetectorError(
            f"detector {detector} returned {what} of shape {array.shape}; expected {wanted}"
            + (" (N, H, W at the network input size)" if len(shape) == 3 else " (N,)")
        )
    if array.dtype != np.float32:
        raise DetectorError(
            f"detector {detector} returned {what} of dtype {array.dtype}; expected {wanted}"
        )
    bad = ~np.isfinite(array)
    if bad.any():
        kinds = [k for k, m in (("NaN", np.isnan(array)), ("infinite", np.isinf(array))) if m.any()]
        raise DetectorError(
            f"detector {detector} returned {what} with {int(bad.sum())} "
            f"{' and '.join(kinds)} value(s) of {array.size}"
        )


@contextmanager
def calling(detector: str, step: str) -> Iterator[None]:
    """Run a call into `detector`'s code; an exception it raises (not one of ours) becomes a
    `DetectorError`: one line naming the detector, `step` and the error."""
    try:
        yield
    except EvalsuiteError:
        raise
    except Exception as error:
        text = str(error).strip()
        line = text.splitlines()[0] if text else ""
        raise DetectorError(
            f"detector {detector} raised {type(error).__name__} in {step}"
            + (f": {line}" if line else "")
        ) from error


def naming(label: str, reference: str) -> str:
    """How messages name a detector: its label, and its registry name or class if other."""
    return repr(label) if label == reference else f"{label!r} ({reference})"
