"""A catalogue of bad inputs, each through the real command line (`evalsuite.cli.main`).

Every case asserts a non-zero exit code, one `error:` message that names the file or key at
fault and says what to do, no traceback, and that nothing partial or corrupt was left: a run
that fails on its inputs leaves no results folder at all, a refused download no category folder.
A failing write (a full disk) and a corrupt record are further below; SIGKILL and resume are in
tests/test_resume_and_executors.py, Ctrl-C in tests/test_interrupt.py.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
from click.testing import CliRunner, Result
from PIL import Image
from studies import tiny_toml

from evalsuite import results
from evalsuite.cli import main

TreeFactory = Callable[..., Path]

PATCHCORE = """[[detectors]]
name = "patchcore"
backbone = {backbone}
params = {{ coreset_ratio = {ratio}, target_dim = "none" }}
"""
LITE0_48 = "{ resize = 48, crop = 48 }"


def study_text(
    root: Path | str,
    *,
    categories: str = '["alpha"]',
    kinds: str = '["clean/none"]',
    backbone: str = LITE0_48,
    ratio: str = "0.25",
    extra: str = "",
    top: str = "",
) -> str:
    """A tiny study on the MVTec-layout tree at `root`: one category, one detector."""
    return (
        f'{top}name = "bad"\nkinds = {kinds}\nscopes = ["per_class"]\n'
        f'[data]\nsource = "mvtec"\nroot = "{root}"\ncategories = {categories}\n'
        + PATCHCORE.format(backbone=backbone, ratio=ratio)
        + f"[evaluation]\nbootstrap = 10\nartifacts_per_cell = 1\n{extra}"
    )


def small_tree(make_tree: TreeFactory, name: str = "data") -> Path:
    """One category `alpha`, 48 px: 5 train, 3 good and 4 `scratch` test images with masks."""
    return make_tree(
        name, categories=("alpha",), size=48, n_train=5, n_good=3, defects=("scratch",), n_defect=4
    )


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def run_cli(config: Path, out: Path, cache: Path, *extra: str) -> Result:
    return invoke("run", "--config", config, "--out", out, "--cache", cache, "--quiet", *extra)


def assert_clean_error(result: Result, code: int, says: tuple[str, ...]) -> None:
    """Exit `code`, one `error:` line naming what `says` holds, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught error
    assert "Traceback" not in result.output
    for text in says:
        assert text in result.output, f"{text!r} not in {result.output!r}"


def assert_no_partial_results(out: Path) -> None:
    """Whatever `out` holds is complete: valid records, no temp or staging leftovers."""
    if not out.exists():
        return
    for path in out.rglob("*"):
        assert not path.name.endswith(".tmp") and ".staging" not in path.name, path
    for path, _record in results.iter_cells(out):  # raises on any corrupt cell file
        assert path.suffix == ".json"
    if (out / "manifest.json").exists():
        results.read_manifest(out)
    for path in out.rglob("*.npy"):
        np.load(path, allow_pickle=False)
    for path in out.rglob("*.png"):
        with Image.open(path) as image:
            image.load()


# --- the catalogue: runs whose inputs are bad --------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input: `make(tmp, tree)` writes it and returns (study text, strings to expect)."""

    name: str
    make: Callable[[Path, Path], tuple[str, tuple[str, ...]]]
    code: int = 2


def _corrupt_png(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    bad = tree / "alpha/train/good/001.png"
    bad.write_bytes(b"this is not a png")
    return study_text(tree), (str(bad), "unreadable or truncated image", "Fix or remove")


def _truncated_png(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    bad = tree / "alpha/test/scratch/001.png"
    bad.write_bytes(bad.read_bytes()[:200])
    return study_text(tree), (str(bad), "truncated", "Fix or remove")


def _mask_size(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    bad = tree / "alpha/ground_truth/scratch/001_mask.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(bad)
    return study_text(tree), (str(bad), "mask size 40x40 does not match", "give the mask its")


def _non_binary_mask(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    bad = tree / "alpha/ground_truth/scratch/002_mask.png"
    mask = np.zeros((48, 48), np.uint8)
    mask[4:20, 4:20] = 128
    Image.fromarray(mask).save(bad)
    return study_text(tree), (str(bad), "mask is not binary", "only 0 and 255")


def _missing_mask(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    (tree / "alpha/ground_truth/scratch/003_mask.png").unlink()
    image = tree / "alpha/test/scratch/003.png"
    return study_text(tree), (f"{image}: defective image without mask", "add the mask")


def _empty_category(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    for path in (tree / "alpha/train/good").iterdir():
        path.unlink()
    return study_text(tree), (f"{tree / 'alpha/train/good'}: empty folder", "add images")


def _missing_root(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    root = tmp / "no-such-folder"
    return study_text(root), (str(root), "does not exist", "evalsuite data download")


def _unknown_category(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree, categories='["gamma"]')
    return text, ("data.categories gamma not found", "it holds alpha", "fix data.categories")


def _unknown_synthetic_category(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree, categories='["teapot"]').replace('"mvtec"', '"synthetic"')
    return text, ("teapot", "hazelnut, carpet, zipper", "fix data.categories")


def _unknown_key(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree, extra="colour = 3\n")
    return text, ("unknown key 'evaluation.colour'", "allowed here: image_threshold")


def _unknown_param(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace('target_dim = "none"', "neighbours = 9")
    return text, ("unknown key 'neighbours'", "allowed keys: layers")


def _unknown_backbone_key(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree, backbone='{ name = "resnet18", weight_file = "w.pth" }')
    return text, ("unknown key 'weight_file'", "allowed keys: name, pretrained, weights_file")


def _wrong_type(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace("bootstrap = 10", 'bootstrap = "many"')
    return text, ("evaluation.bootstrap", "valid integer", "'many'")


def _wrong_type_seeds(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    return study_text(tree, top='seeds = "zero"\n'), ("seeds", "valid tuple", "'zero'")


def _coreset_zero(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    return study_text(tree, ratio="0.0"), ("coreset_ratio=0.0", "allowed range (0, 1]")


def _coreset_negative(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    return study_text(tree, ratio="-0.1"), ("coreset_ratio=-0.1", "allowed range (0, 1]")


def _coreset_above_one(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    return study_text(tree, ratio="1.5"), ("coreset_ratio=1.5", "use e.g. 0.01, 0.1 or 0.25")


def _unknown_detector(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace('name = "patchcore"', 'name = "patchcor"')
    return text, ("detectors.0.name", "'patchcore', 'padim' or 'anomalib'", "'patchcor'")


def _unknown_backbone(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree, backbone='{ name = "resnet9000", resize = 48, crop = 48 }')
    return text, ("backbone 'resnet9000' is not a timm model", "timm.list_models()")


def _unsafe_label(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace('name = "patchcore"', 'name = "patchcore"\nlabel = "../up"')
    return text, ("detectors.0.label", "'../up' cannot name a results folder", "rename it")


def _unsafe_category(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree, categories='["../alpha"]')
    return text, ("data.categories", "'../alpha' cannot name a results folder")


def _weights(backbone: str, weights: Path) -> str:
    return f'{{ name = "{backbone}", weights_file = "{weights}", resize = 48, crop = 48 }}'


def _with_layers(text: str, layers: str) -> str:
    """`text` with PatchCore reading `layers` (the default ones are Lite0's), so that the
    weights are the only fault: the layers are checked before the weights are loaded."""
    return text.replace('target_dim = "none"', f'target_dim = "none", layers = {layers}')


def _weights_missing(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    path = tmp / "nowhere.safetensors"
    text = study_text(tree, backbone=_weights("resnet18", path))
    return text, (f"weights file {path} does not exist", "check the weights_file path")


def _weights_folder(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    path = tmp / "weights"
    path.mkdir()
    text = study_text(tree, backbone=_weights("resnet18", path))
    return text, (f"weights file {path} is a folder", "give the path of the .safetensors/.pth")


def _weights_fifo(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    path = tmp / "weights.pth"
    os.mkfifo(path)  # reading it would block for ever: it must be refused unread
    text = study_text(tree, backbone=_weights("resnet18", path))
    return text, (f"weights file {path} is a FIFO, not a regular file", "give the path of the")


def _weights_wrong_architecture(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    path = tmp / "small.pth"
    torch.save(timm.create_model("mobilenetv3_small_050", pretrained=False).state_dict(), path)
    text = study_text(tree, backbone=_weights("mobilenetv3_small_075", path))
    text = _with_layers(text, '["blocks.1", "blocks.3"]')
    return text, (
        f"weights file {path} does not fit backbone 'mobilenetv3_small_075'",
        "shape mismatches",
        "give weights trained for mobilenetv3_small_075 or change backbone.name",
    )


class _Payload:
    """Not a tensor: loading it would mean unpickling arbitrary objects."""


def _weights_pickled_object(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    path = tmp / "pickled.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": _Payload()}, path)
    text = _with_layers(study_text(tree, backbone=_weights("resnet18", path)), '["layer2"]')
    return text, (f"weights file {path} cannot be read as tensors only", "state dict saved")


def _escaping_name(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace('name = "bad"', 'name = "../../elsewhere"')
    return text, ("name: name '../../elsewhere' cannot name a results folder", "rename it")


def _label_too_long(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace(
        'name = "patchcore"', f'name = "patchcore"\nlabel = "{"p" * 90}"'
    )
    return text, ("detectors.0.label", "90 characters long, more than the 64")


def _sweep_values_alike(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    sweep = '[[sweeps]]\ndetector = "patchcore"\nparam = "params.coreset_ratio"\n'
    text = study_text(tree, extra=sweep + 'values = [0.5, "0.5"]\n')
    return text, ("values 0.5 and '0.5' of params.coreset_ratio would name the same cell",)


def _seed_out_of_range(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    return study_text(tree, top="seeds = [0, 4294967296]\n"), ("seeds.1", "4294967295")


def _quantile_of_one(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    extra = '[evaluation.pixel_threshold]\nstrategy = "quantile"\nquantile = 1.0\n'
    return study_text(tree, extra=extra), ("evaluation.pixel_threshold.quantile", "less than 1")


def _bootstrap_too_many(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    text = study_text(tree).replace("bootstrap = 10", "bootstrap = 100000000")
    return text, ("evaluation.bootstrap", "less than or equal to 100000")


def _tiny_image(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    bad = tree / "alpha/train/good/002.png"
    Image.fromarray(np.zeros((20, 48, 3), np.uint8)).save(bad)
    return study_text(tree), (f"{bad}: image of 48x20 pixels is smaller than 32", "too small")


def _same_sample_id(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    twin = tree / "alpha/test/good/000.jpg"
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(twin)
    return study_text(tree), (str(twin), str(twin.with_suffix(".png")), "rename all but one")


def _float_image(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    bad = tree / "alpha/train/good/100.tif"
    Image.fromarray(np.ones((48, 48), np.float32)).save(bad)
    return study_text(tree), (f"{bad}: floating-point pixels (mode F)",)


def _unreadable_toml(tmp: Path, tree: Path) -> tuple[str, tuple[str, ...]]:
    return "name = [unterminated\n", ("unreadable configuration", "line 1")


CASES = [
    Case("missing data root", _missing_root),
    Case("empty category", _empty_category),
    Case("corrupt PNG", _corrupt_png),
    Case("truncated PNG", _truncated_png),
    Case("mask/image size mismatch", _mask_size),
    Case("non-binary mask", _non_binary_mask),
    Case("missing mask for a defect", _missing_mask),
    Case("unknown category", _unknown_category),
    Case("unknown synthetic category", _unknown_synthetic_category),
    Case("unknown config key", _unknown_key),
    Case("unknown detector param", _unknown_param),
    Case("unknown backbone key", _unknown_backbone_key),
    Case("wrong value type", _wrong_type),
    Case("wrong value type (seeds)", _wrong_type_seeds),
    Case("coreset ratio 0", _coreset_zero),
    Case("coreset ratio < 0", _coreset_negative),
    Case("coreset ratio > 1", _coreset_above_one),
    Case("unknown detector", _unknown_detector),
    Case("unknown backbone", _unknown_backbone),
    Case("label escaping the results folder", _unsafe_label),
    Case("category escaping the results folder", _unsafe_category),
    Case("weights file missing", _weights_missing, code=3),
    Case("weights file is a folder", _weights_folder, code=3),
    Case("weights file is a FIFO", _weights_fifo, code=3),
    Case("weights file of the wrong architecture", _weights_wrong_architecture, code=3),
    Case("weights file holding pickled objects", _weights_pickled_object, code=3),
    Case("unreadable TOML", _unreadable_toml),
    Case("study name escaping the results folder", _escaping_name),
    Case("label longer than 64 characters", _label_too_long),
    Case("sweep values naming the same cells", _sweep_values_alike),
    Case("seed above 2**32 - 1", _seed_out_of_range),
    Case("quantile of 1", _quantile_of_one),
    Case("bootstrap above 100000", _bootstrap_too_many),
    Case("image smaller than 32 pixels", _tiny_image),
    Case("two images with one sample id", _same_sample_id),
    Case("floating-point image", _float_image),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_run_input(case: Case, make_tree: TreeFactory, tmp_path: Path) -> None:
    tree = small_tree(make_tree)
    text, says = case.make(tmp_path, tree)
    config = tmp_path / "study.toml"
    config.write_text(text)
    out = tmp_path / "results"
    result = run_cli(config, out, tmp_path / "cache")
    assert_clean_error(result, case.code, says)
    assert result.output.startswith("error: ")
    if case.code == 2 and "configuration" in result.output:
        assert str(config) in result.output  # configuration errors name the file
    assert not out.exists()  # no results folder is left behind, not even an empty one


def test_a_tree_checked_once_is_checked_again_when_a_file_changes(
    make_tree: TreeFactory, tmp_path: Path
) -> None:
    """Every image is opened once per dataset content (a stamp in the cache, named by the
    fingerprint); a file that changes afterwards changes the fingerprint and is checked."""
    tree = small_tree(make_tree)
    config = tmp_path / "study.toml"
    config.write_text(study_text(tree))
    cache = tmp_path / "cache"
    first = run_cli(config, tmp_path / "first", cache)
    assert first.exit_code == 0, first.output
    assert len(list((cache / "checked").glob("*.json"))) == 2  # the clean tree, its shifted copy
    bad = tree / "alpha/test/good/000.png"
    bad.write_bytes(bad.read_bytes()[:300])
    again = run_cli(config, tmp_path / "again", cache)
    assert_clean_error(again, 2, (str(bad), "truncated"))
    assert not (tmp_path / "again").exists()


def test_missing_configuration_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = run_cli(missing, tmp_path / "out", tmp_path / "cache")
    assert_clean_error(result, 2, (str(missing), "configuration file not found"))
    assert not (tmp_path / "out").exists()


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    config = tmp_path / "study.yaml"
    config.write_text("- just\n- a list\n")
    result = run_cli(config, tmp_path / "out", tmp_path / "cache")
    assert_clean_error(result, 2, (str(config), "must be a mapping of keys to values"))


def test_unknown_preset_and_bad_options(tmp_path: Path) -> None:
    result = invoke("run", "--preset", "huge", "--out", tmp_path / "out", "--quiet")
    assert_clean_error(
        result, 2, ("unknown preset 'huge'", "known presets: demo, paper, demo-anomalib")
    )
    config = tmp_path / "study.toml"
    config.write_text(study_text(tmp_path / "data"))  # out and cache beside the data, not in it
    result = run_cli(config, tmp_path / "out", tmp_path / "cache", "--workers", "0")
    assert_clean_error(result, 2, ("--workers 0", "must be >= 1"))
    result = run_cli(config, tmp_path / "out", tmp_path / "cache", "--shard", "3/2")
    assert result.exit_code == 2 and "'3/2': i must be between 1 and n" in result.output
    assert not (tmp_path / "out").exists()


# --- folders that cannot be written --------------------------------------------------------------


def test_results_folder_not_writable(make_tree: TreeFactory, tmp_path: Path) -> None:
    """Tests run as root, for whom permission bits do not stop a write; a results folder under a
    regular file cannot be created by anyone (ENOTDIR), the same failure as an unwritable mount."""
    config = tmp_path / "study.toml"
    config.write_text(study_text(small_tree(make_tree)))
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    out = blocker / "results"
    result = run_cli(config, out, tmp_path / "cache")
    assert_clean_error(result, 2, (str(out), "results folder is not writable", "another --out"))
    result = run_cli(config, blocker, tmp_path / "cache")
    assert_clean_error(result, 2, (str(blocker), "is a file, not a folder", "another --out"))
    assert blocker.read_text() == "keep me"


def test_results_folder_without_write_permission(make_tree: TreeFactory, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores permission bits; see test_results_folder_not_writable")
    config = tmp_path / "study.toml"
    config.write_text(study_text(small_tree(make_tree)))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        result = run_cli(config, locked / "out", tmp_path / "cache")
    finally:
        locked.chmod(0o700)
    assert_clean_error(result, 2, ("results folder is not writable", "another --out"))


def test_cache_folder_not_writable(make_tree: TreeFactory, tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text(study_text(small_tree(make_tree)))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli(config, tmp_path / "out", blocker / "cache")
    assert_clean_error(result, 2, (str(blocker / "cache"), "cache folder is not writable"))
    assert "another --cache" in result.output
    assert not (tmp_path / "out").exists()


# --- downloads and archives ----------------------------------------------------------------------


def _archive(path: Path, tree: Path, extra: tarfile.TarInfo | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for file in sorted(tree.rglob("*")):
            tar.add(file, arcname=str(file.relative_to(tree)), recursive=False)
        if extra is not None:
            data = b"evil" if extra.isfile() else None
            if data is not None:
                extra.size = len(data)
            tar.addfile(extra, io.BytesIO(data) if data is not None else None)
    return path


def _sources(tmp: Path, archive: Path, sha256: str | None = None) -> Path:
    from evalsuite.digest import file_sha256

    path = tmp / "sources.json"
    digest = sha256 or file_sha256(archive)
    path.write_text(json.dumps({"full": {"url": archive.as_uri(), "sha256": digest}}))
    return path


def _download(tmp: Path, sources: Path) -> Result:
    return invoke(
        "data", "download", "--out", tmp / "mvtec", "--categories", "alpha",
        "--sources", sources, "--quiet",
    )  # fmt: skip


def test_checksum_mismatch_on_download(make_tree: TreeFactory, tmp_path: Path) -> None:
    archive = _archive(tmp_path / "mvtec.tar.gz", small_tree(make_tree))
    result = _download(tmp_path, _sources(tmp_path, archive, sha256="ab" * 32))
    assert_clean_error(
        result, 3, (archive.as_uri(), "checksum mismatch", "the partial file was deleted")
    )
    assert "--sources with the right checksum" in result.output
    assert not (tmp_path / "mvtec" / "alpha").exists()
    assert not (tmp_path / "mvtec").exists()  # nothing left behind: not even empty folders


def _member(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


UNSAFE_MEMBERS = [
    ("absolute path", _member("/tmp/evalsuite-escape.txt", tarfile.REGTYPE), "absolute path"),
    ("../ member", _member("alpha/../../escape.txt", tarfile.REGTYPE), "points outside"),
    (
        "symlink",
        _member("alpha/train/good/link.png", tarfile.SYMTYPE, "/etc/passwd"),
        "is a link",
    ),
    (
        "hard link",
        _member("alpha/train/good/hard.png", tarfile.LNKTYPE, "alpha/train/good/000.png"),
        "is a link",
    ),
    ("device", _member("alpha/train/good/dev", tarfile.CHRTYPE), "device or special file"),
]


@pytest.mark.parametrize(
    ("member", "says"),
    [(m, s) for _, m, s in UNSAFE_MEMBERS],
    ids=[name for name, _, _ in UNSAFE_MEMBERS],
)
def test_unsafe_archive_member(
    member: tarfile.TarInfo, says: str, make_tree: TreeFactory, tmp_path: Path
) -> None:
    archive = _archive(tmp_path / "mvtec.tar.gz", small_tree(make_tree), extra=member)
    result = _download(tmp_path, _sources(tmp_path, archive))
    out = tmp_path / "mvtec"
    fetched = out / ".downloads" / archive.name
    assert_clean_error(result, 2, (str(fetched), repr(member.name), says, "refusing"))
    assert "Nothing was extracted" in result.output and "check where it came from" in result.output
    assert not (out / "alpha").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".extract")]
    assert not (tmp_path / "escape.txt").exists()
    assert not Path("/tmp/evalsuite-escape.txt").exists()


# --- runs that fail midway, and folders holding corrupt files -------------------------------------

RESUMABLE = tiny_toml("resumable", ["clean/none", "shift/none", "shift/retrain"], ["carpet"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(config, results folder of one uninterrupted run, cache) of a tiny synthetic study:
    one category, three cells, two fits."""
    base = tmp_path_factory.mktemp("finished")
    config = base / "study.toml"
    config.write_text(RESUMABLE)
    result = run_cli(config, base / "reference", base / "cache")
    assert result.exit_code == 0, result.output
    return config, base / "reference", base / "cache"


def numbers(out: Path) -> dict[str, Any]:
    """Everything a cell computed: status, metrics, thresholds, per-image scores."""
    return {
        str(path): (record["status"], record["metrics"], record["threshold"], record["scores"])
        for path, record in results.iter_cells(out)
    }


def _full_disk_at(
    call: int, out: Path, patch: pytest.MonkeyPatch, name: str, once: bool
) -> list[int]:
    """Make `os.<name>` (`replace` or `fsync`) fail with ENOSPC at its `call`-th use on a file
    under `out`: from then on (a full disk), or `once` (space freed at once)."""
    real = getattr(os, name)
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        target = args[1] if name == "replace" else os.readlink(f"/proc/self/fd/{args[0]}")
        if Path(target).resolve().is_relative_to(out.resolve()):
            calls[0] += 1
            if calls[0] == call or (calls[0] > call and not once):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        return real(*args, **kwargs)

    patch.setattr(os, name, failing)
    return calls


# The tiny study renames 30 files into its results folder (fitted models, cells, artifacts: each
# strip and its raw map, the manifest last) and fsyncs 12 of them (fits' metadata, cells,
# manifest).
FULL_DISK = [
    ("replace", 1, False),  # the first file of the first fitted model
    ("replace", 9, False),  # an artifact of the first cell
    ("replace", 29, False),  # a cell of the second fit
    ("replace", 30, False),  # the manifest, after every cell
    ("fsync", 3, False),  # the first cell's record, while flushing
    ("replace", 2, True),  # one failed write while saving a fit; then space again
    ("fsync", 10, True),  # one failed flush of a later cell; then space again
]


@pytest.mark.parametrize(
    ("name", "call", "once"),
    FULL_DISK,
    ids=[f"{n}-{c}{'-once' if o else ''}" for n, c, o in FULL_DISK],
)
def test_full_disk_midway_leaves_no_corrupt_file_and_a_rerun_completes(
    name: str, call: int, once: bool, finished: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config, reference, cache = finished
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as patch:
        calls = _full_disk_at(call, out, patch, name, once)
        result = run_cli(config, out, cache)
    assert calls[0] >= call  # the disk did fill up during the run
    assert result.exit_code in (1, 3), result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert os.strerror(errno.ENOSPC) in result.output
    if result.exit_code == 3:  # the run stopped: it names the file, what is kept, how to resume
        assert ".tmp" not in result.output and f"error: {out}/" in result.output
        assert f"every finished cell is kept in {out}" in result.output
        assert "run the same command again to resume" in result.output
    else:  # the failure was recorded with its cells and the run went on
        assert "failed cells:" in result.output
    assert_no_partial_results(out)
    again = run_cli(config, out, cache)
    assert again.exit_code == 0, again.output
    assert numbers(out) == numbers(reference)


def test_corrupt_cell_is_named_by_site_and_recomputed_by_run(
    finished: tuple[Path, Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config, reference, cache = finished
    out = shutil.copytree(reference, tmp_path / "out")
    corrupt = out / "cells/patchcore/per_class/none/shift/carpet.json"
    corrupt.write_text('{"schema": "evalsuite.cell/1", "id": ')
    site = invoke("site", "--results", out, "--out", tmp_path / "site")
    assert_clean_error(site, 2, (str(corrupt), "is not valid JSON", "delete it and rerun"))
    assert not (tmp_path / "site" / "index.html").exists()
    rerun = run_cli(config, out, cache)
    assert rerun.exit_code == 0, rerun.output
    assert f"cell file {corrupt} is corrupt; recomputing it" in caplog.messages
    assert "3 cells: 3 ok, 0 failed, 2 cached" in rerun.output
    assert numbers(out) == numbers(reference)
    assert invoke("site", "--results", out, "--out", tmp_path / "site").exit_code == 0


def test_corrupt_fitted_model_is_fitted_again(
    finished: tuple[Path, Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config, reference, cache = finished
    out = shutil.copytree(reference, tmp_path / "out")
    for bank in out.glob("fits/*/memory_bank.npy"):
        bank.write_bytes(bank.read_bytes()[:100])
    for cell in (out / "cells").rglob("*.json"):
        cell.unlink()
    rerun = run_cli(config, out, cache)
    assert rerun.exit_code == 0, rerun.output
    assert any("cannot be loaded" in m and "fitting it again" in m for m in caplog.messages)
    assert numbers(out) == numbers(reference)
    for bank in out.glob("fits/*/memory_bank.npy"):
        np.load(bank, allow_pickle=False)
