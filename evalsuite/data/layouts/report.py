"""What `evalsuite data check` adds for an MVTec AD 2 or VisA tree beyond the counts table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from evalsuite.data.samples import Dataset
from evalsuite.data.skipped import skip_reason


def layout_lines(dataset: Dataset) -> list[str]:
    """Lines on the tree's layout: for MVTec AD 2, the images per acquisition condition and the
    unlabelled private test images per category; for VisA, the split file read."""
    if dataset.layout == "visa":
        from evalsuite.data.layouts.common import Markers
        from evalsuite.data.layouts.visa import split_file

        return [f"split: {split_file(dataset.root, Markers(dataset.root))} (the 1cls split)"]
    from evalsuite.data.layouts.mvtec_ad2 import PRIVATE

    lines = []
    for category in dataset.categories:
        tally = Counter(s.condition or "(none)" for s in dataset.of_category(category))
        listed = ", ".join(f"{name} {number}" for name, number in sorted(tally.items()))
        lines.append(f"{category}: conditions {listed}")
        private = [
            f"{split} {_count(dataset.root / category / split)}"
            for split in PRIVATE
            if (dataset.root / category / split).is_dir()
        ]
        if private:
            lines.append(f"{category}: unlabelled (not scored here) {', '.join(private)}")
    return lines


def _count(folder: Path) -> int:
    """How many images a folder holds (the files the reader would read)."""
    return sum(1 for path in folder.iterdir() if skip_reason(path) is None)
