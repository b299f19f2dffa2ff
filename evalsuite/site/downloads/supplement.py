"""What a bundle holds beyond the site, so that a reader can rerun the study and check it.

Under `reproduce/` in the bundle's folder:

- `study.toml`: the study's configuration (the manifest's), runnable with
  `evalsuite run --config reproduce/study.toml` (see `study_toml`);
- `constraints.txt`: the full lock file of the environment (`constraints_file`);
- `environment.json`: the CPU model and threads, the Python, system, device, package versions,
  the synthetic generator's and the shift's versions and the dataset fingerprints, from the
  manifest;
- with `--anonymous`: `evalsuite-<version>-source.tar`, the evalsuite package and its templates
  (with pyproject.toml, README.md and constraints.txt from a source tree: then it installs
  with pip) as anonymised text (`anonymise.scrub_source`; sorted members, fixed times, owners
  and modes: the same sources give the same bytes), and its `.sha256`.

The records' `evidence.npz` files travel under `downloads/records/artifacts/` (`evidence_copies`),
so `downloads/records/` is a complete results folder that `evalsuite diff` reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import evalsuite
from evalsuite import __version__, regular
from evalsuite.site.downloads.data_csv import RECORDS
from evalsuite.site.downloads.study_toml import runnable_toml
from evalsuite.site.pages.render import TEMPLATES
from evalsuite.site.read.anonymise import Identity, scrub_source
from evalsuite.site.read.records import Results

REPRODUCE = "reproduce"
LOCK = "constraints.txt"
SOURCE_SUFFIXES = (".py", ".json", ".j2", ".css", ".js", ".typed", ".txt")
"""The files of the package and templates the source archive holds (no caches, no binaries)."""
PROJECT_FILES = ("pyproject.toml", "README.md", LOCK)
"""What `pip install` of the archive needs beside the package, where the source tree has it."""


def constraints_file() -> Path | None:
    """The lock file: `constraints.txt` beside the package in a source tree (a checkout, an
    editable install), else the copy a wheel installs as `<prefix>/share/evalsuite/constraints.txt`
    (pyproject's data-files); None when neither exists."""
    source = Path(evalsuite.__file__).resolve().parents[1] / LOCK
    installed = Path(sys.prefix) / "share" / "evalsuite" / LOCK
    for found in (source, installed):
        if found.is_file():
            return found
    return None


def evidence_copies(results: Results) -> dict[str, Path]:
    """Site path (under `downloads/records/`) -> file, of every `evidence.npz` a record names
    and the results folder holds."""
    named = {cell.record.get("evidence") for cell in results.cells}
    return {
        f"{RECORDS}/{path}": results.source / path
        for path in sorted(p for p in named if isinstance(p, str))
        if (results.source / path).is_file()
    }


def supplement_files(results: Results, identity: Identity | None) -> dict[str, bytes]:
    """Path in the bundle's folder -> content of the files under `reproduce/` (see the module);
    `identity` (an anonymous build's) adds the anonymised source archive."""
    manifest = results.manifest or {}
    files: dict[str, bytes] = {}
    if "config" in manifest:
        files[f"{REPRODUCE}/study.toml"] = runnable_toml(manifest["config"]).encode("utf-8")
    lock = constraints_file()
    if lock is not None:
        files[f"{REPRODUCE}/{LOCK}"] = regular.read_bytes(lock, regular.CONFIG, "lock file")
    files[f"{REPRODUCE}/environment.json"] = _json(environment(manifest))
    if identity is not None:
        name = f"evalsuite-{__version__}-source"
        archive = source_archive(name, source_files(identity))
        files[f"{REPRODUCE}/{name}.tar"] = archive
        digest = hashlib.sha256(archive).hexdigest()
        files[f"{REPRODUCE}/{name}.tar.sha256"] = f"{digest}  {name}.tar\n".encode()
    return files


def environment(manifest: dict[str, Any]) -> dict[str, Any]:
    """The machine and software a run used, from its manifest (empty without one)."""
    dataset = manifest.get("dataset") or {}
    return {
        "platform": manifest.get("platform"),
        "versions": manifest.get("versions"),
        "generator_version": dataset.get("generator_version"),
        "shift_version": dataset.get("shift_version"),
        "dataset_fingerprint": dataset.get("fingerprint_clean"),
        "dataset_fingerprint_shift": dataset.get("fingerprint_shift"),
        "synthetic": dataset.get("synthetic"),
        "seeds": manifest.get("seeds"),
    }


def source_files(identity: Identity) -> dict[str, bytes]:
    """Archive path -> anonymised content of the evalsuite package and its templates, and of
    the project files beside them in a source tree."""
    package = Path(evalsuite.__file__).resolve().parent
    roots = {"evalsuite": package, "templates": TEMPLATES}
    found = {}
    for project in PROJECT_FILES:
        path = package.parent / project
        if path.is_file():
            text = regular.read_text(path, regular.CONFIG, "project file")
            found[project] = scrub_source(text, identity).encode("utf-8")
    for prefix, root in roots.items():
        for path in sorted(regular.walk_files(root, regular.CONFIG)):
            if "__pycache__" in path.parts or not path.name.endswith(SOURCE_SUFFIXES):
                continue
            text = path.read_text(encoding="utf-8")
            name = f"{prefix}/{path.relative_to(root).as_posix()}"
            found[name] = scrub_source(text, identity).encode("utf-8")
    return found


def source_archive(name: str, files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of `files` under the folder `name`: sorted, every member dated
    1980-01-01, owned by 0:0 with no owner names, mode 0644 (the same files, the same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(files[path])
            info.mtime = 315532800
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[path]))
    return buffer.getvalue()


def archive_texts(archive: bytes) -> dict[str, bytes]:
    """Member name + `.txt` -> content of every file of a source archive: as the leak check
    (`site.build.leaks`, which reads text files by suffix) takes them."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        return {
            f"{member.name}.txt": tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


def _json(payload: Any) -> bytes:
    return (json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
