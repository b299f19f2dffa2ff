"""Per-image pixel evidence beside each cell, for paired differences of pixel metrics.

Records keep image scores but no anomaly maps; `evalsuite.evaluation.pixel_evidence` reduces a
cell's test maps to per-image statistics (pair matrix, AU-PRO grid counts, pixel F1 counts),
written here as `<out>/artifacts/<cell path>/evidence.npz` (float32, compressed, atomic; the
same arrays give the same bytes) and named by the record's `evidence` field. Cells without masks
have none.
"""

from __future__ import annotations

import io
import logging
import zipfile
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
    path = results.evidence_relpath(relpath)
    write_bytes(out / path, npz_bytes(evidence.to_arrays()))
    return str(path)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed `.npz` (what `numpy.load` reads) with fixed entry times and order, so the
    same arrays give the same bytes (`numpy.savez_compressed` stamps the current time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as stream:
                np.lib.format.write_array(stream, np.asarray(arrays[name]), allow_pickle=False)
    return buffer.getvalue()
