"""`evalsuite site --bundle FILE.zip`: the site and its data as one attachable zip.

The zip holds one folder named after the file (`FILE/index.html`, the pages, assets, figures,
CSV downloads, the raw records with the split files, shift parameters and pixel evidence, the
heatmap strips), what it takes to rerun the study (`reproduce/`, see `supplement`) and a
README.txt that says how to rerun and check it.
Every name in it is portable: ASCII letters, digits, `.`, `_`, `-` and `/` only (the results'
`__<param>=<value>` becomes `__<param>-<value>`); the same renaming is applied to every path
inside the text files (links, CSV `path` columns, records), so every link resolves after
unzipping. The zip is deterministic: sorted entries, fixed timestamps and permissions; the
file itself gets the mode a new file gets (0644 under the usual umask 022). Its comment,
`BUNDLE_MARK`, says it is a bundle: a rebuild replaces such a zip, and no other file.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evalsuite import regular
from evalsuite.atomic import FILE_MODE
from evalsuite.errors import ResultsError
from evalsuite.site.read.anonymise import ASSETS, TEXT_SUFFIXES

_UNPORTABLE = re.compile(r"[^A-Za-z0-9._/-]")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
BUNDLE_MARK = b"evalsuite site bundle/1"
"""The zip comment of every bundle: how a rebuild knows the file at --bundle is its own."""
README = """{study}: results of evalsuite {version}, as a static site with its data.

Open {folder}/index.html in a browser (it works offline, from the unzipped folder).
downloads/ holds the CSV files (fractions in [0, 1]), the LaTeX tables, the figures
(downloads/figures: SVG, PDF, PNG at 300 dpi) and the raw records
(downloads/records: manifest.json, cells/, splits/ with the per-image shift parameters,
artifacts/ with each cell's pixel evidence). Paths in the CSV files are relative to
this folder.

Rerun and check it
------------------
reproduce/ holds the study's configuration (study.toml), the lock file of the
environment (constraints.txt, where the build found it), the machine and versions
it ran with (environment.json: CPU model and threads, device, package versions,
data generator and shift versions, dataset fingerprints){source}.

1. Install evalsuite {version} with the same packages:
     pip install -c reproduce/constraints.txt <evalsuite {version}>{install}
2. Rerun the study from this folder (real data: DATA is your copy of the dataset):
     {command}
3. Compare the rerun with these records, cell by cell:
     evalsuite diff downloads/records rerun --fail-on-regression
   It exits 0 when no cell regressed; on the same CPU and versions the metrics are
   identical (deltas 0.000), elsewhere they differ within the intervals it prints.
"""
INSTALL = """
   e.g. from the source archive:
     mkdir src && tar -xf reproduce/{archive} -C src
     pip install -c reproduce/constraints.txt src/{folder}"""
SOURCE = """,
and the anonymised source of the evalsuite that built it ({archive},
its SHA-256 in {archive}.sha256: in reproduce/, sha256sum -c {archive}.sha256)"""


@dataclass(frozen=True)
class BundleReport:
    """What `write_bundle` wrote: the zip, its number of files and its size in bytes."""

    path: Path
    files: int
    size: int


def portable(path: str) -> str:
    """`path` with every character outside `[A-Za-z0-9._/-]` replaced by `-`."""
    return _UNPORTABLE.sub("-", path)


def check_bundle_target(bundle: Path, results_dir: Path, site_dir: Path) -> None:
    """Refuse a bundle path that is not a `.zip` file outside the results and site folders.

    Raises:
        ResultsError: naming the path and what to choose instead.
    """
    target = bundle.resolve()
    if bundle.suffix.lower() != ".zip":
        raise ResultsError(f"--bundle {bundle}: the bundle must be a .zip file, e.g. site.zip")
    for folder, option in ((results_dir, "--results"), (site_dir, "--out")):
        if target.is_relative_to(folder.resolve()):
            raise ResultsError(
                f"--bundle {bundle} lies inside the {option} folder {folder}; write it elsewhere"
            )
    if target.exists() and not target.is_file():
        raise ResultsError(f"--bundle {bundle} is a folder; give a file name ending in .zip")


def _renamed(names: list[str]) -> dict[str, str]:
    """Path -> its portable form, for every path that changes.

    Raises:
        ResultsError: two paths would get the same portable name.
    """
    renamed = {name: portable(name) for name in names if portable(name) != name}
    taken: dict[str, str] = {}
    for name in names:
        new = renamed.get(name, name)
        if new in taken:
            raise ResultsError(
                f"the bundle cannot hold both {taken[new]} and {name}: both become {new}; "
                "rename the swept value or category that differs only in punctuation"
            )
        taken[new] = name
    return renamed


_TOKEN = re.compile(r"[A-Za-z0-9._=+/-]*[=+][A-Za-z0-9._=+/-]*")
"""A run of path characters holding `=` or `+`, the only unportable ones `results.paths` lets
into a name: where a renamed path can occur in a text file."""


def _rewrite(content: bytes, parts: Mapping[str, str]) -> bytes:
    """A text file with every renamed path component replaced by its portable form (one pass:
    each token that could hold a path is split at `/` and its components looked up)."""

    def fix(match: re.Match[str]) -> str:
        return "/".join(parts.get(part, part) for part in match[0].split("/"))

    return _TOKEN.sub(fix, content.decode("utf-8")).encode("utf-8")


def _parts(renamed: Mapping[str, str]) -> dict[str, str]:
    """The path components that change, old -> new."""
    found = {}
    for name in renamed:
        for part in name.split("/"):
            if portable(part) != part:
                found[part] = portable(part)
    return found


def rerun_command(manifest: Mapping[str, object] | None) -> str:
    """The command that reruns the bundled study from its folder into `rerun/`."""
    if manifest is None:
        return "(none: the run did not finish, so no manifest names its configuration)"
    dataset = manifest.get("dataset")
    real = isinstance(dataset, dict) and not dataset.get("synthetic", True)
    data = " --data-root DATA" if real else ""  # real data: the reader's own MVTec copy
    return f"evalsuite run --config reproduce/study.toml{data} --out rerun"


def write_bundle(
    bundle: Path,
    files: Mapping[str, bytes],
    copies: Mapping[str, Path],
    *,
    study: str,
    version: str,
    extra: Mapping[str, bytes] | None = None,
    command: str = "",
) -> BundleReport:
    """Write the site as one zip (atomically: a temp file in the same folder, then a rename).

    Args:
        bundle: the zip to write.
        files: site path -> content of the generated files.
        copies: site path -> source file of the copied files (heatmap strips), read as
            `evalsuite.regular` reads them: a link, FIFO or device is refused, never shipped.
        study: the study's name (for the README).
        version: the evalsuite version (for the README).
        extra: path in the bundle's folder -> content of files beside the site (`reproduce/`),
            written as they are.
        command: the command that reruns the study (for the README).
    """
    folder = portable(bundle.stem) or "site"
    names = sorted({*files, *copies})
    renamed = _renamed(names)
    parts = _parts(renamed)
    extra = extra or {}
    archive = next((Path(p).name for p in extra if p.endswith(".tar")), None)
    source = install = ""
    if archive is not None:
        source = SOURCE.format(archive=archive)
        install = INSTALL.format(archive=archive, folder=archive.removesuffix(".tar"))
    readme = README.format(
        study=study,
        version=version,
        folder=folder,
        command=command,
        source=source,
        install=install,
    ).encode("utf-8")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=bundle.parent, prefix=f".{bundle.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, FILE_MODE)  # mkstemp's 0600 would keep the supplement from co-authors
        with os.fdopen(handle, "wb") as stream, zipfile.ZipFile(stream, "w") as zipped:
            zipped.comment = BUNDLE_MARK
            _add(zipped, f"{folder}/README.txt", readme)
            for name, content in sorted(extra.items()):
                _add(zipped, f"{folder}/{name}", content)
            for name in names:
                if name in files:
                    content = files[name]
                    if name.endswith(TEXT_SUFFIXES) and parts and not name.startswith(ASSETS):
                        content = _rewrite(content, parts)
                else:
                    content = regular.read_bytes(copies[name], regular.ARTIFACT, "heatmap strip")
                _add(zipped, f"{folder}/{renamed.get(name, name)}", content)
        os.replace(temp, bundle)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return BundleReport(bundle, len(names) + len(extra) + 1, bundle.stat().st_size)


def _add(archive: zipfile.ZipFile, name: str, content: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content, compresslevel=6)
