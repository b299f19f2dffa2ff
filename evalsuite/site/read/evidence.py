"""The per-image pixel evidence of a cell (`evidence.npz`, written by the run beside its
record), read once per cell: the paired pixel differences and the category means resample it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from evalsuite import regular
from evalsuite.errors import EvaluationError
from evalsuite.evaluation.pixel_evidence import PixelEvidence
from evalsuite.site.read.records import Cell


class EvidenceLoader:
    """Reads cells' `evidence.npz` once each.

    Args:
        source: the results folder the cells' `evidence` paths are relative to.
    """

    def __init__(self, source: Path) -> None:
        self.source = source
        self._memo: dict[str, PixelEvidence] = {}

    def load(self, cell: Cell) -> PixelEvidence:
        """The cell's pixel evidence (`evaluation.pixel_evidence`), read on first use.

        Raises:
            EvaluationError: the record names no evidence, or its file cannot be read.
        """
        path = cell.record.get("evidence")
        if not path:
            raise EvaluationError(
                "no pixel evidence in this cell's record (results from before evidence.npz, "
                "or no masks); re-run the cell with --force for a pixel-level interval"
            )
        if path not in self._memo:
            try:
                evidence = self.source / path
                stream = regular.open_file(evidence, regular.ARTIFACT, "pixel evidence")
                with stream, np.load(stream, allow_pickle=False) as data:
                    self._memo[path] = PixelEvidence.from_arrays(dict(data))
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
                raise EvaluationError(f"cannot read pixel evidence {path}: {error}") from error
        return self._memo[path]
