"""`evalsuite export ad2-submission` and `ad2-check` on a tiny study of a synthetic MVTec-layout
tree given MVTec AD 2's private test folders: the written tree has the server's structure and
passes the check, its maps are the fitted detector's own maps at each image's size, and every
kind of corruption is refused naming the file and the rule."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner, Result
from PIL import Image

from evalsuite.cli import main
from evalsuite.results import iter_cells
from evalsuite.submission.geometry import crop_offset, resized_size, to_original_size
from tests.test_cli_instant import probe

STUDY = """name = "ad2-mimic"
device = "cpu"
kinds = ["clean/none"]
scopes = ["per_class"]
[data]
source = "mvtec"
root = "{root}"
categories = ["hazelnut"]
[[detectors]]
name = "patchcore"
backbone = {{ resize = 64, crop = 64 }}
params = {{ coreset_ratio = 0.25, target_dim = "none" }}
[evaluation]
bootstrap = 0
artifacts_per_cell = 0
aupro_limits = [0.3, 0.05, 0.1]
pixel_threshold = {{ strategy = "mean_std", k = 3.0 }}
"""
PRIVATE = {  # split -> (image name, source test image, size it is stored at)
    "test_private": [
        ("000_regular", "good/000.png", None),
        ("001_regular", "good/001.png", (128, 128)),
        ("002_regular", "good/002.png", (80, 96)),
    ],
    "test_private_mixed": [
        ("000_mixed", "good/003.png", None),
        ("001_mixed", "good/000.png", None),
    ],
}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _mimic_tree(root: Path) -> None:
    """A synthetic MVTec-layout tree plus private folders of renamed (some resized) test
    images, as MVTec AD 2 names them."""
    small = ("--size", "64", "--train", "6", "--test-good", "4", "--test-defect", "6")
    done = invoke("data", "synth", "--out", root, "--categories", "hazelnut", *small)
    assert done.exit_code == 0, done.output
    for split, images in PRIVATE.items():
        (root / "hazelnut" / split).mkdir()
        for name, source, size in images:
            image = Image.open(root / "hazelnut" / "test" / source)
            if size is not None:  # nearest: the same content at another size
                image = image.resize((size[1], size[0]), Image.Resampling.NEAREST)
            image.save(root / "hazelnut" / split / f"{name}.png")


def run_and_export(study: str, base: Path, results: Path, cache: Path, out: Path) -> Result:
    """Run `study` (TOML text, written to `base`) into `results`, then export its submission to
    `out`; the export's result."""
    config = base / "study.toml"
    config.write_text(study, encoding="utf-8")
    done = invoke("run", "--config", config, "--out", results, "--cache", cache, "--quiet")
    assert done.exit_code == 0, done.output
    done = invoke("export", "ad2-submission", "--results", results, "--out", out, "--cache", cache)
    assert done.exit_code == 0, done.output
    return done


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The mimic tree, the study's results, and its submission (with masks)."""
    base = tmp_path_factory.mktemp("ad2")
    tree, results, cache, out = base / "tree", base / "results", base / "cache", base / "sub"
    _mimic_tree(tree)
    done = run_and_export(STUDY.format(root=tree), base, results, cache, out)
    assert "wrote 5 maps and 5 masks of 'patchcore' (1 category)" in done.output
    return {"tree": tree, "results": results, "cache": cache, "out": out}


def _clean_record(results: Path) -> dict[str, Any]:
    (record,) = [r for _, r in iter_cells(results) if r["condition"] == "clean"]
    return record


def _own_maps(made: dict[str, Path], paths: list[Path]) -> np.ndarray:
    """The fitted detector's maps of `paths`, from the registry's loader and the study's
    feature source, without the export's code."""
    from evalsuite.backbone.device import resolve_device
    from evalsuite.config import DetectorSpec, StudyConfig
    from evalsuite.data.samples import Sample
    from evalsuite.detectors.registry import load_detector
    from evalsuite.results import read_manifest
    from evalsuite.runner.planning.plan import backbone_key
    from evalsuite.runner.preparation.context import feature_sources

    config = StudyConfig.model_validate(read_manifest(made["results"])["config"])
    record = _clean_record(made["results"])
    spec = DetectorSpec.model_validate(record["config"]["detector"])
    device = resolve_device("cpu")
    features = feature_sources(config, made["cache"], device)[backbone_key(spec.backbone)]
    fit = made["results"] / "fits" / record["fit_id"]
    detector = load_detector(spec.ref, fit, features, device)
    samples = [
        Sample(f"x/{i}", p, "hazelnut", "test", 0, "good", None) for i, p in enumerate(paths)
    ]
    return np.asarray(detector.score(samples).maps)


def test_the_submission_has_the_servers_structure_and_passes_the_check(
    made: dict[str, Path],
) -> None:
    out = made["out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "anomaly_images",
        "anomaly_images_thresholded",
    ]
    for split, images in PRIVATE.items():
        maps = out / "anomaly_images" / "hazelnut" / split
        masks = out / "anomaly_images_thresholded" / "hazelnut" / split
        assert sorted(p.name for p in maps.iterdir()) == [f"{n}.tiff" for n, _, _ in images]
        assert sorted(p.name for p in masks.iterdir()) == [f"{n}.png" for n, _, _ in images]
        for name, _, size in images:
            amap = tifffile.imread(maps / f"{name}.tiff")
            mask = np.asarray(Image.open(masks / f"{name}.png"))
            assert amap.dtype == np.float16 and amap.shape == (size or (64, 64))
            assert mask.shape == amap.shape and set(np.unique(mask)) <= {0, 255}
    done = invoke("export", "ad2-check", out, "--data-root", made["tree"])
    assert done.exit_code == 0, done.output
    assert "5 maps, 5 masks; format check: ok" in done.output


def test_maps_are_the_detectors_own_maps_at_each_images_size(made: dict[str, Path]) -> None:
    tree, out = made["tree"] / "hazelnut", made["out"] / "anomaly_images" / "hazelnut"
    same = _own_maps(made, [tree / "test" / "good" / "000.png"])[0]  # a 64 px copy of it
    written = tifffile.imread(out / "test_private" / "000_regular.tiff")
    np.testing.assert_array_equal(written, same.astype(np.float16))
    big = tree / "test_private" / "001_regular.png"  # 128 px: the 64 px map upsampled twice
    (small,) = _own_maps(made, [big])
    written = tifffile.imread(out / "test_private" / "001_regular.tiff").astype(np.float64)
    np.testing.assert_allclose(written, _bilinear_twice(small), rtol=2e-3, atol=1e-6)


def _bilinear_twice(amap: np.ndarray) -> np.ndarray:
    """`amap` upsampled 2x bilinearly, pixel centres aligned, edges clamped: by its formula."""
    n = amap.shape[0]
    out = np.empty((2 * n, 2 * n))
    for y in range(2 * n):
        for x in range(2 * n):
            sy = min(max((y + 0.5) / 2 - 0.5, 0.0), n - 1.0)
            sx = min(max((x + 0.5) / 2 - 0.5, 0.0), n - 1.0)
            y0, x0 = int(sy), int(sx)
            y1, x1 = min(y0 + 1, n - 1), min(x0 + 1, n - 1)
            fy, fx = sy - y0, sx - x0
            top = amap[y0, x0] * (1 - fx) + amap[y0, x1] * fx
            bottom = amap[y1, x0] * (1 - fx) + amap[y1, x1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def test_the_run_records_every_aupro_limit_and_the_ad2_threshold(made: dict[str, Path]) -> None:
    record = _clean_record(made["results"])  # read and checked against the cell schema
    names = sorted(name for name in record["metrics"] if name.startswith("aupro_"))
    assert names == ["aupro_0.05", "aupro_0.1", "aupro_0.3"]
    assert isinstance(record["metrics"]["aupro_0.1"]["value"], float)
    assert record["threshold"]["pixel"]["strategy"] == "mean_std"


def test_masks_are_the_maps_at_the_clean_cells_pixel_threshold(made: dict[str, Path]) -> None:
    threshold = _clean_record(made["results"])["threshold"]["pixel"]["value"]
    for split, images in PRIVATE.items():
        for name, _, _ in images:
            amap = tifffile.imread(made["out"] / "anomaly_images/hazelnut" / split / f"{name}.tiff")
            path = made["out"] / "anomaly_images_thresholded/hazelnut" / split / f"{name}.png"
            mask = np.asarray(Image.open(path))
            clear = np.abs(amap.astype(np.float64) - threshold) > 1e-2 * abs(threshold)
            np.testing.assert_array_equal(mask[clear] == 255, (amap >= threshold)[clear])


def _float32(path: Path) -> None:
    tifffile.imwrite(path, tifffile.imread(path).astype(np.float32))


def _cropped(path: Path) -> None:
    tifffile.imwrite(path, tifffile.imread(path)[:-1])


def _nan(path: Path) -> None:
    amap = tifffile.imread(path)
    amap[3, 3] = np.nan
    tifffile.imwrite(path, amap)


def _grey(path: Path) -> None:
    mask = np.asarray(Image.open(path)).copy()
    mask[0, 0] = 1
    Image.fromarray(mask).save(path)


def _rgb(path: Path) -> None:
    Image.open(path).convert("RGB").save(path)


MAP = "anomaly_images/hazelnut/test_private/002_regular.tiff"
MASK = "anomaly_images_thresholded/hazelnut/test_private_mixed/001_mixed.png"
SPLIT = "anomaly_images/hazelnut/test_private"


@pytest.mark.parametrize(
    ("target", "corrupt", "message"),
    [
        (
            MAP,
            Path.unlink,
            f"{SPLIT}: expected 3 files (one per image of hazelnut/test_private), found 2",
        ),
        (MAP, lambda p: p.rename(p.with_name("002.tiff")), f"{SPLIT}: superfluous 002.tiff"),
        (MAP, _float32, f"{MAP}: dtype float32, the server expects float16"),
        (MAP, _cropped, f"{MAP}: shape (79, 96), its image's size is (80, 96)"),
        (MAP, _nan, f"{MAP}: holds values that are not finite"),
        (MAP, lambda p: p.write_bytes(b"not a tiff"), f"{MAP}: unreadable TIFF"),
        (MASK, _grey, f"{MASK}: values [1] besides 0 (normal) and 255 (anomalous)"),
        (MASK, _rgb, f"{MASK}: not a single-channel image"),
        ("notes.txt", lambda p: p.write_text("hi"), "superfluous notes.txt beside the top"),
        (
            "anomaly_images/hazelnut/test_private_mixed",
            shutil.rmtree,
            "anomaly_images/hazelnut: missing test_private_mixed",
        ),
        ("anomaly_images/zipper", Path.mkdir, "anomaly_images: superfluous zipper"),
        (
            "anomaly_images_thresholded/hazelnut/test_private",
            lambda p: shutil.rmtree(p) or p.write_text("x"),
            "anomaly_images_thresholded/hazelnut/test_private: a file where a folder belongs",
        ),
    ],
)
def test_the_check_refuses_a_broken_submission_naming_the_file_and_rule(
    made: dict[str, Path], tmp_path: Path, target: str, corrupt: Any, message: str
) -> None:
    copy = tmp_path / "sub"
    shutil.copytree(made["out"], copy)
    corrupt(copy / target)
    done = invoke("export", "ad2-check", copy, "--data-root", made["tree"])
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert "Traceback" not in done.output


def test_an_existing_folder_with_files_is_refused_and_kept(
    made: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    done = invoke("export", "ad2-submission", "--results", made["results"], "--out", out)
    assert done.exit_code == 2 and "mine.txt" in done.output
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_without_masks_only_the_maps_are_written(made: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "maps-only"
    done = invoke(
        "export", "ad2-submission", "--results", made["results"], "--out", out,
        "--cache", made["cache"], "--no-masks",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert [p.name for p in out.iterdir()] == ["anomaly_images"]
    assert "note: no anomaly_images_thresholded/" in done.output
    for name in ("000_regular", "002_regular"):
        path = f"anomaly_images/hazelnut/test_private/{name}.tiff"
        np.testing.assert_array_equal(
            tifffile.imread(out / path), tifffile.imread(made["out"] / path)
        )


def test_an_unknown_detector_or_missing_private_images_is_refused(
    made: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "none"
    done = invoke(
        "export", "ad2-submission", "--results", made["results"], "--out", out,
        "--detector", "padim",
    )  # fmt: skip
    assert done.exit_code == 2 and "no detector 'padim' in the study" in done.output
    bare = tmp_path / "bare"
    shutil.copytree(made["tree"], bare, ignore=shutil.ignore_patterns("test_private_mixed"))
    done = invoke(
        "export", "ad2-submission", "--results", made["results"], "--out", out,
        "--data-root", bare,
    )  # fmt: skip
    assert done.exit_code == 2 and "hazelnut/test_private_mixed: missing folder" in done.output
    assert not out.exists()
    inside = made["results"] / "submission"
    done = invoke("export", "ad2-submission", "--results", made["results"], "--out", inside)
    assert done.exit_code == 2 and "overlaps the results folder" in done.output
    assert not inside.exists()


def test_the_check_imports_no_model_library(made: dict[str, Path]) -> None:
    report, output = probe("export", "ad2-check", made["out"], "--data-root", made["tree"])
    assert report["code"] == 0, output
    assert report["heavy"] == [], report["heavy"]


@pytest.mark.parametrize("size", [(64, 64), (80, 96), (97, 60), (300, 200)])
def test_the_crop_is_found_where_torchvision_puts_it(size: tuple[int, int]) -> None:
    """An image whose pixels hold their own index, resized (nearest) and centre-cropped as the
    backbone's preprocessing does: the crop's size and offset are the ones predicted."""
    import torchvision.transforms.functional as tf
    from torchvision.transforms import InterpolationMode

    resize, crop = 64, 48
    index = Image.fromarray(np.arange(size[0] * size[1], dtype=np.int32).reshape(size))
    resized = tf.resize(index, [resize], interpolation=InterpolationMode.NEAREST)
    assert (resized.height, resized.width) == resized_size(size, resize)
    cropped = np.asarray(tf.center_crop(resized, [crop]))
    top, left = crop_offset(resized_size(size, resize), crop)
    np.testing.assert_array_equal(
        cropped, np.asarray(resized)[top : top + crop, left : left + crop]
    )


def test_the_map_goes_back_to_its_place_in_the_image() -> None:
    amap = np.zeros((48, 48), dtype=np.float32)
    amap[10:12, 20:23] = 5.0
    back = to_original_size(amap, (64, 80), resize=64)  # no scaling: placed at (8, 16)
    assert back.shape == (64, 80)
    expected = np.zeros((64, 80), dtype=np.float32)
    expected[8 + 10 : 8 + 12, 16 + 20 : 16 + 23] = 5.0
    np.testing.assert_array_equal(back, expected)
    edge = np.arange(48, dtype=np.float32)[None, :].repeat(48, axis=0)
    back = to_original_size(edge, (64, 80), resize=64)
    np.testing.assert_array_equal(back[:, :16], 0.0)  # the cut border takes the edge's value
    np.testing.assert_array_equal(back[:, 16 + 48 :], 47.0)


def test_a_submission_that_fails_the_check_never_lands(
    made: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A map written one row short is caught by the check on the staging folder: exit 2 naming
    it, and neither the folder nor a staging folder is left behind."""
    from evalsuite.submission import export

    def short(amap: np.ndarray, size: tuple[int, int], resize: int) -> np.ndarray:
        return to_original_size(amap, size, resize)[:-1]

    monkeypatch.setattr(export, "to_original_size", short)
    out = tmp_path / "sub"
    done = invoke(
        "export", "ad2-submission", "--results", made["results"], "--out", out,
        "--cache", made["cache"],
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert "anomaly_images/hazelnut/test_private/000_regular.tiff: shape (63, 64)" in done.output
    assert list(tmp_path.iterdir()) == []


def test_a_model_whose_backbone_weights_changed_is_refused(
    made: dict[str, Path], tmp_path: Path
) -> None:
    import json

    results = tmp_path / "results"
    shutil.copytree(made["results"], results)
    (path,) = (results / "cells").rglob("*.json")
    record = json.loads(path.read_text())
    record["provenance"]["weights"]["sha256"] = "0" * 64  # the run's weights were others
    path.write_text(json.dumps(record))
    done = invoke(
        "export", "ad2-submission", "--results", results, "--out", tmp_path / "sub",
        "--cache", made["cache"],
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert "are not the ones the run used" in done.output and "0" * 64 in done.output
    assert not (tmp_path / "sub").exists()


def test_a_tree_without_private_images_is_refused(made: dict[str, Path], tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(made["tree"], bare, ignore=shutil.ignore_patterns("test_private*"))
    done = invoke("export", "ad2-check", made["out"], "--data-root", bare)
    assert done.exit_code == 2 and "no category of" in done.output


def test_a_study_on_the_mvtec_ad2_mimic_tree_exports_a_submission_the_check_accepts(
    tmp_path: Path,
) -> None:
    """The whole path on the layout itself: `data synth --layout mvtec_ad2`, a study with
    `data.layout = "mvtec_ad2"` (the protocol's thresholds by default), the export of every
    private image of the tree, and the format check against that tree."""
    tree, results, cache, out = (tmp_path / name for name in ("tree", "results", "c", "sub"))
    small = ("--size", "64", "--train", "6", "--test-good", "1", "--test-defect", "2")
    done = invoke("data", "synth", "--layout", "mvtec_ad2", "--out", tree,
                  "--categories", "zipper", *small)  # fmt: skip
    assert done.exit_code == 0, done.output
    study = STUDY.replace(
        'categories = ["hazelnut"]', 'categories = ["zipper"]\nlayout = "mvtec_ad2"'
    )
    study = study.replace('pixel_threshold = {{ strategy = "mean_std", k = 3.0 }}\n', "")
    run_and_export(study.format(root=tree), tmp_path, results, cache, out)
    from evalsuite.data.layouts.mvtec_ad2 import private_images

    expected = private_images(tree, "zipper")
    for split, images in expected.items():
        written = sorted((out / "anomaly_images" / "zipper" / split).iterdir())
        assert [p.stem for p in written] == [p.stem for p in images] and images
        assert all(tifffile.imread(p).dtype == np.float16 for p in written)
    done = invoke("export", "ad2-check", out, "--data-root", tree)
    assert done.exit_code == 0, done.output
