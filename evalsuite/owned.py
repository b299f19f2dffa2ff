"""Output folders a command owns: it replaces only what it wrote, all or nothing.

A command that writes a tree of generated files (the site) keeps a ledger at the tree's root
listing every file it wrote. A rebuild removes only files in that ledger. A folder holding files
not in the ledger (a results folder, the user's notes, a site from before ledgers) is refused,
naming them, unless `force`; even then they are kept, never overwritten.

The new tree is written into a staging folder and swapped in at the end: the old folder is
renamed away, the staging folder renamed into place, the old one deleted. Ctrl-C, SIGTERM or a
crash before the swap leave the previous tree whole; the two renames run with both signals held
back. Where the folder cannot be renamed (it holds foreign files, is a link, a mount point or
holds the working directory) the staged files are moved in one by one, signals held back
likewise. The staging folders of a build killed without unwinding (kill -9) are removed by the
next build of the same folder (`outputs.remove_dead_staging`), and so is the previous tree a
build killed between or after the two renames left beside it (`remove_dead_old`), when every
file there is in its ledger.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evalsuite import regular, signals
from evalsuite.errors import OwnershipError
from evalsuite.outputs import remove_dead_staging, running

log = logging.getLogger(__name__)

LEDGER_SCHEMA = "evalsuite.owned/1"
SHOWN = 3
"""Foreign files named in a refusal."""
_INNER_STAGING = ".evalsuite-staging-"


@contextmanager
def owned_tree(out: Path, ledger: str | None, what: str, force: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends, its files replace `out`'s owned ones.

    Args:
        out: the output folder (created if needed).
        ledger: the ledger's file name at the root of `out`, e.g. ".evalsuite-site.json"; None
            for a tree written once into a new folder (then nothing in `out` is owned).
        what: the command, for messages, e.g. "evalsuite site".
        force: build in a folder holding files not in the ledger (they are kept).

    Raises:
        OwnershipError: `out` is a file, holds files not in its ledger (without `force`), or
            the new tree would overwrite one of them.
        OSError: writing or renaming failed; `out` is unchanged.
    """
    if out.exists() and not out.is_dir():
        raise OwnershipError(f"--out {out} is a file, not a folder; choose a folder")
    remove_dead_staging(out.parent, out.name)  # of builds killed before they could clean up
    remove_dead_old(out, ledger)
    owned = read_ledger(out / ledger) if out.is_dir() and ledger else set()
    foreign = foreign_files(out, owned, ledger) if out.is_dir() else []
    if foreign and not force:
        raise OwnershipError(_refusal(out, foreign, what))
    staging = _staging(out, in_place=bool(foreign) or not _renamable(out))
    try:
        yield staging
        written = sorted(_files(staging))
        clash = _clashes(written, set(foreign))
        if clash:
            raise OwnershipError(
                f"{what} would overwrite {_names(out, clash)} in --out {out}, which it did not "
                "write; move them away or choose another folder"
            )
        if ledger:
            _write_ledger(staging / ledger, written)
        if staging.parent == out:
            _move_in(staging, out, owned, written, ledger)
        else:
            _swap(staging, out, owned, written, ledger)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_owned(out: Path, ledger: str, what: str, force: bool = False) -> None:
    """Refuse `out` as `owned_tree` would, without writing anything: for a command that
    checks its output folder before long work (`evalsuite all` before its run).

    Raises:
        OwnershipError: `out` is a file, or holds files not in its ledger (without `force`).
    """
    if out.exists() and not out.is_dir():
        raise OwnershipError(f"--out {out} is a file, not a folder; choose a folder")
    if out.is_dir() and not force:
        foreign = foreign_files(out, read_ledger(out / ledger), ledger)
        if foreign:
            raise OwnershipError(_refusal(out, foreign, what))


_OLD = re.compile(r"\.(?P<name>.+)\.old-(?P<pid>\d{1,7})-[0-9a-f]{8}")
"""`.<out name>.old-<pid>-<8 hex>`: the previous tree, renamed away by `_swap`."""


def remove_dead_old(out: Path, ledger: str | None) -> int:
    """Remove the previous trees that builds killed (SIGKILL) between or after `_swap`'s renames
    left beside `out`: only real folders of `out`'s name, of processes no longer running, and
    only when every file there is listed in their own ledger (a file anyone else wrote keeps the
    folder); the number removed."""
    if ledger is None or not out.parent.is_dir():
        return 0
    removed = 0
    for entry in sorted(out.parent.iterdir()):
        match = _OLD.fullmatch(entry.name)
        if not match or match["name"] != out.name or running(int(match["pid"])):
            continue
        if not entry.is_dir() or entry.is_symlink():
            continue
        try:
            ours = read_ledger(entry / ledger) if (entry / ledger).is_file() else None
        except OwnershipError:
            ours = None
        if ours is not None and not foreign_files(entry, ours, ledger):
            shutil.rmtree(entry, ignore_errors=True)
            removed += not entry.exists()
    if removed:
        log.warning("removed %d previous tree(s) left beside %s by a killed build", removed, out)
    return removed


def read_ledger(path: Path) -> set[str]:
    """The files a ledger lists (relative POSIX paths); empty when there is none.

    Raises:
        OwnershipError: the ledger exists but is not one (then nothing is trusted as owned).
    """
    if not path.is_file() and not path.is_symlink():
        return set()
    try:
        content = json.loads(regular.read_text(path, regular.RESULTS, "site ledger"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise OwnershipError(
            f"{path} is unreadable ({error}); delete the folder, then rebuild"
        ) from error
    if not isinstance(content, dict) or content.get("schema") != LEDGER_SCHEMA:
        raise OwnershipError(f"{path} is not an evalsuite ledger; delete the folder, then rebuild")
    files = content.get("files")
    if not isinstance(files, list):
        raise OwnershipError(f"{path} is not an evalsuite ledger; delete the folder, then rebuild")
    return {name for name in files if isinstance(name, str) and _safe(name)}


def foreign_files(out: Path, owned: set[str], ledger: str | None) -> list[str]:
    """Files (and links) under `out` not in `owned`, as sorted relative POSIX paths; the ledger
    and staging folders of interrupted builds do not count."""
    return sorted(
        name
        for name in _files(out)
        if name not in owned and name != ledger and not name.startswith(_INNER_STAGING)
    )


def _files(root: Path) -> Iterator[str]:
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        yield from ((here / name).relative_to(root).as_posix() for name in names)
        links = [name for name in dirs if (here / name).is_symlink()]
        yield from ((here / name).relative_to(root).as_posix() for name in links)


def _clashes(written: list[str], foreign: set[str]) -> list[str]:
    """Foreign entries a new file would replace or write through (a link named as a folder)."""
    found: set[str] = set()
    for name in written:
        parts = name.split("/")
        found.update(
            p for p in ("/".join(parts[:i]) for i in range(1, len(parts) + 1)) if p in foreign
        )
    return sorted(found)


def _safe(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "" not in parts


def _refusal(out: Path, foreign: list[str], what: str) -> str:
    results = sorted(  # the manifest first: it names the folder for what it is
        (
            n
            for n in foreign
            if n == "manifest.json" or (n.startswith("cells/") and n.endswith(".json"))
        ),
        key=lambda n: n != "manifest.json",
    )
    if results:
        holds = f"holds a results folder ({_names(out, results)})"
    else:
        holds = f"holds {len(foreign)} file(s) {what} did not write ({_names(out, foreign)})"
    return (
        f"--out {out} {holds}; choose an empty or new folder, or pass --force to build there "
        "and keep those files"
    )


def _names(out: Path, names: list[str]) -> str:
    shown = ", ".join(str(out / name) for name in names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _renamable(out: Path) -> bool:
    """Whether `out` can be swapped by renames: not a link (it would be replaced by a folder),
    not a mount point, not holding the working directory, and its parent takes a staging folder
    (checked by `_staging`)."""
    if out.is_symlink():
        return False
    if not out.exists():
        return True
    target, here = out.resolve(), Path.cwd().resolve()
    return not (os.path.ismount(target) or here == target or here.is_relative_to(target))


def _staging(out: Path, in_place: bool) -> Path:
    """A new empty staging folder: beside `out`, or inside it when it cannot be swapped (or its
    parent is not writable)."""
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if not in_place:
        beside = out.parent / f".{out.name}.staging-{tag}"
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            beside.mkdir()
            return beside
        except OSError:
            if not out.is_dir():
                raise
    inside = out / f"{_INNER_STAGING}{tag}"
    inside.mkdir()
    return inside


def _write_ledger(path: Path, files: list[str]) -> None:
    text = json.dumps({"schema": LEDGER_SCHEMA, "files": files}, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")


def _swap(
    staging: Path, out: Path, owned: set[str], written: list[str], ledger: str | None
) -> None:
    """Rename `out` away, `staging` into place, then delete the old tree."""
    if not out.exists():
        staging.rename(out)
        return
    os.chmod(staging, out.stat().st_mode & 0o7777)
    old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with signals.deferred():
        try:
            out.rename(old)
        except OSError:  # a busy folder: move the files in one by one instead
            _move_in(staging, out, owned, written, ledger)
            return
        try:
            staging.rename(out)
        except BaseException:
            old.rename(out)
            raise
    left = foreign_files(old, owned, ledger)
    if left:  # written meanwhile by someone else: never deleted
        log.warning("kept %s: it holds files no build wrote (%s)", old, ", ".join(left[:SHOWN]))
        return
    shutil.rmtree(old, ignore_errors=True)


def _move_in(
    staging: Path, out: Path, owned: set[str], written: list[str], ledger: str | None
) -> None:
    """Move the staged files into `out` over the owned ones, delete the owned files the new
    tree lacks, and write the ledger last."""
    with signals.deferred():
        for name in written:
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
        for name in sorted(owned - set(written)):
            if (out / name).parent.resolve().is_relative_to(out.resolve()):  # no link outside
                (out / name).unlink(missing_ok=True)
                _prune(out, (out / name).parent)
        if ledger:
            os.replace(staging / ledger, out / ledger)


def _prune(out: Path, folder: Path) -> None:
    """Remove `folder` and its parents up to `out` while they are empty."""
    while folder != out and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def remove_owned(out: Path, ledger: str) -> tuple[int, list[str]]:
    """Delete the files the ledger at `out / ledger` lists, then the ledger, then the folders
    left empty (`out` included); files no build wrote are kept.

    Returns:
        the number of files removed, and the kept foreign files (relative POSIX paths).

    Raises:
        OwnershipError: `out` holds no ledger (nothing there is known to be ours) or a broken one.
    """
    if not (out / ledger).is_file() or (out / ledger).is_symlink():
        raise OwnershipError(
            f"{out} holds no {ledger}, so no file in it is known to be written by evalsuite; "
            "nothing was removed (delete the folder yourself if it is yours)"
        )
    owned = read_ledger(out / ledger)
    root = out.resolve()
    removed = 0
    with signals.deferred():
        for name in sorted(owned):
            path = out / name
            if path.parent.resolve().is_relative_to(root) and (path.is_symlink() or path.is_file()):
                path.unlink()
                removed += 1
                _prune(out, path.parent)
        (out / ledger).unlink()
    kept = foreign_files(out, set(), None)
    if not kept:
        shutil.rmtree(out)
    return removed, kept
