"""Locally aware patch features: neighbourhood aggregation, layer fusion, projection."""

from __future__ import annotations

import pytest
import torch

from evalsuite.detectors.patchcore.embedding import (
    aggregate_neighbourhood,
    embed,
    project_channels,
    projection_matrix,
)
from evalsuite.errors import ConfigError


def test_interior_position_is_the_three_by_three_mean() -> None:
    feature = torch.arange(2 * 3 * 6 * 7, dtype=torch.float32).reshape(2, 3, 6, 7)
    aggregated = aggregate_neighbourhood(feature, 3)
    assert aggregated.shape == feature.shape
    expected = feature[1, 2, 2:5, 3:6].mean()  # neighbourhood of (3, 4)
    assert torch.isclose(aggregated[1, 2, 3, 4], expected)


def test_border_counts_the_zero_padding() -> None:
    feature = torch.ones(1, 1, 5, 5)
    aggregated = aggregate_neighbourhood(feature, 3)
    assert aggregated[0, 0, 0, 0] == pytest.approx(4 / 9)
    assert aggregated[0, 0, 0, 2] == pytest.approx(6 / 9)
    assert aggregated[0, 0, 2, 2] == pytest.approx(1.0)


def test_p_one_and_p_five() -> None:
    feature = torch.randn(1, 2, 9, 9)
    assert torch.equal(aggregate_neighbourhood(feature, 1), feature)
    five = aggregate_neighbourhood(feature, 5)
    assert torch.isclose(five[0, 1, 4, 4], feature[0, 1, 2:7, 2:7].mean(), atol=1e-6)


def _two_layers() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "shallow": torch.randn(2, 6, 8, 8, generator=generator),
        "deep": torch.randn(2, 10, 4, 4, generator=generator),
    }


def test_concatenation_keeps_the_channels_on_the_first_grid() -> None:
    features = _two_layers()
    patches = embed(features, ["shallow", "deep"], p=3, target_dim=None)
    assert patches.shape == (2, 8, 8, 16)
    shallow = aggregate_neighbourhood(features["shallow"], 3).permute(0, 2, 3, 1)
    assert torch.allclose(patches[..., :6], shallow)
    deep = torch.nn.functional.interpolate(
        aggregate_neighbourhood(features["deep"], 3), size=(8, 8), mode="bilinear"
    ).permute(0, 2, 3, 1)
    assert torch.allclose(patches[..., 6:], deep)


def test_projection_gives_each_layer_an_equal_share() -> None:
    layers = [torch.full((5, 40), 1.0), torch.full((5, 112), 3.0)]
    projected = project_channels(layers, 8)
    assert projected.shape == (5, 8)
    assert torch.allclose(projected[:, :4], torch.tensor(1.0))
    assert torch.allclose(projected[:, 4:], torch.tensor(3.0))


def test_projection_of_one_layer_is_adaptive_average_pooling() -> None:
    layer = torch.arange(12, dtype=torch.float32).reshape(1, 12)
    assert torch.allclose(project_channels([layer], 4), torch.tensor([[1.0, 4.0, 7.0, 10.0]]))


def test_projection_matrix_is_the_pooling() -> None:
    layers = [torch.randn(7, 6), torch.randn(7, 10)]
    literal = project_channels(layers, 12)  # wider layers (16) than the target: W itself
    assert projection_matrix((6, 10), 12).shape == (16, 12)
    assert torch.allclose(torch.cat(layers, dim=1) @ projection_matrix((6, 10), 12), literal)


def test_narrow_layers_are_embedded_isometrically() -> None:
    # 6 + 10 channels to 32: the embedding lives in 16 dimensions with the distances of the
    # 32-d projection
    features = _two_layers()
    compact = embed(features, ["shallow", "deep"], p=3, target_dim=32).reshape(-1, 16)
    plain = embed(features, ["shallow", "deep"], p=3, target_dim=None).reshape(-1, 16)
    literal = project_channels([plain[:, :6], plain[:, 6:]], 32)
    assert literal.shape == (128, 32)
    compact_distances = torch.pdist(compact.double())
    literal_distances = torch.pdist(literal.double())
    assert torch.allclose(compact_distances, literal_distances, rtol=1e-5, atol=1e-5)


def test_wide_layers_are_pooled_to_the_target() -> None:
    features = _two_layers()
    projected = embed(features, ["shallow", "deep"], p=3, target_dim=8)
    assert projected.shape == (2, 8, 8, 8)
    plain = embed(features, ["shallow", "deep"], p=3, target_dim=None).reshape(-1, 16)
    literal = project_channels([plain[:, :6], plain[:, 6:]], 8)
    assert torch.allclose(projected.reshape(-1, 8), literal, atol=1e-6)


def test_layer_order_sets_the_grid() -> None:
    assert embed(_two_layers(), ["deep", "shallow"], p=3, target_dim=None).shape == (2, 4, 4, 16)


def test_missing_layer_names_the_layers() -> None:
    with pytest.raises(ConfigError, match=r"\['layer9'\].*deep"):
        embed(_two_layers(), ["shallow", "layer9"], p=3, target_dim=None)
