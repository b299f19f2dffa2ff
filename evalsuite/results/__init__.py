"""The results format: cell records, the run manifest, their JSON Schemas, paths and merging.

A results folder is the only interface between running and reporting:

```
<out>/manifest.json                      run manifest (schema "evalsuite.manifest/1")
<out>/cells/<label>/<scope>/<regime>/<condition>/<category>[__<param>=<value>][__seed<N>].json
<out>/artifacts/<cell path without .json>/<kind>/<sample id>.png
<out>/artifacts/<cell path without .json>/evidence.npz   per-image pixel evidence (paired diffs)
<out>/fits/<fit_id>/                     fitted models (a cache)
```

The schemas are `evalsuite/schemas/cell.schema.json` and `manifest.schema.json` (draft 2020-12).
"""

from evalsuite.results.cells import (
    CELL_SCHEMA,
    CellState,
    cell_done,
    cell_state,
    iter_cells,
    read_cell,
    record_digest,
    write_cell,
)
from evalsuite.results.manifest import (
    MANIFEST_SCHEMA,
    read_manifest,
    validate_manifest,
    write_manifest,
)
from evalsuite.results.merge import MergeReport, merge
from evalsuite.results.paths import (
    artifact_dir,
    artifact_relpath,
    cell_path,
    cell_relpath,
    evidence_relpath,
    fit_dir,
)

__all__ = [
    "CELL_SCHEMA",
    "MANIFEST_SCHEMA",
    "CellState",
    "MergeReport",
    "artifact_dir",
    "artifact_relpath",
    "cell_done",
    "cell_path",
    "cell_relpath",
    "cell_state",
    "evidence_relpath",
    "fit_dir",
    "iter_cells",
    "merge",
    "read_cell",
    "read_manifest",
    "record_digest",
    "validate_manifest",
    "write_cell",
    "write_manifest",
]
