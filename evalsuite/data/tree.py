"""Writing a dataset tree all-or-nothing: build it in a staging folder, rename it into place."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evalsuite.errors import ConfigError


def existing_matches(out: Path, marker: str, identity: dict[str, object]) -> bool:
    """Whether `out` already holds a tree written with the same identity (then skip the work).

    Raises:
        ConfigError: `out` exists, is not empty, and is not such a tree.
    """
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; choose another output folder")
    if not any(out.iterdir()):
        return False
    try:
        content = json.loads((out / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        content = None
    if isinstance(content, dict) and all(content.get(k) == v for k, v in identity.items()):
        return True
    raise ConfigError(
        f"{out}: folder is not empty and was not written by this command with the same "
        "parameters; choose another output folder or delete it"
    )


@contextmanager
def staged_tree(out: Path) -> Iterator[Path]:
    """Yield a staging folder beside `out`; on success rename it into place.

    The caller writes its marker into the staging folder last. On any error the staging
    folder is removed and `out` is left as it was.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        try:
            if out.exists():
                out.rmdir()  # empty, checked by existing_matches
            os.replace(staging, out)
        except OSError:
            if out.is_dir() and any(out.iterdir()):  # a concurrent writer finished first;
                shutil.rmtree(staging, ignore_errors=True)  # its content is the same
                return
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
