"""PatchCore's hyperparameters: one closed, validated model with the defaults in one place."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ValidationInfo, field_validator

from evalsuite.detectors.params import DetectorParams
from evalsuite.limits import MAX_SIGMA


class PatchCoreParams(DetectorParams):
    """PatchCore hyperparameters (Roth et al. 2022 and its reference code).

    Attributes:
        layers: backbone layers (timm module names), shallowest first; their features are
            aggregated on the grid of the first one. The paper's "layers 2+3" are
            `("layer2", "layer3")` on WRN50 and `("blocks.2", "blocks.4")` on the default
            EfficientNet-Lite0 (the default here, so it works with the default backbone).
        neighbourhood: p, the side of the local neighbourhood averaged around each patch
            (Eq. 2-3); odd, 1 = no aggregation.
        target_dim: dimension each patch feature is projected to (reference code: 1024); None
            (or "none") keeps the plain channel concatenation, as anomalib does. When the
            layers have fewer channels in total (Lite0: 40 + 112), the bank stores the
            projected features in an isometric basis of that smaller dimension: the same
            distances, less memory and search time (see `embedding.projection_matrix`).
        coreset_ratio: fraction of the patch features kept by the greedy coreset, in (0, 1]
            (paper: 0.25, 0.1, 0.01; 1 keeps them all).
        coreset_projection_dim: dimension of the Johnson-Lindenstrauss random projection the
            greedy coreset computes its distances in (paper: 128).
        num_neighbors: b of Eq. 7, the neighbours of m* in the memory bank used to re-weight the
            image score; 1 = the plain maximum s* (reference code), anomalib uses 9.
        sigma: standard deviation in pixels of the Gaussian that smooths the anomaly map, in
            [0, `MAX_SIGMA`] (0 = no smoothing).
        search: how test patches find their nearest memory patch: "exact" (the paper's, the
            default) or "hnsw", faiss's approximate IndexHNSWFlat (opt-in; measured on a
            per-class bank at M=32, efSearch=64: 4.9x faster, recall@1 0.9998, image scores
            within 7e-5). Also used by Eq. 7's neighbour search.
        coreset_scope: how a fit on several categories (the unified scope) selects its coreset:
            "pooled" (the paper's method, the default) runs the greedy on every category's
            patches together; "per_category" (opt-in, a change of method labelled in every
            record that uses it) runs it on each category's patches with the same ratio and
            concatenates the selections, the bank being exactly the union of the per-class
            fits' banks. The greedy's work is then sum_k P_k^2 instead of (sum_k P_k)^2, about
            a third for three categories of equal size. A one-category fit is the same either way.
        hnsw_m: M of HNSW, graph neighbours per node, in [2, 256]; more is slower, more exact.
        hnsw_ef_search: efSearch of HNSW, the candidate list of a query, in [1, 4096].
        hnsw_ef_construction: efConstruction of HNSW, the candidate list while building the
            graph, in [1, 4096].
    """

    config_name: ClassVar[str] = "patchcore params"
    SEARCH_PARAMS: ClassVar[frozenset[str]] = frozenset(
        {"search", "hnsw_m", "hnsw_ef_search", "hnsw_ef_construction"}
    )
    """Params that change only the search evidence, never the fitted bank."""
    SCORING_PARAMS: ClassVar[frozenset[str]] = frozenset({"num_neighbors", "sigma"})
    """Params that change only scoring from the evidence (Eq. 7's b, the map's sigma)."""

    layers: tuple[str, ...] = ("blocks.2", "blocks.4")
    neighbourhood: int = 3
    target_dim: int | None = 1024
    coreset_ratio: float = 0.1
    coreset_projection_dim: int = 128
    num_neighbors: int = 1
    sigma: float = 4.0
    search: Literal["exact", "hnsw"] = "exact"
    coreset_scope: Literal["pooled", "per_category"] = "pooled"
    hnsw_m: int = 32
    hnsw_ef_search: int = 64
    hnsw_ef_construction: int = 80

    def approximations(self, scope: str) -> list[str]:
        """Opt-in approximations: a unified bank from per-category coresets, HNSW search."""
        found = []
        if scope == "unified" and self.coreset_scope != "pooled":
            found.append("unified bank from per-category coresets")
        if self.search != "exact":
            found.append(f"{self.search} nearest-neighbour search")
        return found

    @field_validator("neighbourhood")
    @classmethod
    def _check_neighbourhood(cls, p: int) -> int:
        if p < 1 or p % 2 == 0:
            raise ValueError(f"neighbourhood p={p} must be an odd integer >= 1 (paper: 3)")
        return p

    @field_validator("target_dim", mode="before")
    @classmethod
    def _check_target_dim(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() == "none":
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError(f"target_dim={value} must be >= 1, or none for concatenation")
        return value

    @field_validator("coreset_ratio")
    @classmethod
    def _check_coreset_ratio(cls, ratio: float) -> float:
        if not 0.0 < ratio <= 1.0:
            raise ValueError(
                f"coreset_ratio={ratio} is outside the allowed range (0, 1]; "
                "use e.g. 0.01, 0.1 or 0.25 (1 keeps every patch)"
            )
        return ratio

    @field_validator("coreset_projection_dim", "num_neighbors")
    @classmethod
    def _check_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"{value} must be an integer >= 1")
        return value

    @field_validator("sigma")
    @classmethod
    def _check_sigma(cls, sigma: float) -> float:
        if not 0.0 <= sigma <= MAX_SIGMA:
            raise ValueError(
                f"sigma={sigma} is outside [0, {MAX_SIGMA:g}] pixels (0 = no smoothing; paper: 4)"
            )
        return sigma

    @field_validator("hnsw_m")
    @classmethod
    def _check_hnsw_m(cls, m: int) -> int:
        if not 2 <= m <= 256:
            raise ValueError(f"hnsw_m={m} is outside [2, 256]; use e.g. 32 (graph degree)")
        return m

    @field_validator("hnsw_ef_search", "hnsw_ef_construction")
    @classmethod
    def _check_hnsw_ef(cls, ef: int, info: ValidationInfo) -> int:
        if not 1 <= ef <= 4096:
            raise ValueError(
                f"{info.field_name}={ef} is outside [1, 4096]; use e.g. 64 for efSearch, "
                "80 for efConstruction"
            )
        return ef
