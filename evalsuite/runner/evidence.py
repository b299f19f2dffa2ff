"""Per-image pixel evidence beside each cell, for paired differences of pixel metrics.

Records keep image scores but no anomaly maps; `evalsuite.evaluation.pixel_evidence` reduces a
cell's test maps to per-image statistics (pair matrix, AU-PRO grid counts, pixel F1 counts),
written here as `<out>/artifacts/<cell path>/evidence.npz` (float32, compressed, atomic) and named
by the record's `evidence` field. Cells without masks have none.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from evalsuite import results
from evalsuite.atomic import write_bytes
from evalsuite.errors import EvaluationError
from evalsuite.evaluation.pixel_evidence import pixel_evidence

log = logging.getLogger(__name__)


def write_evidence(out: Path, relpath: PurePosixPath, outcome: dict[str, Any]) -> str | None:
    """Write a cell's pixel evidence; its path relative to `out`, or None without masks.

    Args:
        out: the results folder.
        relpath: the cell's record path.
        outcome: the cell's scored outcome: "test" scores (maps (N, H, W)), "masks" (N, H, W)
            or None, and the "pixel_threshold" (or None).
    """
    masks = outcome["masks"]
    if masks is None:
        return None
    pixel_t = outcome["pixel_threshold"]
    try:
        evidence = pixel_evidence(
            outcome["test"].maps, masks, pixel_t.value if pixel_t is not None else None
        )
    except EvaluationError as error:  # e.g. non-finite maps: the metrics say why already
        log.warning("no pixel evidence for %s: %s", relpath, error)
        return None
    buffer = io.BytesIO()
    arrays: dict[str, Any] = dict(evidence.to_arrays())
    np.savez_compressed(buffer, **arrays)
    path = results.evidence_relpath(relpath)
    write_bytes(out / path, buffer.getvalue())
    return str(path)
