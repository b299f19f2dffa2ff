"""The nightly's job summary, run by the merge job after `evalsuite merge` and `evalsuite diff`.

Reads `shards/shard-*/manifest.json` (the shards that arrived), `results/nightly` (the merged
night) and `diff.json` (the comparison with the last published night, absent on the first
night). Writes Markdown to $GITHUB_STEP_SUMMARY: cell counts, failed shards, missing cells,
failed cells and what changed since the baseline (regressions first); and `failed`, `missing`,
`regressed` and `failed_shards` to $GITHUB_OUTPUT for the verdict job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from evalsuite.results import iter_cells, read_manifest

MERGED = Path("results/nightly")
MOST_ROWS = 50
"""At most this many cells per table (the site and diff.json hold all of them)."""


def escape(text: str) -> str:
    """One line of text fit for a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def failed_shards() -> tuple[list[str], list[str]]:
    """The shards "i/n" that arrived and those that did not (n read from those that did)."""
    arrived: dict[int, int] = {}
    for path in sorted(Path("shards").glob("shard-*/manifest.json")):
        for shard in json.loads(path.read_text(encoding="utf-8"))["shards"] or []:
            index, total = (int(part) for part in shard.split("/"))
            arrived[index] = total
    total = max(arrived.values(), default=0)
    names = [f"{i}/{total}" for i in range(1, total + 1)]
    return [n for n in names if int(n.split("/")[0]) in arrived], [
        n for n in names if int(n.split("/")[0]) not in arrived
    ]


def change_lines(diff: dict[str, Any]) -> list[str]:
    """The comparison with the baseline: counts, then a table of the cells that moved."""
    counts = {status: number for status, number in diff["counts"].items() if number}
    text = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())
    lines = [
        "",
        f"### Changes since the night of {diff['base']['created']}",
        "",
        f"{text or 'no cell'} (min delta {diff['min_delta']}).",
    ]
    moved = [cell for cell in diff["cells"] if cell["status"] != "unchanged"]
    if moved:
        lines += ["", "| status | cell | moved | what changed |", "| --- | --- | --- | --- |"]
    for cell in moved[:MOST_ROWS]:
        key = cell["key"]
        name = f"{key['label']} {key['scope']} {key['regime']}/{key['condition']} {key['category']}"
        if key["sweep"]:
            name += f" [{key['sweep']['param']}={key['sweep']['value']}]"
        deltas = [
            f"{m['metric']} {m['delta']:+.4f}"
            + (f" [{m['ci95'][0]:+.4f}, {m['ci95'][1]:+.4f}]" if m["ci95"] else "")
            for m in cell["metrics"]
            if m["delta"]
        ]
        what = [f"{c['kind']} {c['key']}: {c['base']} -> {c['new']}" for c in cell["changes"]]
        moved_text = "; ".join(deltas) or escape(cell["error"] or "")
        lines.append(
            f"| {cell['status']} | `{name}` | {escape(moved_text)} | {escape('; '.join(what))} |"
        )
    if len(moved) > MOST_ROWS:
        lines.append(f"\n{len(moved) - MOST_ROWS} more on the site's Changes page.")
    return lines


def main() -> None:
    manifest = read_manifest(MERGED)
    counts, failed = manifest["counts"], manifest["failed"]
    arrived, lost = failed_shards()
    present = {relpath for relpath, _ in iter_cells(MERGED)}
    planned = [PurePosixPath(entry["path"]) for entry in manifest["planned"]]
    missing = [path for path in planned if path not in present]
    lines = [
        f"## evalsuite nightly: {manifest['study']}",
        "",
        f"{counts['cells_ok']} of {counts['cells_total'] + len(missing)} planned cells ok, "
        f"{counts['cells_failed']} failed, {len(missing)} missing, from shards "
        f"{', '.join(arrived) or 'none'}.",
    ]
    if lost:
        lines += ["", f"**Failed shards** (never arrived): {', '.join(lost)}."]
    if missing:
        lines += ["", f"### Missing cells ({len(missing)})", ""]
        lines += [f"- `{path}`" for path in missing[:MOST_ROWS]]
    if failed:
        lines += ["", "### Failed cells", "", "| cell | error |", "| --- | --- |"]
        lines += [f"| `{cell['path']}` | {escape(cell['error'])} |" for cell in failed]
    regressed = 0
    if Path("diff.json").is_file():
        diff = json.loads(Path("diff.json").read_text(encoding="utf-8"))
        regressed = diff["counts"]["regressed"]
        lines += change_lines(diff)
    else:
        lines += [
            "",
            "First night: no baseline (no earlier night of this preset and branch), "
            "so nothing to compare with.",
        ]
    with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
        summary.write("\n".join(lines) + "\n")
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
        output.write(
            f"failed={len(failed)}\nmissing={len(missing)}\nregressed={regressed}\n"
            f"failed_shards={' '.join(lost)}\n"
        )


if __name__ == "__main__":
    main()
