"""The threshold-adaptation regimes as data: which condition each step of a cell draws from.

| condition | regime    | fit on      | threshold from | metrics on |
|-----------|-----------|-------------|----------------|------------|
| clean     | none      | clean train | clean val      | clean test |
| shift     | none      | clean train | clean val      | shift test |
| shift     | threshold | clean train | shift val      | shift test |
| shift     | retrain   | shift train | shift val      | shift test |

On clean data there is nothing to adapt to, so clean/threshold and clean/retrain do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from evalsuite.errors import ConfigError

Condition = Literal["clean", "shift"]
Regime = Literal["none", "threshold", "retrain"]
CONDITIONS: tuple[Condition, ...] = ("clean", "shift")
REGIMES: tuple[Regime, ...] = ("none", "threshold", "retrain")


@dataclass(frozen=True)
class RegimePlan:
    """Where a cell's fit, threshold and metrics come from.

    Attributes:
        condition: the condition of the test images.
        regime: how the clean model is adapted to that condition.
        fit_condition: condition of the train split the detector is fitted on.
        threshold_condition: condition of the val split the threshold comes from.
        test_condition: condition of the test split the metrics come from.
    """

    condition: Condition
    regime: Regime
    fit_condition: Condition
    threshold_condition: Condition
    test_condition: Condition


PLANS: tuple[RegimePlan, ...] = (
    RegimePlan("clean", "none", "clean", "clean", "clean"),
    RegimePlan("shift", "none", "clean", "clean", "shift"),
    RegimePlan("shift", "threshold", "clean", "shift", "shift"),
    RegimePlan("shift", "retrain", "shift", "shift", "shift"),
)
VALID_PAIRS: tuple[tuple[Condition, Regime], ...] = tuple((p.condition, p.regime) for p in PLANS)


def plan_for(condition: str, regime: str) -> RegimePlan:
    """The plan of a (condition, regime) pair.

    Args:
        condition: "clean" or "shift".
        regime: "none", "threshold" or "retrain".

    Returns:
        the plan from the table in the module docstring.
    """
    if condition not in CONDITIONS:
        raise ConfigError(f"unknown condition {condition!r}; known: {', '.join(CONDITIONS)}")
    if regime not in REGIMES:
        raise ConfigError(f"unknown regime {regime!r}; known: {', '.join(REGIMES)}")
    for plan in PLANS:
        if (plan.condition, plan.regime) == (condition, regime):
            return plan
    raise ConfigError(
        f"regime {regime!r} does not apply to condition {condition!r}: only 'none' runs on clean "
        "data; use regime 'none', or condition 'shift' for 'threshold' and 'retrain'"
    )
