"""The documented bounds on every input, in one place (docs/guarantees.md, "Bounds checked
before any work").

Each is checked before any work starts, and a value outside it fails with exit 2 naming the key
or option. The bounds keep a hostile or mistyped input from taking minutes, gigabytes or a path
outside the results folder.
"""

from __future__ import annotations

MAX_SEED = 2**32 - 1
"""Seeds feed numpy's and torch's generators: integers 0 to 2**32 - 1."""
MAX_COUNT = 100_000
"""Image counts of the synthetic generator (per category and folder)."""
MAX_BOOTSTRAP = 100_000
"""Bootstrap resamples per cell."""
MAX_ARTIFACTS = 1_000
"""Gallery images per cell."""
MAX_THUMBNAIL_PX = 256
"""Side of a test image's thumbnail (`evaluation.thumbnails`)."""
MAX_SEEDS = 100
"""Seeds per study (each multiplies the cells)."""
MAX_CONFIG_BYTES = 1 << 20
"""A configuration file is at most 1 MiB."""
MAX_NAME_LENGTH = 64
"""Characters of one name that becomes a path component (study name, label, category); a
swept `<param>=<value>` may have twice as many, so a cell file name stays under 255 bytes."""
MAX_IMAGE_PIXELS = 64_000_000
"""Pixels of one dataset image (64 MP; MVTec AD's largest is 1 MP, MVTec AD 2's about 5 MP).
Larger images, and decompression bombs, are refused unread."""
MIN_IMAGE_SIDE = 32
"""Shortest side, in pixels, of a dataset image: the backbone's feature maps and the
MVTec-Shift warp need at least this much."""
MAX_INPUT_SIDE = 4096
"""Largest backbone `resize` / `crop`, in pixels."""
MAX_RECORD_BYTES = 64 << 20
"""A JSON file of a results folder (cell record, manifest, split file) is at most 64 MiB, far
above what a run writes (a record grows by about 120 bytes per test image)."""
MAX_ARTIFACT_BYTES = 256 << 20
"""A file under a results folder's `artifacts/` (heatmap strip, raw map, `evidence.npz`) is at
most 256 MiB."""
MAX_WEIGHTS_BYTES = 16 << 30
"""A backbone weights file is at most 16 GiB (WideResNet-50-2's is 0.27 GiB)."""
MAX_SIGMA = 128.0
"""Largest PatchCore `sigma` (pixels of the anomaly map's Gaussian smoothing). The kernel has
8 * sigma + 1 taps, so smoothing time grows with sigma (0.13 s per 224-px map at 128; a sigma of
1e7 would take hours per map, 1e9 runs out of memory); 128 covers the paper's 4 scaled to the
largest input side (4 * 4096 / 224 = 73)."""
MAX_SHARDS = 10_000
"""Largest n of `run --shard i/n`."""
