"""The results format: cell records, the run manifest, their JSON Schemas, paths and merging.

A results folder is the only interface between running and reporting:

```
<out>/manifest.json                      run manifest (schema "evalsuite.manifest/1")
<out>/cells/<label>/<scope>/<regime>/<condition>/<category>[__<param>=<value>][__seed<N>].json
<out>/artifacts/<cell path without .json>/<kind>/<sample id>.png      heatmap strip (`heatmap`)
<out>/artifacts/<cell path without .json>/<kind>/<sample id>.map.png  its raw anomaly map
<out>/artifacts/<cell path without .json>/evidence.npz   per-image pixel evidence (paired diffs)
<out>/artifacts/<cell path without .json>/thumbnails.maps.png  map thumbnails (explorer)
<out>/artifacts/thumbnails/test-sets/<category>/<key>.images.jpg  image (and .masks.png) thumbnails
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
    check_name,
    evidence_relpath,
    fit_dir,
    shared_thumbnail_relpath,
    thumbnail_maps_relpath,
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
    "check_name",
    "evidence_relpath",
    "fit_dir",
    "iter_cells",
    "merge",
    "read_cell",
    "read_manifest",
    "record_digest",
    "shared_thumbnail_relpath",
    "thumbnail_maps_relpath",
    "validate_manifest",
    "write_cell",
    "write_manifest",
]
