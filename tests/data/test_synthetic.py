"""The synthetic MVTec-like generator: layout, determinism, exact masks, marker, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from evalsuite.data.synthetic import (
    CATEGORIES,
    DEFECTS,
    GENERATOR_VERSION,
    SYNTHETIC_MARKER,
    SyntheticConfig,
    generate,
    read_marker,
    render,
    sample_seed,
)
from evalsuite.data.synthetic import writer as writer_module
from evalsuite.data.synthetic.config import defect_counts
from evalsuite.data.synthetic.defects import EDGE_PX
from evalsuite.errors import ConfigError, DatasetError

SMALL = SyntheticConfig(size=64, n_train=3, n_test_good=2, n_test_defect=5, seed=7)


def _files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `root`."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small synthetic tree, generated once for the module."""
    return generate(tmp_path_factory.mktemp("synth") / "data", SMALL)


def test_tree_has_mvtec_layout_and_counts(small_tree: Path) -> None:
    for category in CATEGORIES:
        base = small_tree / category
        assert sorted(p.name for p in (base / "train" / "good").iterdir()) == [
            "000.png",
            "001.png",
            "002.png",
        ]
        assert len(list((base / "test" / "good").glob("*.png"))) == 2
        defect_folders = sorted(p.name for p in (base / "test").iterdir() if p.name != "good")
        assert defect_folders == sorted(DEFECTS[category])
        for defect in DEFECTS[category]:
            # 5 defective images: hazelnut's 4 types get 2, 1, 1, 1; the 5-type categories 1 each.
            count = 2 if (category, defect) == ("hazelnut", "crack") else 1
            images = sorted(p.stem for p in (base / "test" / defect).glob("*.png"))
            masks = sorted(p.stem for p in (base / "ground_truth" / defect).glob("*.png"))
            assert images == [f"{i:03d}" for i in range(count)]
            assert masks == [f"{i:03d}_mask" for i in range(count)]
    assert sorted(p.name for p in small_tree.iterdir()) == sorted([*CATEGORIES, SYNTHETIC_MARKER])


def test_images_and_masks_have_the_right_modes_sizes_and_values(small_tree: Path) -> None:
    for category in CATEGORIES:
        expected_mode = "L" if category == "zipper" else "RGB"
        for path in (small_tree / category).glob("train/good/*.png"):
            with Image.open(path) as image:
                assert (image.mode, image.size) == (expected_mode, (64, 64))
        for defect in DEFECTS[category]:
            with Image.open(small_tree / category / "test" / defect / "000.png") as image:
                assert (image.mode, image.size) == (expected_mode, (64, 64))
            with Image.open(small_tree / category / "ground_truth" / defect / "000_mask.png") as m:
                assert (m.mode, m.size) == ("L", (64, 64))
                values = np.asarray(m)
            assert set(np.unique(values).tolist()) == {0, 255}, f"{category}/{defect}"


def test_same_seed_gives_byte_identical_trees(small_tree: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", SMALL)
    assert _files(again) == _files(small_tree)


def test_other_seed_changes_every_image(small_tree: Path, tmp_path: Path) -> None:
    other = _files(generate(tmp_path / "other", SyntheticConfig(**{**SMALL.as_dict(), "seed": 8})))
    first = _files(small_tree)
    images = [name for name in first if name.endswith(".png") and "ground_truth" not in name]
    assert images and all(other[name] != first[name] for name in images)


def test_changing_counts_keeps_the_other_images(small_tree: Path, tmp_path: Path) -> None:
    bigger = SyntheticConfig(**{**SMALL.as_dict(), "n_train": 5, "n_test_good": 1})
    grown = _files(generate(tmp_path / "grown", bigger))
    first = _files(small_tree)
    for name, content in first.items():
        if name.endswith(".png") and "test/good/001" not in name:
            assert grown[name] == content, name
    assert "hazelnut/train/good/004.png" in grown


@pytest.mark.parametrize(
    ("category", "defect"),
    [(category, defect) for category in CATEGORIES for defect in DEFECTS[category]],
)
def test_defect_changes_the_image_inside_its_mask_only(category: str, defect: str) -> None:
    config = SyntheticConfig(size=96)
    for index in range(3):
        seed = sample_seed(config, category, "test", defect, index)
        image, mask = render(category, config, seed, defect)
        base, no_mask = render(category, config, seed)
        assert not no_mask.any()
        assert image.shape == base.shape and mask.shape == (96, 96)
        assert 0.0005 < mask.mean() < 0.15, f"mask covers {mask.mean():.2%}"
        delta = np.abs(image.astype(np.int16) - base.astype(np.int16))
        delta = delta.max(axis=2) if delta.ndim == 3 else delta
        near = ndimage.binary_dilation(mask, structure=np.ones((3, 3)), iterations=EDGE_PX)
        assert int((delta[~near] > 0).sum()) == 0, "pixels changed away from the mask"
        assert (delta[mask] > 2).mean() > 0.5, "most of the mask should visibly change"
        assert delta[mask].mean() > 3.0


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).astype(np.int16)


def test_written_good_images_carry_no_defect_and_defects_sit_in_their_masks(
    small_tree: Path,
) -> None:
    """Each written image against the defect-free render of its own seed: a test/good image is
    that render exactly; a defective one differs from it visibly inside its written mask and
    nowhere away from it."""
    for category in CATEGORIES:
        folder = small_tree / category / "test"
        for path in sorted((folder / "good").glob("*.png")):
            seed = sample_seed(SMALL, category, "test", "good", int(path.stem))
            assert np.array_equal(_pixels(path), render(category, SMALL, seed)[0])
        for defect in DEFECTS[category]:
            for path in sorted((folder / defect).glob("*.png")):
                seed = sample_seed(SMALL, category, "test", defect, int(path.stem))
                base = render(category, SMALL, seed)[0].astype(np.int16)
                delta = np.abs(_pixels(path) - base)
                delta = delta.max(axis=2) if delta.ndim == 3 else delta
                mask_file = (
                    small_tree / category / "ground_truth" / defect / f"{path.stem}_mask.png"
                )
                mask = _pixels(mask_file) > 0
                near = ndimage.binary_dilation(mask, np.ones((3, 3)), iterations=EDGE_PX)
                assert mask.any() and not delta[~near].any(), f"{path}: change outside its mask"
                assert (delta[mask] > 2).mean() > 0.5, f"{path}: its mask barely changed"


@pytest.mark.parametrize("category", CATEGORIES)
def test_normal_images_vary(category: str) -> None:
    config = SyntheticConfig(size=96)
    images = [
        render(category, config, sample_seed(config, category, "train", "good", i))[0].astype(
            np.float32
        )
        for i in range(4)
    ]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(images[i] - images[j]).mean() > 3.0
    brightness = [float(image.mean()) for image in images]
    assert max(brightness) - min(brightness) > 1.0


def test_hazelnut_pose_varies() -> None:
    config = SyntheticConfig(size=96)
    centres = []
    for i in range(6):
        image, _ = render("hazelnut", config, sample_seed(config, "hazelnut", "train", "good", i))
        nut = image.mean(axis=2) > 40
        centres.append(ndimage.center_of_mass(nut))
    spread = np.ptp(np.asarray(centres), axis=0)
    assert spread.max() > 2.0


def test_harder_difficulty_gives_weaker_defects() -> None:
    def total_change(difficulty: float) -> float:
        config = SyntheticConfig(size=64, difficulty=difficulty)
        total = 0.0
        for defect in DEFECTS["hazelnut"]:
            for index in range(4):
                seed = sample_seed(config, "hazelnut", "test", defect, index)
                image, _ = render("hazelnut", config, seed, defect)
                base, _ = render("hazelnut", config, seed)
                total += float(np.abs(image.astype(np.int16) - base.astype(np.int16)).sum())
        return total

    assert total_change(1.0) < 0.6 * total_change(0.0)


def test_marker_describes_the_tree(small_tree: Path) -> None:
    marker = read_marker(small_tree)
    assert marker == {
        "synthetic": True,
        "generator": "evalsuite.data.synthetic",
        "version": GENERATOR_VERSION,
        "seed": 7,
        "size": 64,
        "difficulty": 0.5,
        "categories": ["hazelnut", "carpet", "zipper"],
        "n_train": 3,
        "n_test_good": 2,
        "n_test_defect": 5,
    }


def test_read_marker_is_none_without_marker_and_rejects_corrupt_ones(tmp_path: Path) -> None:
    assert read_marker(tmp_path) is None
    (tmp_path / SYNTHETIC_MARKER).write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetError, match="unreadable"):
        read_marker(tmp_path)
    (tmp_path / SYNTHETIC_MARKER).write_text(json.dumps({"synthetic": False}), encoding="utf-8")
    with pytest.raises(DatasetError, match="synthetic"):
        read_marker(tmp_path)


def test_rerun_with_same_config_returns_without_rewriting(small_tree: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in small_tree.rglob("*")}
    assert generate(small_tree, SMALL) == small_tree
    assert {p: p.stat().st_mtime_ns for p in small_tree.rglob("*")} == before


def test_refuses_a_tree_made_with_other_parameters(small_tree: Path) -> None:
    with pytest.raises(ConfigError, match=r"other parameters.*another folder or delete it"):
        generate(small_tree, SyntheticConfig(**{**SMALL.as_dict(), "seed": 99}))


def test_refuses_a_foreign_non_empty_folder_but_fills_an_empty_one(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    config = SyntheticConfig(
        categories=("carpet",), size=64, n_train=1, n_test_good=0, n_test_defect=0
    )
    with pytest.raises(ConfigError, match="not a synthetic tree"):
        generate(foreign, config)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    generate(empty, config)
    assert (empty / "carpet" / "train" / "good" / "000.png").is_file()
    assert not (empty / "carpet" / "test").exists()
    with pytest.raises(ConfigError, match="is a file"):
        generate(foreign / "notes.txt", config)


def test_crash_leaves_no_tree_that_looks_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing_render(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) > 2:
            raise RuntimeError("disk full")
        return render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writer_module, "render", failing_render)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path / "out", SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"categories": ("hazelnut", "bottle")}, "'bottle'.*hazelnut, carpet, zipper"),
        ({"categories": ()}, "empty"),
        ({"categories": ("carpet", "carpet")}, "repeat"),
        ({"n_train": -1}, "n_train must be >= 0"),
        ({"n_test_defect": 2.5}, "n_test_defect must be an integer"),
        ({"size": 32}, r"size must be in \[64, 2048\]"),
        ({"seed": True}, "seed must be an integer"),
        ({"difficulty": 1.5}, r"difficulty must be in \[0, 1\]"),
    ],
)
def test_bad_config_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SyntheticConfig(**changes)  # type: ignore[arg-type]


def test_categories_accept_a_comma_separated_string() -> None:
    assert SyntheticConfig(categories="zipper, carpet").categories == ("zipper", "carpet")  # type: ignore[arg-type]


def test_render_refuses_unknown_category_and_defect() -> None:
    with pytest.raises(ConfigError, match="known"):
        render("bottle", SMALL, 0)
    with pytest.raises(ConfigError, match="crack, cut, hole, print"):
        render("hazelnut", SMALL, 0, "thread")


def test_defects_are_split_evenly() -> None:
    assert list(defect_counts("carpet", 24).values()) == [5, 5, 5, 5, 4]
    assert defect_counts("hazelnut", 24) == {"crack": 6, "cut": 6, "hole": 6, "print": 6}
    assert defect_counts("zipper", 2) == {"broken_teeth": 1, "fabric_interior": 1}
    assert defect_counts("zipper", 0) == {}


def test_a_tree_finished_meanwhile_by_another_process_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SyntheticConfig(
        categories=("hazelnut",), size=64, n_train=1, n_test_good=0, n_test_defect=1
    )
    out = tmp_path / "shared"
    reference = _files(generate(tmp_path / "reference", config))
    real_write = writer_module._write_category

    def racing_write(root: Path, category: str, config: SyntheticConfig) -> None:
        monkeypatch.setattr(writer_module, "_write_category", real_write)
        generate(out, config)  # another process finishes the same tree first
        real_write(root, category, config)

    monkeypatch.setattr(writer_module, "_write_category", racing_write)
    assert generate(out, config) == out
    assert _files(out) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference", "shared"]
