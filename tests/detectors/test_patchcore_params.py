"""PatchCoreParams: defaults, normalisation and clear ConfigErrors."""

from __future__ import annotations

import pytest

from evalsuite.detectors.patchcore import PatchCoreParams
from evalsuite.errors import ConfigError


def test_defaults_follow_the_paper_and_reference_code() -> None:
    params = PatchCoreParams()
    assert params.neighbourhood == 3
    assert params.target_dim == 1024
    assert params.coreset_projection_dim == 128
    assert params.num_neighbors == 1
    assert params.sigma == 4.0
    assert params.layers == ("blocks.2", "blocks.4")


def test_target_dim_none_string_means_concatenation() -> None:
    assert PatchCoreParams(target_dim="none").target_dim is None  # type: ignore[arg-type]
    assert PatchCoreParams(target_dim=None).target_dim is None


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_coreset_ratio_outside_range_names_value_and_range(ratio: float) -> None:
    with pytest.raises(ConfigError) as caught:
        PatchCoreParams(coreset_ratio=ratio)
    message = str(caught.value)
    assert f"coreset_ratio={ratio}" in message
    assert "(0, 1]" in message


def test_coreset_ratio_one_is_allowed() -> None:
    assert PatchCoreParams(coreset_ratio=1.0).coreset_ratio == 1.0


def test_unknown_key_lists_allowed_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        PatchCoreParams.model_validate({"coreset_percentage": 0.1})
    message = str(caught.value)
    assert "coreset_percentage" in message
    assert "coreset_ratio" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("neighbourhood", 2, "odd"),
        ("neighbourhood", 0, "odd"),
        ("target_dim", 0, "target_dim=0"),
        ("num_neighbors", 0, "num_neighbors"),
        ("sigma", -1.0, "sigma=-1.0"),
        ("layers", [], "layer names"),
        ("layers", ["layer2", "layer2"], "distinct"),
        ("coreset_ratio", "a lot", "coreset_ratio"),
    ],
)
def test_bad_values_raise_config_error(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match="patchcore params") as caught:
        PatchCoreParams.model_validate({key: value})
    assert expected in str(caught.value)


def test_params_are_frozen_and_round_trip_through_json() -> None:
    params = PatchCoreParams(layers=("layer2", "layer3"), target_dim=None, num_neighbors=9)
    assert PatchCoreParams.model_validate(params.model_dump(mode="json")) == params


def test_search_defaults_to_exact_and_hnsw_is_opt_in() -> None:
    params = PatchCoreParams()
    assert params.search == "exact"
    assert (params.hnsw_m, params.hnsw_ef_search, params.hnsw_ef_construction) == (32, 64, 80)
    assert PatchCoreParams(search="hnsw").search == "hnsw"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("search", "ivf", "search"),
        ("hnsw_m", 1, "hnsw_m=1 is outside [2, 256]"),
        ("hnsw_m", 1000, "hnsw_m=1000"),
        ("hnsw_ef_search", 0, "hnsw_ef_search=0 is outside [1, 4096]"),
        ("hnsw_ef_construction", 5000, "hnsw_ef_construction=5000"),
    ],
)
def test_bad_search_settings_name_value_and_range(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match="patchcore params") as caught:
        PatchCoreParams.model_validate({key: value})
    assert expected in str(caught.value)
