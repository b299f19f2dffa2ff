"""Preprocessing follows the weights' own config; images and masks get the same geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import resolve_data_config

from evalsuite.backbone import Preprocessing
from evalsuite.errors import ConfigError


def _data_config(name: str) -> dict[str, object]:
    cfg = timm.models.get_pretrained_cfg(name)
    assert cfg is not None
    return dict(resolve_data_config({}, pretrained_cfg=cfg.to_dict()))


def test_paper_backbone_resizes_256_and_crops_224() -> None:
    preprocessing = Preprocessing.from_data_config(
        _data_config("wide_resnet50_2.tv_in1k"), None, None
    )
    assert (preprocessing.resize, preprocessing.crop) == (256, 224)
    assert preprocessing.interpolation == "bilinear"
    assert preprocessing.mean == pytest.approx((0.485, 0.456, 0.406))
    assert preprocessing.std == pytest.approx((0.229, 0.224, 0.225))


def test_overrides_keep_the_crop_ratio() -> None:
    config = _data_config("tf_efficientnet_lite0")
    assert Preprocessing.from_data_config(config, None, 64).resize == round(64 / 0.875)
    assert Preprocessing.from_data_config(config, 100, 64).resize == 100
    with pytest.raises(ConfigError, match="crop 64 is larger than resize 48"):
        Preprocessing.from_data_config(config, 48, 64)


def test_image_resized_cropped_and_normalised(tmp_path: Path) -> None:
    preprocessing = Preprocessing(40, 32, (0.5, 0.25, 0.0), (0.5, 0.25, 1.0), "bilinear")
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((80, 60), 255, np.uint8), mode="L").save(path)
    image = preprocessing.load_image(path)
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    # white is 1.0 in every channel: (1 - mean) / std
    torch.testing.assert_close(image[:, 16, 16], torch.tensor([1.0, 3.0, 1.0]))


def test_mask_follows_the_image_geometry(tmp_path: Path) -> None:
    preprocessing = Preprocessing(32, 24, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "bicubic")
    # a 64x64 image whose right half is white, and its mask
    array = np.zeros((64, 64, 3), np.uint8)
    array[:, 32:] = 255
    Image.fromarray(array).save(tmp_path / "image.png")
    Image.fromarray(array[:, :, 0]).save(tmp_path / "mask.png")
    image = preprocessing.load_image(tmp_path / "image.png")
    mask = preprocessing.load_mask(tmp_path / "mask.png")
    assert mask.shape == (24, 24) and mask.dtype == bool
    # 64 -> 32 halves the image, the 24 crop drops 4 columns a side: the edge lands at 12
    assert not mask[:, :12].any() and mask[:, 12:].all()
    np.testing.assert_array_equal(image[0].numpy() > 0.5, mask)
    assert not preprocessing.load_mask(None).any()
    assert preprocessing.load_mask(None).shape == (24, 24)
