"""The run manifest `<out>/manifest.json`: configuration, environment, dataset, counts, failures.

Its keys are those of `evalsuite/schemas/manifest.schema.json` (schema "evalsuite.manifest/1").
Beyond the schema: `cells_ok + cells_failed == cells_total`, `failed` lists `cells_failed`
entries, cached counts do not exceed their totals, and each shard "i/n" has 1 <= i <= n.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite import atomic, regular
from evalsuite.errors import ResultsError
from evalsuite.results.paths import MANIFEST_NAME
from evalsuite.results.validation import loads_strict, problems

MANIFEST_SCHEMA = "evalsuite.manifest/1"


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Check a manifest against its schema and the rules above.

    Raises:
        ResultsError: naming each field at fault.
    """
    found = manifest_problems(manifest)
    if found:
        raise ResultsError(
            "manifest is invalid: " + "; ".join(found) + "; fix the code that builds it "
            "(it must follow evalsuite/schemas/manifest.schema.json)"
        )


def manifest_problems(manifest: Any) -> list[str]:
    """What is wrong with a manifest, one line per problem naming the field; [] when valid."""
    found = problems(manifest, "manifest")
    if found:
        return found
    counts = manifest["counts"]
    done = counts["cells_ok"] + counts["cells_failed"]
    if done != counts["cells_total"]:
        found.append(
            f"field `counts`: cells_ok + cells_failed = {done}, not cells_total "
            f"{counts['cells_total']}"
        )
    if len(manifest["failed"]) != counts["cells_failed"]:
        found.append(
            f"field `failed`: {len(manifest['failed'])} entries, but counts.cells_failed is "
            f"{counts['cells_failed']}"
        )
    for cached, total in (("cells_cached", "cells_total"), ("fits_cached", "fits")):
        if counts[cached] > counts[total]:
            found.append(f"field `counts.{cached}`: {counts[cached]} exceeds {total}")
    for shard in manifest["shards"] or []:
        index, of = (int(part) for part in shard.split("/"))
        if index > of:
            found.append(f"field `shards`: shard {shard!r} has index above its total")
    return found


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    """Validate a manifest and write it atomically to `<out>/manifest.json`; returns the path.

    Raises:
        ResultsError: the manifest is invalid (a bug in the code that built it).
    """
    validate_manifest(manifest)
    path = out / MANIFEST_NAME
    atomic.write_json(path, manifest)
    return path


def read_manifest(out: Path) -> dict[str, Any]:
    """Read and check `<out>/manifest.json`.

    Raises:
        ResultsError: naming the file, when it is missing, a link, a FIFO or device, larger
            than `MAX_RECORD_BYTES`, not JSON, of another schema version or invalid.
    """
    path = out / MANIFEST_NAME
    try:
        manifest = loads_strict(regular.read_text(path, regular.RESULTS, "manifest"))
    except FileNotFoundError:
        raise ResultsError(
            f"{path} does not exist: {out} is not a finished results folder; "
            "run `evalsuite run` (or `evalsuite merge`) into it"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ResultsError(
            f"{path} cannot be read as JSON ({err}); rerun `evalsuite run` to rewrite it"
        ) from err
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        found = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise ResultsError(
            f"{path} is not a {MANIFEST_SCHEMA!r} manifest (found {found!r}); "
            "rerun `evalsuite run` with this evalsuite version to rewrite it"
        )
    found_problems = manifest_problems(manifest)
    if found_problems:
        raise ResultsError(
            f"{path} is invalid: {'; '.join(found_problems)}; rerun `evalsuite run` to rewrite it"
        )
    return manifest
