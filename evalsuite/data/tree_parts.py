"""What every tree reader shares (MVTec's in `reader`, the other layouts' in `layouts`): the
report type, a folder's images, the marker files and the sample-id clash check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalsuite.data.samples import Dataset, Sample
from evalsuite.data.skipped import SkippedFile, skip_reason
from evalsuite.errors import DatasetError
from evalsuite.results.paths import sanitise

SHIFT_MARKER = "evalsuite-shift.json"


@dataclass
class CheckReport:
    """What `check_dataset` found: the dataset (if it could be read) and every problem."""

    dataset: Dataset | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def folder_images(folder: Path, skipped: list[SkippedFile]) -> list[Path]:
    """The images of an image folder, sorted; every other entry goes to `skipped`."""
    images = []
    for path in sorted(folder.iterdir()):
        reason = skip_reason(path)
        if reason is None:
            images.append(path)
        else:
            skipped.append(SkippedFile(path, reason))
    return images


def read_marker_file(path: Path) -> dict[str, object] | None:
    """The JSON object of a marker file at `path`, None when there is none."""
    if not path.exists():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(
            f"{path}: corrupt marker file ({error}); delete it or regenerate the tree"
        ) from error
    if not isinstance(content, dict):
        raise DatasetError(f"{path}: marker file must hold a JSON object; regenerate the tree")
    return content


def name_clashes(samples: Sequence[Sample]) -> list[str]:
    """One problem per group of images that would share a sample id or an artifact file name:
    `000.png` beside `000.jpg` (one id), `g 0.png` beside `g#0.png` (one sanitised name)."""
    groups: dict[str, list[Path]] = {}
    for sample in samples:
        groups.setdefault(sanitise(sample.id.replace("/", "__")), []).append(sample.path)
    return [
        f"{', '.join(str(p) for p in paths)}: these images would share the sample id or file "
        f"name {name!r} in results (ids drop the suffix, other characters than letters, digits, "
        "'.', '_', '=', '+' and '-' become '-'); rename all but one"
        for name, paths in sorted(groups.items())
        if len(paths) > 1
    ]
