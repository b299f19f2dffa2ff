"""The `--json` file of `evalsuite diff`: checked before the comparison, written after it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from evalsuite import atomic, outputs
from evalsuite.results.diff import RunDiff
from evalsuite.results.diff_report import DIFF_SCHEMA, diff_json


def check_json_file(path: Path, base: Path, new: Path, force: bool) -> None:
    """Refuse, before any work, a JSON file inside BASE or NEW (or holding them), or an existing
    file that is not a diff JSON unless `force`.

    Raises:
        OutputError: as `outputs.check_places` and `outputs.check_replaceable` (exit 2).
    """
    outputs.check_places([("--json", path)], [("BASE", base), ("NEW", new)])
    own = outputs.json_with_schema(DIFF_SCHEMA.split("/")[0] + "/")
    outputs.check_replaceable(path, "--json", own, "a diff JSON", force)


def write_json_file(path: Path, diff: RunDiff) -> None:
    """Write `diff` as JSON to `path`, atomically.

    Raises:
        OSError: it cannot be written, named by `path` itself (not the temporary file beside
            it); a part of the path that is a file reads as "Not a directory".
    """
    try:
        atomic.write_json(path, diff_json(diff))
    except OSError as error:  # the environment (exit 3), named by the path asked for
        # its folder cannot be made because a part of the path is a file
        code = errno.ENOTDIR if isinstance(error, FileExistsError) else error.errno
        reason = os.strerror(code) if code is not None else str(error)
        raise OSError(code, reason, str(path)) from error
