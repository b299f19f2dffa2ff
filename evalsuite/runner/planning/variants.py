"""The detector configurations a study evaluates: each detector's baseline, its shift variants
(`shift.factors` at each of `shift.severities`, in the study's shift family), and each swept
value.

A shift variant other than MVTec-Shift's mixed shift at the study's severity is planned as a
`shift.factors` sweep value: `exposure` (at the study's `shift.severity`), `exposure@s3` (at
another severity), `fog`, `fog@s4` for the corruption family. The value names the record's
path (`__shift.factors=exposure-s3`); the record's `config.shift` holds the variant's name and
severity as fields. The mixed shift at the study's severity stays the baseline, as it always was.

Each real condition of MVTec AD 2 (`shift.conditions`, family `real`) is planned as a
`shift.conditions` sweep value of every detector (`__shift.conditions=overexposed`), with
`shift/none` cells only: its train and val images are the clean ones, so no threshold or fit of
its own exists. It is evaluated in `shift.factor_scopes` (default: the study's scopes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from evalsuite.config import CellKind, DetectorSpec, StudyConfig, apply_sweep
from evalsuite.data.real_conditions import CONDITIONS_PARAM
from evalsuite.data.shift_factors import ALL
from evalsuite.data.shift_family import MVTEC_SHIFT, REAL

FACTORS_PARAM = "shift.factors"
"""The sweep param, and the `sweep` of a record, that names a shift variant."""
REAL_KINDS: tuple[CellKind, ...] = ("shift/none",)
"""The cells of a real condition: the clean fits and thresholds on its test images."""
REAL_SEVERITY = 0
"""A real condition's `Variant.severity`: it has none (the key of its data, not a level)."""


@dataclass(frozen=True)
class Variant:
    """One detector configuration as evaluated: the baseline or a swept value.

    Attributes:
        spec: the detector specification with the swept value applied.
        severity: the severity of its shifted data.
        sweep: (param, value) for a sweep variant, None for the baseline.
        kinds: the condition/regime cells it gets.
        scopes: the scopes it is evaluated in.
        factors: the shift variant of its shifted data (`all`: every factor of MVTec-Shift's
            draw; a corruption type in the corruption family; a real condition's name in the
            `real` family).
        family: the shift family of its shifted data (`shift_family`).
    """

    spec: DetectorSpec
    severity: int
    sweep: tuple[str, Any] | None
    kinds: tuple[CellKind, ...]
    scopes: tuple[str, ...]
    factors: str = ALL
    family: str = MVTEC_SHIFT

    @property
    def tree(self) -> tuple[str, int, str]:
        """(family, severity, variant): the key of its shifted data (`StudyData.factored`)."""
        return (self.family, self.severity, self.factors)


def variant_value(name: str, severity: int, study_severity: int) -> str:
    """The `shift.factors` sweep value of variant `name` at `severity`: the name at the study's
    severity (as it always was), `<name>@s<severity>` at another."""
    return name if severity == study_severity else f"{name}@s{severity}"


def variants(config: StudyConfig) -> Iterator[Variant]:
    """The baseline of every detector, its shift variants (`shift.factors` x
    `shift.severities`) and its real conditions (`shift.conditions`), then every swept value
    (on the mixed shift, unless the sweep is over `shift.factors`)."""
    shift = config.shift
    for spec in config.detectors:
        kinds = config.kinds if shift.mixed else clean_kinds(config.kinds)
        yield Variant(spec, shift.severity, None, kinds, config.scopes)
        for name in shift.factors:
            for severity in shift.evaluated_severities:
                if shift.mixed and name == ALL and severity == shift.severity:
                    continue  # the baseline's shifted cells
                swept = (FACTORS_PARAM, variant_value(name, severity, shift.severity))
                scopes = shift.factor_scopes or config.scopes
                yield Variant(spec, severity, swept, shift.factor_kinds, scopes, name, shift.family)
        for condition in config.real_conditions:
            scopes = shift.factor_scopes or config.scopes
            swept = (CONDITIONS_PARAM, condition)
            yield Variant(spec, REAL_SEVERITY, swept, REAL_KINDS, scopes, condition, REAL)
    for sweep in config.sweeps:
        base = next(d for d in config.detectors if d.label == sweep.detector)
        for value in sweep.values:
            spec, severity = apply_sweep(base, shift.severity, sweep.param, value, shift.family)
            factors = value if sweep.param == FACTORS_PARAM else ALL
            family = shift.family if sweep.param == FACTORS_PARAM else MVTEC_SHIFT
            yield Variant(
                spec, severity, (sweep.param, value), sweep.kinds, ("per_class",), factors, family
            )


def clean_kinds(kinds: tuple[CellKind, ...]) -> tuple[CellKind, ...]:
    """The kinds that read no shifted image (those a study without the mixed shift keeps)."""
    return tuple(kind for kind in kinds if kind == "clean/none")
