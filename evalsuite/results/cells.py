"""Cell records: write (validated, atomic), read (checked), list, and the resume test.

A cell record is one JSON object with exactly the keys of `evalsuite/schemas/cell.schema.json`
(schema "evalsuite.cell/1"). `metrics` and `roc` are what `evaluation.cell.evaluate_cell` returns
under those keys; `threshold` holds `Threshold.to_dict()` for "image" and "pixel" (or None).

The file also holds `digest`, the SHA-256 of the record's canonical JSON without that key:
`write_cell` adds it, `read_cell(verify=True)` (what `merge` uses) checks it, so a record edited
after it was written is detected. Records in memory never carry it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from evalsuite import atomic, regular
from evalsuite.errors import ResultsError
from evalsuite.results.folder import cell_files
from evalsuite.results.paths import CELLS_DIR, cell_path, cell_relpath
from evalsuite.results.validation import loads_strict, problems

CELL_SCHEMA = "evalsuite.cell/1"
RERUN = "delete it and rerun `evalsuite run` to recompute it"

CellState = Literal["missing", "corrupt", "stale", "failed", "done"]
DIGEST = "digest"


def record_digest(record: dict[str, Any]) -> str:
    """Hex SHA-256 of a record's canonical JSON (sorted keys, no spaces), its `digest` left out."""
    content = {key: value for key, value in record.items() if key != DIGEST}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_cell(out: Path, relpath: PurePosixPath, record: dict[str, Any]) -> Path:
    """Validate a cell record and write it atomically to `<out>/cells/<relpath>`.

    Args:
        out: the results folder.
        relpath: from `cell_relpath`, built from the same fields as the record's.
        record: the cell record.

    Returns:
        the path written.

    Raises:
        ResultsError: the record breaks the schema (naming each field at fault) or does not
            belong at `relpath`. Both are bugs in the code that built the record.
    """
    found = problems(record, "cell")
    if found:
        raise ResultsError(
            f"cell record for {relpath} is invalid: " + "; ".join(found) + "; fix the code that "
            "builds it (the record must follow evalsuite/schemas/cell.schema.json)"
        )
    expected = _relpaths_of(record)
    if relpath not in expected:
        raise ResultsError(
            f"cell record {record['id']} belongs at {' or '.join(map(str, expected))}, not at "
            f"{relpath}; build the path with cell_relpath from the record's fields"
        )
    path = cell_path(out, relpath)
    content = {key: value for key, value in record.items() if key != DIGEST}
    atomic.write_json(path, {**content, DIGEST: record_digest(content)})
    return path


def read_cell(path: Path, verify: bool = False, *, root: Path | None = None) -> dict[str, Any]:
    """Read and check one cell file; the record without its `digest`.

    Args:
        path: the cell file.
        verify: also check the file's `digest` against its content (a record edited by hand,
            or written by an evalsuite without digests, is refused).
        root: the results folder holding it: no folder on the way may be a link.

    Raises:
        ResultsError: naming the file, when it is missing, a link, a FIFO or device, larger
            than `MAX_RECORD_BYTES`, unreadable, not JSON, not an object, of another schema
            version, invalid, or (verify) its digest is absent or wrong; the message ends with
            the fix.
    """
    try:
        text = regular.read_text(path, regular.RESULTS, "cell file", root=root)
    except FileNotFoundError:
        raise ResultsError(f"cell file {path} does not exist; rerun `evalsuite run`") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"cell file {path} cannot be read ({err}); {RERUN}") from err
    try:
        record = loads_strict(text)
    except ValueError as err:
        raise ResultsError(f"cell file {path} is not valid JSON ({err}); {RERUN}") from err
    if not isinstance(record, dict):
        kind = type(record).__name__
        raise ResultsError(f"cell file {path} holds a JSON {kind}, not an object; {RERUN}")
    if record.get("schema") != CELL_SCHEMA:
        raise ResultsError(
            f"cell file {path} has schema {record.get('schema')!r}, expected {CELL_SCHEMA!r} "
            f"(written by another evalsuite version?); {RERUN}"
        )
    found = problems(record, "cell")
    if found:
        raise ResultsError(f"cell file {path} is invalid: {'; '.join(found)}; {RERUN}")
    digest = record.pop(DIGEST, None)
    if verify and digest != record_digest(record):
        what = "has no content digest" if digest is None else "does not match its content digest"
        raise ResultsError(
            f"cell file {path} {what}: it was edited after evalsuite wrote it (or by an older "
            f"version), so its numbers cannot be trusted; {RERUN}"
        )
    return record


def iter_cells(out: Path, verify: bool = False) -> Iterator[tuple[PurePosixPath, dict[str, Any]]]:
    """Every cell of a results folder as (relpath under `cells/`, record), sorted by path;
    `verify` checks each file's digest (see `read_cell`). The folder is checked first: a link,
    FIFO or device in its manifest, `cells/`, `artifacts/` or `splits/` is refused before any
    record is read (see `results.folder`).

    Raises:
        ResultsError: `out` is not a folder, holds a link or a FIFO where records are read, or
            a cell file is corrupt (see `read_cell`).
    """
    if not out.is_dir():
        raise ResultsError(f"results folder {out} does not exist; run `evalsuite run` first")
    root = out / CELLS_DIR
    files = sorted(cell_files(out), key=lambda p: p.relative_to(root).as_posix())
    for path in files:
        yield PurePosixPath(path.relative_to(root).as_posix()), read_cell(path, verify, root=out)


def cell_state(out: Path, relpath: PurePosixPath, cell_id: str) -> CellState:
    """What the runner finds at a cell's path.

    Returns:
        "missing" (no file), "corrupt" (unreadable, not JSON or invalid: `read_cell` says why),
        "stale" (a valid record of another cell id: its inputs changed), "failed" (this cell,
        recorded as failed) or "done" (this cell, ok). Only "done" is skipped on resume; the
        runner recomputes and overwrites the rest, and reports the corrupt ones.
    """
    path = cell_path(out, relpath)
    if not (path.exists() or path.is_symlink()):
        return "missing"
    try:
        record = read_cell(path, root=out)
    except ResultsError:
        return "corrupt"
    if record["id"] != cell_id:
        return "stale"
    return "done" if record["status"] == "ok" else "failed"


def cell_done(out: Path, relpath: PurePosixPath, cell_id: str) -> bool:
    """True when the cell's file holds an ok record of `cell_id`; a missing, corrupt, stale or
    failed file is not done (never an error here)."""
    return cell_state(out, relpath, cell_id) == "done"


def _relpaths_of(record: dict[str, Any]) -> list[PurePosixPath]:
    """The paths a record may have: with its seed, and without (single-seed studies)."""
    sweep = record["sweep"]
    fields = (
        record["label"],
        record["scope"],
        record["regime"],
        record["condition"],
        record["category"],
        None if sweep is None else (sweep["param"], sweep["value"]),
    )
    return [cell_relpath(*fields, seed=None), cell_relpath(*fields, seed=record["seed"])]
