"""The bundle as a supplement a reader can rerun and check: what it holds, its config, its
source archive, its mode; the shifted fingerprint and the CPU in the records. (Every CSV path
from the site root: `test_site_exports`.)"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from site_helpers import read_json
from studies import tiny_toml

from evalsuite.cli import main
from evalsuite.config import StudyConfig
from evalsuite.data.reader import SHIFT_MARKER, fingerprint, read_dataset
from evalsuite.site import build_site
from evalsuite.site.build import assemble
from evalsuite.site.build.leaks import leaks
from evalsuite.site.downloads import supplement
from evalsuite.site.downloads.bundle import portable
from evalsuite.site.read.anonymise import Identity, scrub_source

pytestmark = pytest.mark.long  # minutes: started first (tests/conftest.py)


def _unzip(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_shifted_cells_record_the_shifted_trees_fingerprint(results_dir: Path) -> None:
    trees = sorted((results_dir.parent / "cache").rglob(SHIFT_MARKER))
    assert len(trees) == 1
    shifted = read_dataset(trees[0].parent)
    expected = fingerprint(shifted)  # computed here, from the tree itself
    manifest = read_json(results_dir / "manifest.json")
    clean = manifest["dataset"]["fingerprint_clean"]
    assert expected != clean
    seen = set()
    for path in sorted((results_dir / "cells").rglob("*.json")):
        record = read_json(path)
        provenance = record["provenance"]
        assert provenance["dataset_fingerprint"] == clean
        reads_shift = "shift" in (
            record["condition"],
            record["config"]["threshold_condition"],
            record["config"]["fit"]["condition"],
        )
        assert provenance["dataset_fingerprint_shift"] == (expected if reads_shift else None)
        seen.add((record["condition"], record["regime"]))
    assert {("clean", "none"), ("shift", "none"), ("shift", "retrain")} <= seen
    parameters = read_json(results_dir / manifest["shift_parameters"]["2"])
    marker = read_json(trees[0])
    assert parameters["images"] == marker["images"] and len(parameters["images"]) > 0
    assert parameters["dataset_fingerprint_shift"] == expected and "source" not in parameters


def test_manifest_names_the_cpu_and_its_threads(results_dir: Path) -> None:
    found = read_json(results_dir / "manifest.json")["platform"]
    assert found["processor"] and found["threads"] >= 1
    if platform.system() == "Linux":
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        if models:
            assert found["processor"] == models[0]


@pytest.fixture(scope="module")
def bundled(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("supplement")
    build_site(results_dir, out / "site", bundle=out / "supplement.zip")
    return out / "supplement.zip"


def test_bundle_holds_every_file_it_names(bundled: Path, results_dir: Path) -> None:
    files = _unzip(bundled)
    root = "supplement"
    for name in ("README.txt", "reproduce/study.toml", "reproduce/environment.json"):
        assert f"{root}/{name}" in files, name
    assert files[f"{root}/reproduce/constraints.txt"] == Path("constraints.txt").read_bytes()
    evidence = 0
    for path in sorted((results_dir / "cells").rglob("*.json")):
        named = read_json(path).get("evidence")
        if named:
            shipped = files[f"{root}/downloads/records/{portable(named)}"]
            assert shipped == (results_dir / named).read_bytes()
            evidence += 1
    assert evidence > 0
    manifest = json.loads(files[f"{root}/downloads/records/manifest.json"])
    for relpath in [*manifest["splits"].values(), *manifest["shift_parameters"].values()]:
        assert f"{root}/downloads/records/{relpath}" in files
    environment = json.loads(files[f"{root}/reproduce/environment.json"])
    assert environment["platform"]["processor"] and environment["platform"]["threads"] >= 1
    assert environment["generator_version"] and environment["shift_version"]
    readme = files[f"{root}/README.txt"].decode()
    assert "evalsuite run --config reproduce/study.toml --out rerun" in readme
    assert "evalsuite diff downloads/records rerun" in readme


def test_bundle_config_reloads_into_the_studys(bundled: Path, tmp_path: Path) -> None:
    files = _unzip(bundled)
    (tmp_path / "study.toml").write_bytes(files["supplement/reproduce/study.toml"])
    shown = CliRunner().invoke(main, ["config", "show", "--config", str(tmp_path / "study.toml")])
    assert shown.exit_code == 0, shown.output
    manifest = json.loads(files["supplement/downloads/records/manifest.json"])
    assert json.loads(shown.output) == manifest["config"]
    assert StudyConfig.model_validate(manifest["config"]).name == "tiny"


def test_bundle_gets_the_mode_of_a_new_file(bundled: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    assert bundled.stat().st_mode & 0o777 == 0o666 & ~umask  # 0644 under umask 022, not 0600
    with zipfile.ZipFile(bundled) as archive:
        assert {info.external_attr >> 16 for info in archive.infolist()} == {0o644}


def test_scrub_source_removes_the_machines_forms_and_keeps_code() -> None:
    identity = Identity(("/srv/lab/results",), (("alice", "<user>"), ("box", "<host>")))
    text = (
        'CPUINFO = "/proc/cpuinfo"  # alice wrote zipper\n'
        "data = '/home/alice/mvtec'; out = '/srv/lab/results/x'\n"
        "# ssh alice@box, //box/share, pytest-of-alice\n"
    )
    scrubbed = scrub_source(text, identity)
    assert leaks({"a.txt": text.encode()}, identity)
    assert leaks({"a.txt": scrubbed.encode()}, identity) == []
    assert '"/proc/cpuinfo"' in scrubbed and "alice wrote zipper" in scrubbed


def test_anonymous_bundle_ships_anonymised_source_deterministically(
    results_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(supplement.TEMPLATES, templates)
    (templates / "leak.j2").write_text("{# /home/alice/data, alice@box, //box/x #}\n")
    identity = Identity((str(results_dir.resolve()),), (("alice", "<user>"), ("box", "<host>")))
    monkeypatch.setattr(supplement, "TEMPLATES", templates)
    monkeypatch.setattr(assemble, "machine_identity", lambda _: identity)
    bundles = []
    for name in ("one", "two"):
        bundle = tmp_path / name / "anonymous.zip"
        build_site(results_dir, tmp_path / name / "site", anonymous=True, bundle=bundle)
        bundles.append(bundle.read_bytes())
    assert bundles[0] == bundles[1]
    files = _unzip(tmp_path / "one" / "anonymous.zip")
    name = "evalsuite-0.1.0-source.tar"
    archive = files[f"anonymous/reproduce/{name}"]
    digest = files[f"anonymous/reproduce/{name}.sha256"].decode().split()[0]
    assert digest == hashlib.sha256(archive).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        source = "evalsuite-0.1.0-source"
        leak = tar.extractfile(members[f"{source}/templates/leak.j2"]).read()  # type: ignore[union-attr]
        package = tar.extractfile(members[f"{source}/evalsuite/config.py"]).read()  # type: ignore[union-attr]
    assert leak == b"{# /home/<user>/data, <user>@<host>, //<host>/x #}\n"
    assert package == (Path(supplement.evalsuite.__file__).parent / "config.py").read_bytes()
    assert {(m.mtime, m.mode, m.uid, m.uname) for m in members.values()} == {
        (315532800, 0o644, 0, "")
    }
    texts = {k: v for k, v in files.items() if k.endswith((".json", ".txt", ".csv", ".html"))}
    assert leaks({**texts, **supplement.archive_texts(archive)}, identity) == []


def test_rerunning_the_bundle_reproduces_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    study = tmp_path / "study.toml"
    study.write_text(tiny_toml("rerun", ["clean/none", "shift/none"], ["hazelnut"]))
    runner = CliRunner()
    first = tmp_path / "first"
    ran = runner.invoke(
        main, ["run", "--config", str(study), "--out", str(first), "--cache", str(cache), "--quiet"]
    )
    assert ran.exit_code == 0, ran.output
    site = ["--out", str(tmp_path / "site"), "--bundle", str(tmp_path / "s.zip")]
    shown = runner.invoke(main, ["site", "--results", str(first), *site])
    assert shown.exit_code == 0, shown.output
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        archive.extractall(folder)
    monkeypatch.chdir(folder / "s")  # the README's commands run from the bundle's folder
    readme = Path("README.txt").read_text(encoding="utf-8")
    command = next(line.split() for line in readme.splitlines() if "evalsuite run" in line)
    rerun = runner.invoke(main, [*command[1:], "--cache", str(cache), "--quiet"])
    assert rerun.exit_code == 0, rerun.output
    check = next(line.split() for line in readme.splitlines() if "evalsuite diff" in line)
    compared = runner.invoke(main, check[1:])
    assert compared.exit_code == 0, compared.output
    firsts = sorted((tmp_path / "first" / "cells").rglob("*.json"))
    assert len(firsts) == 2
    for first in firsts:
        again = Path("rerun/cells") / first.relative_to(tmp_path / "first" / "cells")
        assert read_json(again)["metrics"] == read_json(first)["metrics"], first
