"""The Backbone: layer names, channels, strides, and features equal to the full network's."""

from __future__ import annotations

import pytest
import timm
import torch

from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.errors import ConfigError


def test_layers_channels_strides(resnet18: Backbone) -> None:
    assert resnet18.layer_names == ("act1", "layer1", "layer2", "layer3", "layer4")
    assert resnet18.channels(("layer1", "layer2", "layer3")) == {
        "layer1": 64,
        "layer2": 128,
        "layer3": 256,
    }
    assert resnet18.strides(("layer2", "layer3")) == {"layer2": 8, "layer3": 16}
    with pytest.raises(ConfigError, match=r"\['blocks.2'\].*available: act1, layer1"):
        resnet18.channels(("layer1", "blocks.2"))
    with pytest.raises(ConfigError, match="layer9"):
        resnet18.forward(torch.zeros(1, 3, 32, 32), ("layer9",))


def test_features_equal_the_full_network(resnet18: Backbone) -> None:
    full = timm.create_model("resnet18", pretrained=False).eval()
    full.load_state_dict(resnet18.state_dict(), strict=True)
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    expected = full.forward_intermediates(images, indices=[1, 2, 3], intermediates_only=True)
    got = resnet18.forward(images, ("layer3", "layer1", "layer2"))
    assert list(got) == ["layer3", "layer1", "layer2"]
    torch.testing.assert_close(got["layer1"], expected[0])
    torch.testing.assert_close(got["layer2"], expected[1])
    torch.testing.assert_close(got["layer3"], expected[2])
    # the layers-2-3 extractor stops after layer3: layer4 and the classifier are dropped
    unused = resnet18.unused_keys(("layer2", "layer3"))
    assert {key.split(".")[0] for key in unused} == {"layer4", "fc"}


def test_flattened_wrappers_get_the_weights() -> None:
    """ConvNeXt's features_only wrapper renames `stem.0` to `stem_0`; weights still load."""
    backbone = Backbone.from_config(BackboneConfig(name="convnext_atto", pretrained=False, crop=32))
    full = timm.create_model("convnext_atto", pretrained=False).eval()
    full.load_state_dict(backbone.state_dict(), strict=True)
    images = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    expected = full.forward_intermediates(images, indices=[1], intermediates_only=True)[0]
    torch.testing.assert_close(backbone.forward(images, ("stages.1",))["stages.1"], expected)


def test_construction_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Backbone.from_config(BackboneConfig(name="resnet18", pretrained=False, crop=32)).forward(
        torch.zeros(1, 3, 32, 32), ("layer1",)
    )
    assert torch.equal(torch.rand(3), expected)
