"""`--anonymous` scrubs by structure: the identifying fields' values, never the ids; a study
without a manifest is named from its configuration; the leak check reports leaks, not ids."""

from __future__ import annotations

import getpass
import json
import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest
from site_helpers import FAILED_CELL, copy_results, identifying_copy, read_json, write_json

from evalsuite.errors import EvalsuiteError
from evalsuite.results import iter_cells
from evalsuite.site import build_site
from evalsuite.site.build.leaks import check_no_leaks, leaks
from evalsuite.site.read import anonymise as anonymise_module
from evalsuite.site.read.anonymise import ANONYMOUS_STUDY, Identity, anonymise, machine_identity
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import cell_page
from evalsuite.site.views.runinfo import run_info

USER, HOST = "zipper", "good"
"""A login name that is a category of the study and a host name that is a defect type (the
`good` of every normal image's id)."""
pytestmark = pytest.mark.long  # among the slowest files: started first (tests/conftest.py)

HOME = f"/home/{USER}"


def _unzip(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _outputs(site: Path, bundle: Path) -> list[tuple[str, bytes]]:
    found = [(str(p), p.read_bytes()) for p in site.rglob("*") if p.is_file()]
    return [*found, *_unzip(bundle).items(), (str(bundle), bundle.read_bytes())]


def _without_identifying(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the fields `--anonymous` may rewrite (and without its digest)."""
    record = json.loads(json.dumps(record))
    record.pop("digest", None)
    record.pop("error", None)
    provenance = record["provenance"]
    provenance.pop("git_commit")
    provenance["weights"].pop("path")
    for part in ("detector", "fit"):
        record["config"][part]["backbone"].pop("weights_file", None)
    return record


@pytest.fixture(params=["results_dir", "real_results"])
def word_user(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A results copy built by user `zipper` on host `good`, whose records name them: of the
    tiny study, and of the tiny study with real conditions (whose site has the page
    "Synthetic vs real shift")."""
    source: Path = request.getfixturevalue(request.param)
    monkeypatch.setenv("HOME", HOME)
    monkeypatch.setattr(getpass, "getuser", lambda: USER)
    monkeypatch.setattr(socket, "gethostname", lambda: HOST)
    return identifying_copy(source, tmp_path / "out", HOME, USER, HOST, "data/zipper/x.png")


def test_login_name_that_is_an_id_keeps_every_id_and_strip(word_user: Path, tmp_path: Path) -> None:
    root = word_user
    site, bundle = tmp_path / "site", tmp_path / "anonymous.zip"
    build_site(root, site, anonymous=True, bundle=bundle)
    originals = dict(iter_cells(root))
    strips = 0
    for relpath, record in originals.items():
        shipped = read_json(site / "downloads" / "records" / "cells" / relpath)
        assert _without_identifying(shipped) == _without_identifying(record), relpath
        page = (site / cell_page(relpath.as_posix())).read_text(encoding="utf-8")
        for artifact in record["artifacts"]:  # every strip shipped, and shown on its page
            assert (site / artifact["path"]).is_file(), artifact["path"]
            assert artifact["path"] in page, (relpath, artifact["path"])
            strips += 1
    assert strips > 30  # the test can fail: the study has its strips
    thumbnails = 0
    for relpath, record in originals.items():  # every thumbnail shipped, named by its explorer
        if record["status"] != "ok":
            continue
        explorer = site / ("explorer/" + cell_page(relpath.as_posix()).removeprefix("cells/"))
        page = explorer.read_text(encoding="utf-8")
        for path in (record["thumbnails"][key] for key in ("images", "masks", "maps")):
            assert (site / path).read_bytes() == (root / path).read_bytes(), path
            assert f'url("../{path}")' in page, (relpath, path)
            thumbnails += 1
        assert all(s["id"] in page for s in record["scores"])  # ids kept, not scrubbed
    assert thumbnails > 90
    splits = root / "splits" / "seed0.json"
    assert (site / "downloads" / "records" / "splits" / "seed0.json").read_bytes() == (
        splits.read_bytes()
    )
    gallery = (site / "gallery" / "patchcore--per_class.html").read_text(encoding="utf-8")
    assert "zipper/test/good/" in gallery and "&lt;user&gt;" not in gallery
    compare = (site / "compare" / "data-1-zipper.js").read_text(encoding="utf-8")
    assert '"zipper/test/good/' in compare and "<user>" not in compare and "<host>" not in compare
    for name, content in _outputs(site, bundle):
        for needle in (HOME, str(root.resolve()), f"{USER}@{HOST}"):
            assert needle.encode() not in content, (name, needle)
    failed = read_json(site / "downloads" / "records" / "cells" / FAILED_CELL)
    assert failed["error"]["message"] == "cannot read <path>/x.png on <host> as <user>"
    assert failed["provenance"]["weights"]["path"] == "<path>/lite0.safetensors"
    assert failed["provenance"]["git_commit"] is None
    manifest = read_json(site / "downloads" / "records" / "manifest.json")
    assert manifest["dataset"]["root"] == "<path>/mvtec" and manifest["git_commit"] is None
    real = any(root.rglob("*__shift.conditions=*.json"))
    assert (site / "real_shift.html").is_file() == real  # the page is anonymised and shipped
    assert ("anonymous/real_shift.html" in _unzip(bundle)) == real


def test_shard_without_manifest_is_named_from_its_configuration(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "jdoe-thesis-shard")
    (root / "manifest.json").unlink()
    site, bundle = tmp_path / "site", tmp_path / "supplement.zip"
    build_site(root, site, anonymous=True, bundle=bundle)
    for name, content in _outputs(site, bundle):
        assert b"jdoe-thesis" not in content, name
    assert "· tiny · evalsuite</title>" in (site / "index.html").read_text(encoding="utf-8")
    assert _unzip(bundle)["supplement/README.txt"].startswith(b"tiny: results of evalsuite")


def test_records_without_a_study_name_are_not_named_after_their_folder(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "jdoe-thesis-shard")
    (root / "manifest.json").unlink()
    assert run_info(load_results(root)).study == "tiny"  # the configuration's name
    for path in (root / "cells").rglob("*.json"):  # records written before they carried it
        record = read_json(path)
        del record["provenance"]["study"]
        write_json(path, record)
    results = load_results(root)
    assert run_info(results).study == "jdoe-thesis-shard"  # not anonymous: the folder says it
    anonymous = anonymise(results, machine_identity(root))
    assert run_info(anonymous).study == ANONYMOUS_STUDY


def test_a_field_left_unscrubbed_fails_the_build_and_writes_nothing(
    word_user: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anonymise_module, "scrub_path", lambda path, identity: path)
    with pytest.raises(EvalsuiteError, match="still names this machine"):
        build_site(word_user, tmp_path / "site", anonymous=True, bundle=tmp_path / "a.zip")
    assert not (tmp_path / "site").exists() and not (tmp_path / "a.zip").exists()


def test_no_login_name_is_no_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", unknown)
    identity = machine_identity(tmp_path)
    assert [tag for _, tag in identity.words] == ["<host>"] * len(identity.words)


# --- the leak check ------------------------------------------------------------------------

RESULTS = "/srv/lab/results/tiny"
IDENTITY = Identity(
    paths=(RESULTS, HOME), words=((USER, "<user>"), (HOST, "<host>"), ("root", "<user>"))
)
ARTIFACT = "artifacts/padim/per_class/none/clean/zipper/top_defect/zipper__test__good__000.png"


def _record(weights_path: str | None, message: str | None) -> bytes:
    record = {
        "category": "zipper",
        "artifacts": [{"id": "zipper/test/good/000", "kind": "top_defect", "path": ARTIFACT}],
        "scores": [{"id": "zipper/test/good/000", "defect": "good", "label": 0}],
        "error": None if message is None else {"type": "OSError", "message": message},
        "config": {"detector": {"backbone": {"weights_file": None}}},
        "provenance": {"git_commit": None, "weights": {"path": weights_path}},
    }
    return json.dumps(record).encode()


def test_leak_check_reports_no_ids() -> None:
    """Ids holding the user and host names as words, a category `root` beside a home `/root`:
    no leak."""
    page = f'<a href="../{ARTIFACT}">zipper/test/good/000</a> the good zipper; cells/root/x'
    files = {
        "gallery/zipper.html": page.encode(),
        "downloads/metrics.csv": b"category,defect,path\nzipper,good,artifacts/x/zipper/a.png\n",
        "downloads/records/cells/padim/zipper.json": _record("<path>/lite0.pth", "<user> <path>/x"),
        "downloads/records/splits/seed0.json": b'{"zipper": {"test": ["zipper/test/good/000"]}}',
    }
    assert leaks(files, IDENTITY) == []
    rooted = Identity(paths=("/root",), words=(("root", "<user>"),))
    assert leaks({"index.html": b"artifacts/x/shift/root/top_defect/a.png"}, rooted) == []


@pytest.mark.parametrize(
    ("path", "content", "says"),
    [
        ("index.html", f"<td>{RESULTS}/cells</td>".encode(), RESULTS),
        ("index.html", b"<td>/home/zipper/data</td>", HOME),
        ("cells/a.html", b"<td>built by zipper@good</td>", "zipper@good"),
        ("downloads/x.csv", b"path\n/tmp/pytest-of-zipper/x\n", "pytest-of-zipper"),
        ("downloads/x.tex", b"\\\\good\\share", "network path of good"),
        (
            "downloads/records/cells/padim/zipper.json",
            _record("/opt/weights/lite0.pth", None),
            "provenance.weights.path",
        ),
        (
            "downloads/records/cells/padim/zipper.json",
            _record(None, "failed on good"),
            "error.message holds good",
        ),
        (
            "downloads/records/cells/padim/zipper.json",
            _record(None, "cannot read /data/x.png"),
            "error.message holds a path",
        ),
        (
            "downloads/records/manifest.json",
            b'{"git_commit": "0123abc", "dataset": {"root": "<path>/mvtec"}}',
            "git_commit",
        ),
        ("downloads/records/splits/seed0.json", b'{"note": "/data/mvtec"}', "note"),
    ],
)
def test_leak_check_reports_a_leak(path: str, content: bytes, says: str) -> None:
    found = leaks({path: content}, IDENTITY)
    assert found and all(item.startswith(f"{path}: ") for item in found)
    assert any(says in item for item in found), found
    with pytest.raises(EvalsuiteError, match="still names this machine"):
        check_no_leaks({path: content}, IDENTITY)


def test_leak_check_skips_the_assets() -> None:
    assert leaks({"assets/vega.js": f"{RESULTS} zipper@good".encode()}, IDENTITY) == []
