"""MVTec AD download against local file:// archives: checksum, resume, unsafe members."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

import pytest

from evalsuite.data.download import Source, Sources, download, fetch
from evalsuite.data.reader import read_dataset
from evalsuite.errors import ArchiveError, DownloadError


def _tar(
    path: Path, tree: Path, prefix: str = "", extra: list[tarfile.TarInfo] | None = None
) -> Path:
    with tarfile.open(path, "w:xz") as tar:
        for file in sorted(tree.rglob("*")):
            tar.add(file, arcname=prefix + str(file.relative_to(tree)), recursive=False)
        for info in extra or []:
            data = b"evil" if info.isfile() else None
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sources(archive: Path, sha: str | None = None, prefix: str = "") -> Sources:
    return Sources(full=Source(archive.as_uri(), sha or _sha(archive), prefix), categories={})


def test_download_verifies_and_extracts_categories(make_tree, tmp_path) -> None:
    tree = make_tree("src", categories=("alpha", "beta"))
    archive = _tar(tmp_path / "mvtec.tar.xz", tree, prefix="mvtec/")
    out = tmp_path / "out"
    folders = download(out, ["beta"], _sources(archive, prefix="mvtec/"), progress=False)
    assert folders == [out / "beta"]
    dataset = read_dataset(out)
    assert dataset.categories == ("beta",)
    assert len(dataset.samples) == len(read_dataset(tree, ["beta"]).samples)
    # a second call finds the category done and does not fetch again
    (out / ".downloads" / "mvtec.tar.xz").unlink()
    archive.unlink()
    download(out, ["beta"], _sources(tmp_path / "mvtec.tar.xz", sha="0" * 64), progress=False)


def test_bad_checksum_fails_and_keeps_nothing(make_tree, tmp_path) -> None:
    archive = _tar(tmp_path / "a.tar.xz", make_tree("src"))
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(out, ["alpha"], _sources(archive, sha="ab" * 32), progress=False)
    assert not out.exists()  # nothing left behind: not even empty folders


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("alpha/../../escape.txt", tarfile.REGTYPE, "points outside"),
        ("/etc/evil.txt", tarfile.REGTYPE, "absolute path"),
        ("alpha/train/good/link.png", tarfile.SYMTYPE, "is a link"),
        ("alpha/train/good/dev", tarfile.CHRTYPE, "device or special"),
    ],
)
def test_unsafe_members_are_refused(make_tree, tmp_path, name, kind, message) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    archive = _tar(tmp_path / "bad.tar.xz", make_tree("src"), extra=[info])
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match=message):
        download(out, ["alpha"], _sources(archive), progress=False)
    assert not (out / "alpha").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_partial_download_resumes(tmp_path) -> None:
    payload = bytes(range(256)) * 400
    archive = tmp_path / "blob.bin"
    archive.write_bytes(payload)
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "blob.bin.part").write_bytes(payload[:1000])
    source = Source(archive.as_uri(), hashlib.sha256(payload).hexdigest())
    target = fetch(source, folder, progress=False)
    assert target.read_bytes() == payload
    assert not (folder / "blob.bin.part").exists()


def test_offline_fails_fast_with_instructions(tmp_path, monkeypatch) -> None:
    """Fast: one attempt, bounded by the timeout given; no retry."""
    attempts: list[object] = []
    urlopen = urllib.request.urlopen

    def counted(request: urllib.request.Request, timeout: float) -> object:
        attempts.append((request.full_url, timeout))
        return urlopen(request, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", counted)
    source = Source("https://unreachable.invalid/mvtec/carpet.tar.xz", "0" * 64)
    with pytest.raises(DownloadError, match="place the data by hand"):
        fetch(source, tmp_path, timeout=3, progress=False)
    assert attempts == [(source.url, 3)]
    assert list(tmp_path.iterdir()) == []  # no empty partial file left behind
