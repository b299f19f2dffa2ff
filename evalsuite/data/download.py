"""Download MVTec AD categories: SHA-256 verified, resumable, extracted safely.

Extraction writes regular files and folders only, member by member: an absolute path, a `..`
component, a symbolic or hard link, a device or a FIFO aborts it with an `ArchiveError` naming
the member, and nothing of that category is left behind.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from evalsuite import regular
from evalsuite.atomic import write_json
from evalsuite.digest import file_sha256
from evalsuite.errors import ArchiveError, ConfigError, DownloadError, ResultsError
from evalsuite.outputs import check_places
from evalsuite.progress import bar as progress_bar
from evalsuite.results.paths import check_name

RECORD = ".evalsuite-download.json"
DOWNLOADS = ".downloads"
"""The folder of `out` that holds the archives (kept: a rerun verifies instead of fetching)."""
UNSAFE_HINT = (
    "Nothing was extracted. This is not an MVTec AD archive as published: check where it came "
    "from (the URL and SHA-256 in --sources) and delete it"
)
CHUNK = 1 << 20
MANUAL_HINT = (
    "To place the data by hand: download MVTec AD from "
    "https://www.mvtec.com/company/research/datasets/mvtec-anomaly-detection, extract it so that "
    "<DIR>/<category>/train/good/*.png exists, then pass --data-root <DIR>; "
    "`evalsuite data check <DIR>` validates the tree."
)


@dataclass(frozen=True)
class Source:
    """One archive: where it is, its SHA-256, and the member prefix before `<category>/`."""

    url: str
    sha256: str
    prefix: str = ""

    @property
    def filename(self) -> str:
        """The archive's file name (last URL component)."""
        return PurePosixPath(self.url.split("?")[0]).name


@dataclass(frozen=True)
class Sources:
    """The full archive and the per-category archives."""

    full: Source | None
    categories: dict[str, Source]

    def for_category(self, category: str) -> Source:
        """The archive a category comes from: its own if known, else the full one."""
        if category in self.categories:
            return self.categories[category]
        if self.full is None:
            raise ConfigError(
                f"category {category!r}: no download source; known: {sorted(self.categories)}"
            )
        return self.full


def load_sources(path: Path | None = None) -> Sources:
    """Read a sources file (JSON: {"full": {...}, "categories": {name: {url, sha256}}}).

    Without a path, the built-in MVTec AD sources are used.
    """
    try:
        if path is None:
            text = resources.files("evalsuite.data").joinpath("mvtec_sources.json").read_text()
        else:
            text = regular.read_text(Path(path), regular.CONFIG, "sources file")
        content = json.loads(text)
        full = Source(**content["full"]) if content.get("full") else None
        categories = {k: Source(**v) for k, v in content.get("categories", {}).items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{path or 'built-in sources'}: invalid sources file ({error}); expected "
            '{"full": {"url": ..., "sha256": ...}, '
            '"categories": {"<name>": {"url": ..., "sha256": ...}}}'
        ) from error
    return Sources(full, categories)


def download(
    out: Path,
    categories: Sequence[str],
    sources: Sources | None = None,
    timeout: float = 10.0,
    progress: bool = True,
) -> list[Path]:
    """Download and extract categories into `out`; categories already done are skipped.

    A failure leaves no folder it created empty behind (`out`, `out/.downloads`); a partial
    archive is kept, so the next try resumes it.

    Returns:
        the category folders.

    Raises:
        ConfigError: a category cannot name a folder (`..`, a path), or has no source.
        DownloadError, ArchiveError: as `fetch` and `extract_categories`.
    """
    out = Path(out)
    for category in categories:
        _category_name(category)
    sources = sources or load_sources()
    created = _missing(out / DOWNLOADS)
    try:
        out.mkdir(parents=True, exist_ok=True)
        done = _read_record(out)
        todo = [c for c in categories if not (c in done and (out / c / "train").is_dir())]
        by_archive: dict[Source, list[str]] = {}
        for category in todo:
            by_archive.setdefault(sources.for_category(category), []).append(category)
        for source, wanted in by_archive.items():
            archive = fetch(source, out / DOWNLOADS, timeout=timeout, progress=progress)
            extract_categories(archive, source.prefix, wanted, out)
            done.update({c: source.sha256 for c in wanted})
            write_json(out / RECORD, done)
    except BaseException:
        for folder in reversed(created):  # the innermost first; never a folder holding files
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return [out / c for c in categories]


def download_from(
    out: Path,
    categories: Sequence[str],
    sources_file: Path | None = None,
    timeout: float = 10.0,
    progress: bool = True,
) -> list[Path]:
    """`evalsuite data download`: `download` with the sources of `sources_file` (None: the
    built-in ones), after refusing an `out` that overlaps that file.

    Raises:
        OutputError: `out` and `sources_file` overlap (exit 2).
        ConfigError: the sources file is invalid; as `download` otherwise.
    """
    check_places([("--out", out)], [("--sources", sources_file)])
    return download(out, categories, load_sources(sources_file), timeout=timeout, progress=progress)


def _missing(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, outermost first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing.append(candidate)
    return missing[::-1]


def _category_name(category: str) -> str:
    """`category` when it can name a folder of `out` (as the configuration's names).

    Raises:
        ConfigError: it cannot (`..`, an absolute path, a separator...), naming it.
    """
    try:
        return check_name("category", category)
    except ResultsError as error:
        raise ConfigError(
            f"category {category[:40]!r} cannot name a folder: use letters, digits, '.', '_' "
            "or '-', not starting with '.'; fix --categories or data.categories"
        ) from error


def _read_record(out: Path) -> dict[str, str]:
    try:
        content = json.loads((out / RECORD).read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in content.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def fetch(source: Source, folder: Path, timeout: float = 10.0, progress: bool = True) -> Path:
    """Download an archive (resuming a partial one) and verify its SHA-256.

    Raises:
        DownloadError: unreachable (offline) or checksum mismatch.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.filename
    if target.exists() and file_sha256(target) == source.sha256:
        return target
    partial = target.with_name(target.name + ".part")
    _transfer(source.url, partial, timeout, progress)
    actual = file_sha256(partial)
    if actual != source.sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{source.url}: checksum mismatch (expected SHA-256 {source.sha256}, got {actual}); "
            "the partial file was deleted; try again, or pass --sources with the right checksum"
        )
    partial.replace(target)
    return target


def _transfer(url: str, partial: Path, timeout: float, progress: bool) -> None:
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = offset > 0 and getattr(response, "status", 200) == 206
            total = response.headers.get("Content-Length")
            with (
                partial.open("ab" if resumed else "wb") as stream,
                progress_bar(
                    int(total) if total else None,
                    partial.name.removesuffix(".part"),
                    "B",
                    disable=not progress,
                    initial=offset if resumed else 0,
                ) as bar,
            ):
                for block in iter(lambda: response.read(CHUNK), b""):
                    stream.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        if partial.is_file() and partial.stat().st_size == 0:  # nothing to resume
            partial.unlink()
        raise DownloadError(
            f"{url}: download failed ({getattr(error, 'reason', error)}); if this machine is "
            "offline, rerun where it can reach the source (a partial download resumes). "
            + MANUAL_HINT
        ) from error


def _safe_member_path(member: tarfile.TarInfo, archive: Path) -> PurePosixPath:
    path = PurePosixPath(member.name)
    where = f"{archive}: member {member.name!r}"
    if path.is_absolute() or member.name.startswith(("/", "\\")):
        raise ArchiveError(f"{where} has an absolute path; refusing to extract. {UNSAFE_HINT}")
    if ".." in path.parts:
        raise ArchiveError(f"{where} points outside the target; refusing. {UNSAFE_HINT}")
    if member.issym() or member.islnk():
        raise ArchiveError(f"{where} is a link; refusing to extract. {UNSAFE_HINT}")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"{where} is a device or special file; refusing. {UNSAFE_HINT}")
    return path


def extract_categories(archive: Path, prefix: str, categories: Sequence[str], out: Path) -> None:
    """Extract `<prefix><category>/...` members into `out/<category>`, all-or-nothing.

    Every member of the archive is checked, wanted or not, so an unsafe archive is refused.
    """
    staging = out / f".extract-{archive.name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    wanted = tuple(f"{prefix}{c}/" for c in categories)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                path = _safe_member_path(member, archive)
                if not member.name.startswith(wanted) or member.isdir():
                    continue
                target = staging / path.relative_to(prefix) if prefix else staging / path
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                assert handle is not None
                with handle, target.open("wb") as stream:
                    shutil.copyfileobj(handle, stream, CHUNK)
        for category in categories:
            if not (staging / category).is_dir():
                raise ArchiveError(
                    f"{archive}: no member under {prefix}{category}/; wrong archive?"
                )
            shutil.rmtree(out / category, ignore_errors=True)
            (staging / category).replace(out / category)
    except tarfile.TarError as error:
        raise ArchiveError(
            f"{archive}: corrupt archive ({error}); delete it and download again"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
