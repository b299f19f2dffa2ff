"""The regimes table, exactly, and the refusal of combinations that do not exist."""

from __future__ import annotations

import pytest

from evalsuite.errors import ConfigError
from evalsuite.evaluation.regimes import VALID_PAIRS, RegimePlan, plan_for

# (condition, regime) -> (fit on, threshold from, metrics on)
EXPECTED = {
    ("clean", "none"): ("clean", "clean", "clean"),
    ("shift", "none"): ("clean", "clean", "shift"),
    ("shift", "threshold"): ("clean", "shift", "shift"),
    ("shift", "retrain"): ("shift", "shift", "shift"),
}


@pytest.mark.parametrize(("pair", "sources"), EXPECTED.items())
def test_plan_for_each_valid_pair(pair: tuple[str, str], sources: tuple[str, str, str]) -> None:
    plan = plan_for(*pair)
    assert plan == RegimePlan(pair[0], pair[1], *sources)  # type: ignore[arg-type]


def test_valid_pairs_are_exactly_the_table() -> None:
    assert list(VALID_PAIRS) == list(EXPECTED)


@pytest.mark.parametrize("regime", ["threshold", "retrain"])
def test_clean_condition_has_no_adaptation(regime: str) -> None:
    with pytest.raises(ConfigError, match=f"regime '{regime}' does not apply to condition 'clean'"):
        plan_for("clean", regime)


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="clean, shift"):
        plan_for("shifted", "none")
    with pytest.raises(ConfigError, match="none, threshold, retrain"):
        plan_for("shift", "finetune")
