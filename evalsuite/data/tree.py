"""Writing a dataset tree all-or-nothing: build it in a staging folder, rename it into place."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evalsuite.errors import ConfigError


def existing_matches(out: Path, marker: str, identity: dict[str, object], kind: str) -> bool:
    """Whether `out` already holds a tree written with the same identity (then skip the work).

    Args:
        out: the tree's folder.
        marker: the marker file the writer puts at the tree's root.
        identity: keys the marker must hold with these values.
        kind: what the tree is called in messages, e.g. "a synthetic tree".

    Raises:
        ConfigError: `out` is a file, or a non-empty folder that is not such a tree.
    """
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder; choose another output folder")
    if not any(out.iterdir()):
        return False
    if _holds(out, marker, identity):
        return True
    what = f"{kind} made with other parameters" if (out / marker).is_file() else f"not {kind}"
    raise ConfigError(
        f"{out}: folder is not empty and is {what}; choose another folder or delete it"
    )


def _holds(out: Path, marker: str, identity: dict[str, object]) -> bool:
    try:
        content = json.loads((out / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and all(content.get(k) == v for k, v in identity.items())


@contextmanager
def staged_tree(out: Path, marker: str, identity: dict[str, object]) -> Iterator[Path]:
    """Yield a fresh staging folder beside `out`; on success rename it into place.

    The caller writes its marker into the staging folder last. When another writer finished
    the same tree at `out` meanwhile, theirs is kept. On any error the staging folder is
    removed and `out` is left as it was.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        try:
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            os.replace(staging, out)
        except OSError as error:
            if out.is_dir() and _holds(out, marker, identity):
                return  # a concurrent writer finished the same tree first: keep theirs
            raise ConfigError(
                f"cannot move the finished tree into {out} ({error}); check that the folder "
                "is writable and empty, or choose another folder"
            ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
