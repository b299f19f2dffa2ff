"""The image explorer: every test image of a cell, one row each, with its thumbnails (image as
the detector saw it, anomaly map, ground truth; `runner.writing.thumbnails`), label, defect
type, the cell's score and its outcome at the cell's image threshold (chosen on val), the
score's change under shift, the image's MVTec-Shift draw, and its score in every baseline cell
of the same category and seed.

One page per finished cell (`explorer/<cell page name>`); the rows link by their `anchor` (the
cell pages, galleries and strips link to them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import MVTEC_SHIFT, tree_name
from evalsuite.results.paths import sanitise
from evalsuite.results.splits import tree_relpath
from evalsuite.site.read.records import Cell, CellKey, GroupKey, Results
from evalsuite.site.views.attribution_cells import SWEEP_PARAM
from evalsuite.site.views.attribution_params import ENCODINGS, mixed_draws

OUTCOMES = {(1, True): "TP", (1, False): "FN", (0, True): "FP", (0, False): "TN"}
"""(label, predicted anomalous) -> outcome at the image threshold (`score >= threshold`)."""
SCORE_COLUMN = 4
OUTCOME_COLUMN = 5
DELTA_COLUMN = 6
LABEL_COLUMN = 2
"""Column indexes of the explorer's table (the presets sort and filter by them)."""
TABLE_ID = "x"
"""The table's id: the prefix of its state in the URL (`assets/tables.js`)."""


def explorer_path(cell: Cell) -> str:
    """The explorer page of a cell: `explorer/<the name of its cell page>`."""
    return "explorer/" + cell.page.removeprefix("cells/")


def row_anchor(sample: str) -> str:
    """The id of an image's row: `i-` and its id with every character outside
    `[A-Za-z0-9._+-]` as `-` ("/" as "--")."""
    return "i-" + sanitise(sample.replace("/", "--")).replace("=", "-")


def image_link(cell: Cell, sample: str) -> str:
    """The link from the site's root to an image's row in its cell's explorer."""
    return f"{explorer_path(cell)}#{row_anchor(sample)}"


def has_explorer(cell: Cell) -> bool:
    """Whether a cell has an explorer page: finished, with per-image scores."""
    return cell.ok and bool(cell.record.get("scores"))


@dataclass(frozen=True)
class Thumbs:
    """A cell's thumbnail sprites (paths from the site's root) and their tile size in px.

    Attributes:
        scale: the map colours' (low, high) in anomaly-score units (chosen on val).
    """

    images: str
    maps: str
    masks: str | None
    px: int
    scale: tuple[float, float]


@dataclass(frozen=True)
class Row:
    """One test image.

    Attributes:
        anchor: the row's id.
        tile: its tile's index in the sprites (its place in the record's `scores`).
        outcome: TP, FN, FP or TN at the cell's image threshold.
        delta: the score's change under shift as text ("" without the paired cell).
        params: its MVTec-Shift draw as text ("" without one).
        others: its score in each of the page's `columns` ("" where absent).
    """

    anchor: str
    tile: int
    sample: str
    label: str
    defect: str
    score: str
    outcome: str
    delta: str
    params: str
    others: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """A baseline cell whose scores a column shows: its title and its explorer page."""

    title: str
    path: str
    current: bool


@dataclass(frozen=True)
class Explorer:
    """One cell's explorer page."""

    cell: Cell
    path: str
    threshold: float | None
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    thumbs: Thumbs | None
    delta_title: str
    counts: tuple[tuple[str, int], ...]
    presets: tuple[tuple[str, str], ...]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.5g}".replace("-", "−")


def _scores(cell: Cell | None) -> dict[str, float]:
    if cell is None or not cell.ok:
        return {}
    return {s["id"]: s["score"] for s in cell.record.get("scores") or ()}


def _thumbs(cell: Cell) -> Thumbs | None:
    found = cell.record.get("thumbnails")
    if not found:
        return None
    low, high = found["scale"]
    return Thumbs(found["images"], found["maps"], found["masks"], found["px"], (low, high))


def _paired(cell: Cell, index: Mapping[CellKey, Cell]) -> tuple[Cell | None, bool]:
    """The cell a score change pairs this one with (clean/none for a shifted cell, shift/none
    for a clean one; the same sweep value where it exists, else the baseline's), and whether
    this cell is the shifted side."""
    g = cell.key.group
    shifted = g.condition == "shift"
    kind = "clean/none" if shifted else "shift/none"
    for sweep in (g.sweep, None):
        key = CellKey(GroupKey(g.label, g.scope, kind, g.category, sweep), cell.key.seed)
        if key in index:
            return index[key], shifted
    return None, shifted


def _params(draw: Mapping[str, Any] | None) -> str:
    """An image's MVTec-Shift draw, one number per factor (`attribution_params.ENCODINGS`)."""
    if not draw:
        return ""
    parts = []
    for factor, (_name, value_of) in ENCODINGS.items():
        try:
            parts.append(f"{factor} {value_of(draw):.2g}")
        except (KeyError, TypeError, ValueError, IndexError):
            continue
    return ", ".join(parts)


def _draws(results: Results, cell: Cell) -> Mapping[str, Any]:
    """The per-image MVTec-Shift draws of the tree a cell's shift reads (the mixed shift at its
    severity, or its shift variant's); empty for another family or without the file."""
    shift = (cell.record.get("config") or {}).get("shift") or {}
    severity, factors = shift.get("severity"), shift.get("factors") or [ALL]
    if not isinstance(severity, int) or shift.get("family", MVTEC_SHIFT) != MVTEC_SHIFT:
        return {}
    if factors[0] == ALL:
        return mixed_draws(results, severity)
    content = results.splits.get(str(tree_relpath(tree_name(severity, factors[0]))))
    images = content.get("images") if isinstance(content, dict) else None
    return images if isinstance(images, dict) else {}


def presets(has_shift: bool) -> tuple[tuple[str, str], ...]:
    """(title, URL fragment) of the views one click away."""
    t, score, label, delta = TABLE_ID, SCORE_COLUMN, LABEL_COLUMN, DELTA_COLUMN
    found = [
        ("worst false negatives", f"{t}.f{label}=anomalous&{t}.s={score}a"),
        ("worst false positives", f"{t}.f{label}=normal&{t}.s={score}d"),
    ]
    if has_shift:
        found += [
            ("largest drops under shift", f"{t}.s={delta}a"),
            ("largest rises under shift", f"{t}.s={delta}d"),
        ]
    return tuple(found)


def _column_cell(group: GroupKey) -> bool:
    """Whether a cell's scores are a column of its category's explorers: the study's baseline
    cells and its shift variants (`shift.factors`), not the other sweeps' cells."""
    return group.sweep is None or group.sweep[0] == SWEEP_PARAM


def _title(group: GroupKey) -> str:
    """A column's title: detector, scope, condition/regime (and shift variant)."""
    title = f"{group.label} {group.scope} {group.kind}"
    return title if group.sweep is None else f"{title} {group.sweep[1]}"


def explorer(cell: Cell, results: Results, index: Mapping[CellKey, Cell]) -> Explorer:
    """The explorer of one finished cell (see `has_explorer`)."""
    record = cell.record
    image_t = (record.get("threshold") or {}).get("image")
    threshold = None if image_t is None else float(image_t["value"])
    paired, shifted = _paired(cell, index)
    other = _scores(paired)
    draws = _draws(results, cell)
    g = cell.key.group
    baseline = sorted(
        (
            c
            for c in results.cells
            if c.key.group.category == g.category
            and _column_cell(c.key.group)
            and c.key.seed == cell.key.seed
            and has_explorer(c)
        ),
        key=lambda c: c.key.order(),
    )
    columns = tuple(Column(_title(c.key.group), explorer_path(c), c is cell) for c in baseline)
    others = [_scores(c) for c in baseline]
    rows = []
    for tile, entry in enumerate(record["scores"]):
        sample, score = entry["id"], float(entry["score"])
        outcome = "" if threshold is None else OUTCOMES[(entry["label"], score >= threshold)]
        delta = None
        if sample in other:
            delta = score - other[sample] if shifted else other[sample] - score
        rows.append(
            Row(
                anchor=row_anchor(sample),
                tile=tile,
                sample=sample,
                label="anomalous" if entry["label"] else "normal",
                defect=entry["defect"],
                score=_number(score),
                outcome=outcome,
                delta=_number(delta),
                params=_params(draws.get(sample)),
                others=tuple(_number(scores.get(sample)) for scores in others),
            )
        )
    counts = tuple((name, sum(r.outcome == name for r in rows)) for name in ("FN", "FP"))
    return Explorer(
        cell=cell,
        path=explorer_path(cell),
        threshold=threshold,
        rows=tuple(rows),
        columns=columns,
        thumbs=_thumbs(cell),
        delta_title="shift − clean",
        counts=counts,
        presets=presets(paired is not None),
    )


def explorers(results: Results) -> list[Explorer]:
    """The explorer of every finished cell with scores, in the site's order."""
    index = {cell.key: cell for cell in results.cells}
    cells = sorted((c for c in results.cells if has_explorer(c)), key=lambda c: c.key.order())
    return [explorer(cell, results, index) for cell in cells]


def thumbnail_files(results: Results) -> list[str]:
    """Every thumbnail sprite a record names whose file exists, sorted (the site copies them)."""
    paths: set[str | None] = set()
    for cell in results.cells:
        found = cell.record.get("thumbnails") or {}
        paths.update(found.get(key) for key in ("images", "maps", "masks"))
    return sorted(p for p in paths if isinstance(p, str) and (results.source / p).is_file())
