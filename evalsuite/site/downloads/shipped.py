"""The raw records the site ships beside its pages, under `downloads/records/`: the manifest,
every cell record and the split files, in the layout of the results folder (see
`evalsuite.results`), so that every `path` column of the CSV downloads resolves in the site.

They are written from the records as loaded (JSON with sorted keys and 2-space indent, with
their content digest, as the runner writes them); with `--anonymous`, as anonymised (and the
digest of the anonymised content).
"""

from __future__ import annotations

import json
from typing import Any

from evalsuite.results.cells import DIGEST, record_digest
from evalsuite.results.paths import MANIFEST_NAME
from evalsuite.site.downloads.data_csv import RECORDS, record_path
from evalsuite.site.read.records import Results


def _json(payload: Any) -> bytes:
    return (json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def record_files(results: Results) -> dict[str, bytes]:
    """Site path -> content of the manifest, every cell record and every split file."""
    files = {
        record_path(cell.relpath): _json({**cell.record, DIGEST: record_digest(cell.record)})
        for cell in results.cells
    }
    if results.manifest is not None:
        files[f"{RECORDS}/{MANIFEST_NAME}"] = _json(results.manifest)
    for relpath, content in results.splits.items():
        files[f"{RECORDS}/{relpath}"] = _json(content)
    return files
