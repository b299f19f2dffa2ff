"""The one-line message of an `OSError` that reached the command line (exit 3).

An error of the environment (a path that cannot be created, read or written; a full disk) is
named with its path and what to do, never shown as a traceback.
"""

from __future__ import annotations

import errno

_HINTS = {
    errno.ENOSPC: "free space, then run the same command again",
    errno.EDQUOT: "free space, then run the same command again",
    errno.EACCES: "choose a path you may write, or fix its permissions",
    errno.EPERM: "choose a path you may write, or fix its permissions",
    errno.EROFS: "the file system is read-only; choose another path",
    errno.ENOENT: "check that the path and its parent folder exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EISDIR: "the path is a folder where a file is expected; choose another path",
    errno.EEXIST: "the path already exists; remove it or choose another path",
}


def os_error_line(error: OSError) -> str:
    """`error: <path>: <reason>; <what to do>` for an OSError (path omitted when unknown)."""
    where = f"{error.filename}: " if error.filename else ""
    if error.filename2:
        where = f"{error.filename} -> {error.filename2}: "
    reason = error.strerror or str(error) or type(error).__name__
    hint = _HINTS.get(error.errno or 0, "check the path and the disk, then run the command again")
    return f"error: {where}{reason}; {hint}"
