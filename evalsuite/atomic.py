"""Atomic file writes: a file is either absent, the old version, or the complete new one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _file_mode() -> int:
    """0666 less the process's umask: the mode `open` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()
"""The mode of a new file (0666 less the umask read at import)."""


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` through a temp file in the same folder and `os.replace`.

    Args:
        path: destination.
        data: the whole content.
        durable: fsync before the rename (results); False for bulk data such as images.

    Raises:
        OSError: the write, flush or rename failed (a full disk...); it names `path`, and the
            temp file is gone, so `path` holds its old content or nothing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, FILE_MODE)  # mkstemp's 0600 would hide results from other users
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temp, path)
    except OSError as error:  # a full disk, a lost mount: name the file meant, not the temp
        Path(temp).unlink(missing_ok=True)
        if error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    """Write JSON (sorted keys, 2-space indent, trailing newline) atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_bytes(path, text.encode("utf-8"))
