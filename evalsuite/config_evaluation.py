"""The study's `evaluation` table: thresholds, bootstrap, artifacts, AU-PRO limits
(re-exported by `evalsuite.config`)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from evalsuite.limits import MAX_ARTIFACTS, MAX_BOOTSTRAP, MAX_THUMBNAIL_PX
from evalsuite.strict_model import StrictModel

__all__ = ["AUPRO_LIMITS", "EvaluationSettings", "ThresholdSettings"]


class ThresholdSettings(StrictModel):
    """How thresholds are chosen on `val` (image and pixel level)."""

    strategy: Literal["f1", "quantile", "mean_std"] = "f1"
    quantile: float = Field(default=0.99, gt=0.0, lt=1.0)
    k: float = Field(default=3.0, ge=0.0, le=100.0)


AUPRO_LIMITS = (0.3, 0.05)
"""The AU-PRO integration limits every record reports: MVTec AD's 0.3 and MVTec AD 2's 0.05."""
MAX_AUPRO_LIMITS = 8
THUMBNAIL_PX = 48
"""The thumbnails' default side in pixels."""


class EvaluationSettings(StrictModel):
    """Thresholds, bootstrap, artifacts, AU-PRO limits.

    Attributes:
        thumbnails: the side in pixels of the thumbnails of every test image the runner writes
            for the site's image explorer (`runner.writing.thumbnails`); 0 writes none.
        aupro_limits: the FPR limits AU-PRO is integrated to, each reported as `aupro_<limit>`
            (e.g. `aupro_0.1`); 0.3 and 0.05 always among them (the site and the CSV read
            them), further ones added beside them.
    """

    image_threshold: ThresholdSettings = ThresholdSettings()
    pixel_threshold: ThresholdSettings = ThresholdSettings()
    bootstrap: int = Field(
        default=1000, ge=0, le=MAX_BOOTSTRAP, description="resamples for 95% CIs; 0 = none"
    )
    artifacts_per_cell: int = Field(default=4, ge=0, le=MAX_ARTIFACTS)
    thumbnails: int = Field(
        default=THUMBNAIL_PX,
        ge=0,
        le=MAX_THUMBNAIL_PX,
        description="side in px of every test image's thumbnails (image, map, mask); 0 = none",
    )
    aupro_limits: tuple[float, ...] = Field(
        default=AUPRO_LIMITS,
        max_length=MAX_AUPRO_LIMITS,
        description="FPR limits of AU-PRO, each in (0, 1]; 0.3 and 0.05 always included",
    )

    @field_validator("aupro_limits")
    @classmethod
    def _check_aupro_limits(cls, limits: tuple[float, ...]) -> tuple[float, ...]:
        outside = [limit for limit in limits if not 0.0 < limit <= 1.0]
        if outside:
            raise ValueError(
                f"AU-PRO limits {outside} are outside (0, 1]; use FPR limits such as 0.3 or 0.05"
            )
        if len(set(limits)) != len(limits):
            raise ValueError(f"AU-PRO limits {list(limits)} repeat a value; list each once")
        missing = [limit for limit in AUPRO_LIMITS if limit not in limits]
        if missing:
            raise ValueError(
                f"AU-PRO limits {list(limits)} leave out {missing}: the records, the site and the "
                "CSV report 0.3 and 0.05; list them and add your own beside them"
            )
        return limits

    @model_serializer(mode="wrap")
    def _drop_default_limits(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        """A study with the default limits and thumbnails dumps as it always has (records,
        manifests, cell ids)."""
        dumped: dict[str, object] = handler(self)
        if self.aupro_limits == AUPRO_LIMITS:
            dumped.pop("aupro_limits", None)
        if self.thumbnails == THUMBNAIL_PX:
            dumped.pop("thumbnails", None)
        return dumped
