"""Merge shard results folders into one: records are keyed, not ordered, so a union is exact.

Everything is checked before anything is written: a conflict leaves `out` untouched. Conflicts:
the same cell path with different ids, the same cell id with a different status or different
metric values, the same shard in two sources, or manifests that disagree on what was studied
(study, config, seeds, dataset, weights, planned cells), or a cell file that does not match its
content digest (edited after it was written). Identical duplicates are kept once, and counted
once: the merged manifest's cell counts and failures are those of the merged cells. The report
lists the cells the manifests plan (`planned`: the whole study, every shard) that no source
holds (a shard that never arrived); the merged folder is written all the same. Fitted models
(`fits/`) are a cache and are not copied; each cell's artifacts are, with the thumbnails it
shares with other cells (its record's `thumbnails`). A source holding a link, FIFO or device
where records are read is refused (see `results.folder`): no link is followed, so nothing from
outside a source is ever copied into the merged folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite import atomic, regular
from evalsuite.errors import ResultsError
from evalsuite.outputs import check_places
from evalsuite.owned import owned_tree
from evalsuite.results.cells import iter_cells
from evalsuite.results.manifest import read_manifest, validate_manifest
from evalsuite.results.paths import (
    CELLS_DIR,
    MANIFEST_NAME,
    artifact_dir,
    cell_path,
    check_relpath,
)
from evalsuite.results.splits import named_files

SAME_STUDY = ("study", "config", "seeds", "dataset", "weights", "planned")
"""Manifest keys every source must agree on."""
ENVIRONMENT = ("versions", "git_commit", "platform")
"""Manifest keys that may differ between sources; the first source's value is kept."""


@dataclass(frozen=True)
class MergeReport:
    """What `merge` did.

    Attributes:
        sources: folders merged.
        cells: cell files written to `out`.
        duplicates: identical copies of a cell found in a later source and skipped.
        artifacts: artifact files copied.
        shards: the shards "i/n" the merged folder holds (empty when no source was a shard).
        mixed: ENVIRONMENT keys whose values differed between sources.
        missing: the planned cells (paths under `cells/`, from the manifests' `planned`) that
            no source holds, sorted.
    """

    sources: int
    cells: int
    duplicates: int
    artifacts: int
    shards: tuple[str, ...]
    mixed: tuple[str, ...]
    missing: tuple[PurePosixPath, ...]


@dataclass(frozen=True)
class _Seen:
    """A cell file as found in a source: where, and what decides whether copies agree."""

    source: Path
    relpath: PurePosixPath
    id: str
    outcome: tuple[str, tuple[tuple[str, Any], ...] | None]
    error: str | None

    @property
    def file(self) -> Path:
        return cell_path(self.source, self.relpath)


def merge(sources: Sequence[Path], out: Path) -> MergeReport:
    """Merge the results folders `sources` (shards of one study) into `out`.

    Args:
        sources: results folders, each with a manifest (all with the same `planned`); earlier
            ones win among identical copies.
        out: the merged folder; it must not hold results yet (nor be a file).

    Returns:
        the counts of what was merged.

    Raises:
        ResultsError: listing every conflict (nothing is written), or naming a source that is
            not a results folder or a cell file whose digest does not match.
    """
    _check_target(sources, out)
    manifests = [read_manifest(source) for source in sources]
    for source, manifest in zip(sources, manifests, strict=True):
        if "planned" not in manifest:  # written before the manifest listed the study's cells
            raise ResultsError(
                f"{source / MANIFEST_NAME} has no `planned` (the cells of the study), so an "
                "earlier evalsuite wrote it and merge cannot tell which cells are missing; "
                "rerun `evalsuite run` for that shard with this evalsuite version"
            )
    conflicts = _manifest_conflicts(sources, manifests)
    picked, duplicates, cell_conflicts = _collect_cells(sources)
    conflicts += cell_conflicts
    if conflicts:
        raise ResultsError(
            f"cannot merge {len(sources)} results folders into {out}; nothing was written:\n  "
            + "\n  ".join(conflicts)
            + "\nleave out the folder with the stale results (or delete its conflicting cell "
            "files and rerun that shard), then merge again"
        )
    merged = _merged_manifest(manifests, picked)
    validate_manifest(merged)
    artifacts = 0
    copied: set[str] = set()
    with owned_tree(out, None, "evalsuite merge", force=True) as staging:  # all or nothing
        for seen in picked:
            content = regular.read_bytes(seen.file, regular.RESULTS, "cell file", root=seen.source)
            atomic.write_bytes(cell_path(staging, seen.relpath), content)
            artifacts += _copy_artifacts(seen.source, staging, seen.relpath)
            artifacts += _copy_shared(seen.source, staging, content, copied)
        for relpath in named_files(merged):  # the same splits and shifts in every source
            split = regular.read_bytes(
                sources[0] / relpath, regular.RESULTS, "split file", root=sources[0]
            )
            atomic.write_bytes(staging / relpath, split)
        atomic.write_json(staging / MANIFEST_NAME, merged)
    return MergeReport(
        sources=len(sources),
        cells=len(picked),
        duplicates=duplicates,
        artifacts=artifacts,
        shards=tuple(merged["shards"] or ()),
        mixed=tuple(
            key for key in ENVIRONMENT if any(m[key] != manifests[0][key] for m in manifests)
        ),
        missing=_missing(merged["planned"], picked),
    )


def _missing(
    planned: Sequence[dict[str, Any]], picked: Sequence[_Seen]
) -> tuple[PurePosixPath, ...]:
    """The planned cells (paths under `cells/`) that no merged cell file holds, sorted."""
    present = {seen.relpath for seen in picked}
    paths = {PurePosixPath(entry["path"]) for entry in planned}
    return tuple(sorted(paths - present, key=str))


def _merged_manifest(
    manifests: Sequence[dict[str, Any]], picked: Sequence[_Seen]
) -> dict[str, Any]:
    """One manifest for the union of the sources (assumed to agree on SAME_STUDY): cell counts
    and failures those of the merged cells `picked` (each counted once; cached cells at most
    all of them), other counts summed, shards listed, ENVIRONMENT from the first, `created` the
    earliest start and `wall_time_s` the span from it to the latest end."""
    first = manifests[0]
    starts = [datetime.fromisoformat(m["created"]) for m in manifests]
    ends = [
        start + timedelta(seconds=m["wall_time_s"])
        for start, m in zip(starts, manifests, strict=True)
    ]
    shards = [shard for m in manifests for shard in m["shards"] or ()]
    merged = {key: first[key] for key in ("schema", *SAME_STUDY, *ENVIRONMENT)}
    failed = [
        {"path": str(seen.relpath), "error": seen.error or ""}
        for seen in sorted(picked, key=lambda seen: str(seen.relpath))
        if seen.outcome[0] == "failed"
    ]
    counts = _summed_counts([m["counts"] for m in manifests])
    counts.update(
        cells_total=len(picked),
        cells_ok=len(picked) - len(failed),
        cells_failed=len(failed),
        cells_cached=min(counts["cells_cached"], len(picked)),
    )
    merged.update(
        created=min(starts).isoformat(),
        wall_time_s=(max(ends) - min(starts)).total_seconds(),
        counts=counts,
        failed=failed,
        shards=sorted(shards, key=_shard_order) if shards else None,
    )
    for key in ("splits", "shift_parameters"):
        if key in first:
            merged[key] = first[key]
    return merged


def _summed_counts(counts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The counts of several manifests summed key by key (a count per label, as
    `raw_image_passes`, label by label), in the first manifest's keys."""
    summed: dict[str, Any] = {}
    for key, value in counts[0].items():
        if isinstance(value, dict):
            labels: dict[str, int] = {}
            for each in counts:
                for label, count in each.get(key, {}).items():
                    labels[label] = labels.get(label, 0) + count
            summed[key] = dict(sorted(labels.items()))
        else:
            summed[key] = sum(each.get(key, 0) for each in counts)
    return summed


def _check_target(sources: Sequence[Path], out: Path) -> None:
    if not sources:
        raise ResultsError("nothing to merge: give at least one results folder")
    if out.exists() and not out.is_dir():
        raise ResultsError(f"--out {out} is a file, not a folder; give a new or empty folder")
    check_places([("--out", out)], [("the results folder", source) for source in sources])
    resolved = [source.resolve() for source in sources]
    if (out / MANIFEST_NAME).exists() or (out / CELLS_DIR).exists():
        raise ResultsError(f"{out} already holds results; merge into a new or empty folder")
    if len(set(resolved)) != len(resolved):
        raise ResultsError("a results folder is given twice; give each source once")


def _manifest_conflicts(sources: Sequence[Path], manifests: Sequence[dict[str, Any]]) -> list[str]:
    """Disagreements on what was studied, and shards present in two sources."""
    conflicts = []
    first = sources[0] / MANIFEST_NAME
    for source, manifest in zip(sources[1:], manifests[1:], strict=True):
        for key in SAME_STUDY:
            if manifest[key] != manifests[0][key]:
                conflicts.append(f"`{key}` differs between {first} and {source / MANIFEST_NAME}")
    holder: dict[str, Path] = {}
    for source, manifest in zip(sources, manifests, strict=True):
        for shard in manifest["shards"] or ():
            if shard in holder:
                conflicts.append(f"shard {shard} is in both {holder[shard]} and {source}")
            holder.setdefault(shard, source)
    return conflicts


def _collect_cells(sources: Sequence[Path]) -> tuple[list[_Seen], int, list[str]]:
    """The cell files to copy (first copy of each path), the identical duplicates skipped, and
    the conflicts found."""
    by_path: dict[PurePosixPath, _Seen] = {}
    by_id: dict[str, _Seen] = {}
    duplicates = 0
    conflicts: list[str] = []
    for source in sources:
        for relpath, record in iter_cells(source, verify=True):
            error = record["error"]["message"] if record["error"] else None
            seen = _Seen(source, relpath, record["id"], _outcome(record), error)
            earlier = by_path.get(relpath) or by_id.get(seen.id)
            if earlier is not None and earlier.id != seen.id:
                conflicts.append(f"{earlier.file} (id {earlier.id}) vs {seen.file} (id {seen.id})")
            elif earlier is not None and earlier.outcome != seen.outcome:
                conflicts.append(
                    f"{earlier.file} vs {seen.file}: cell {seen.id} has a different status or "
                    "different metric values"
                )
            elif earlier is not None and earlier.relpath == relpath:
                duplicates += 1
                continue
            by_path.setdefault(relpath, seen)
            by_id.setdefault(seen.id, seen)
    return list(by_path.values()), duplicates, conflicts


def _outcome(record: dict[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...] | None]:
    """The status and metric values of a record: what two copies of one cell must share."""
    metrics = record["metrics"]
    if metrics is None:
        return record["status"], None
    return record["status"], tuple(sorted((name, m["value"]) for name, m in metrics.items()))


def _copy_artifacts(source: Path, out: Path, relpath: PurePosixPath) -> int:
    """Copy a cell's artifacts folder (skipping temp files of interrupted writes); the count.

    Raises:
        ResultsError: a link, FIFO or device in it (none is followed or copied).
    """
    folder = artifact_dir(relpath)
    copied = 0
    for path in regular.walk_files(source / folder, regular.ARTIFACT):
        if path.name.endswith(".tmp"):
            continue
        target = out / folder / path.relative_to(source / folder)
        content = regular.read_bytes(path, regular.ARTIFACT, "artifact", root=source)
        atomic.write_bytes(target, content, durable=False)
        copied += 1
    return copied


def _copy_shared(source: Path, out: Path, record: bytes, copied: set[str]) -> int:
    """Copy the thumbnails a cell shares with others (`record`'s `thumbnails`: images and
    masks outside its own folder), once each; the count.

    Raises:
        ResultsError: a link, FIFO or device where one is (none is followed or copied).
    """
    thumbnails = json.loads(record).get("thumbnails") or {}
    count = 0
    for key in ("images", "masks"):
        relpath = thumbnails.get(key)
        if not isinstance(relpath, str) or relpath in copied:
            continue
        shared = check_relpath(PurePosixPath(relpath), PurePosixPath(relpath).suffix)
        if not (source / shared).is_file():
            continue
        content = regular.read_bytes(source / shared, regular.ARTIFACT, "thumbnails", root=source)
        atomic.write_bytes(out / shared, content, durable=False)
        copied.add(relpath)
        count += 1
    return count


def _shard_order(shard: str) -> tuple[int, int]:
    index, total = shard.split("/")
    return int(total), int(index)
