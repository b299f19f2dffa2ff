"""Published MVTec AD numbers shown beside ours ("anchors"), from `shared/REFERENCES.md`.

Values are percentages on MVTec AD (clean data), per category; None where the source gives no
number. They are shown only when a study's data is MVTec AD (never beside synthetic results).
PatchCore per-class values are the paper's supplementary tables S1–S3; PaDiM's its Table III;
anomalib's from its model READMEs (users report ±2 points); ADer from its published logs.
"""

from __future__ import annotations

from dataclasses import dataclass

ANCHOR_METRICS = ("image_auroc", "pixel_auroc", "aupro_0.3")
"""The metrics the published tables give."""

WORKS_CITED = (
    "Bergmann, Fauser, Sattlegger, Steger. MVTec AD — a comprehensive real-world dataset for "
    "unsupervised anomaly detection. CVPR 2019.",
    "Defard, Setkov, Loesch, Audigier. PaDiM: a patch distribution modeling framework for "
    "anomaly detection and localization. 2020.",
    "Guo, Han, Lu, Zhang, Li. Absolute-unified multi-class anomaly detection via class-agnostic "
    "distribution alignment (CADA). 2024.",
    "Heckler-Kram, Neudeck, Scheler, König, Steger. The MVTec AD 2 dataset: advanced scenarios "
    "for unsupervised anomaly detection. 2025.",
    "Heo, Kang. Multi-class image anomaly detection for practical applications: requirements "
    "and robust solutions. 2025.",
    "Roth, Pemula, Zepeda, Schölkopf, Brox, Gehler. Towards total recall in industrial anomaly "
    "detection (PatchCore). CVPR 2022.",
    "You, Cui, Shen, Yang, Lu, Zheng, Le. A unified model for multi-class anomaly detection "
    "(UniAD). NeurIPS 2022.",
)
"""The study's references, numbered from 1 in this order."""


@dataclass(frozen=True)
class Anchor:
    """One published row.

    Attributes:
        detector: the detector it is comparable to (patchcore or padim).
        source: what was run, e.g. "PatchCore paper, WRN50, coreset 10%".
        citation: where the numbers come from, with the reference number.
        scope: per_class, or unified for a one-model-for-all-classes result.
        values: category -> metric (ANCHOR_METRICS) -> percentage or None.
    """

    detector: str
    source: str
    citation: str
    scope: str
    values: dict[str, dict[str, float | None]]


def _row(
    carpet: tuple[float | None, ...],
    hazelnut: tuple[float | None, ...],
    zipper: tuple[float | None, ...],
) -> dict[str, dict[str, float | None]]:
    """Values per category from (image AUROC, pixel AUROC, AUPRO@0.3) triples."""
    return {
        name: dict(zip(ANCHOR_METRICS, triple, strict=True))
        for name, triple in (("carpet", carpet), ("hazelnut", hazelnut), ("zipper", zipper))
    }


_PATCHCORE = "Roth et al., CVPR 2022 [6], suppl. Tables S1–S3"
_PADIM = "Defard et al., 2020 [2], Table III"
_ANOMALIB = "anomalib model README (±2 points reported by users)"

ANCHORS = (
    Anchor(
        "patchcore",
        "PatchCore paper, WRN50, coreset 25%",
        _PATCHCORE,
        "per_class",
        _row((98.7, 99.0, 96.6), (100.0, 98.7, 93.8), (99.4, 98.8, 97.1)),
    ),
    Anchor(
        "patchcore",
        "PatchCore paper, WRN50, coreset 10%",
        _PATCHCORE,
        "per_class",
        _row((98.7, 99.1, 96.6), (100.0, 98.7, 93.9), (99.5, 98.9, 97.1)),
    ),
    Anchor(
        "patchcore",
        "PatchCore paper, WRN50, coreset 1%",
        _PATCHCORE,
        "per_class",
        _row((98.0, 98.9, 96.5), (100.0, 98.6, 93.8), (99.2, 98.8, 97.0)),
    ),
    Anchor(
        "patchcore",
        "anomalib, Patchcore WR50",
        _ANOMALIB,
        "per_class",
        _row((98.4, 98.8, None), (100.0, 98.7, None), (98.2, 98.3, None)),
    ),
    Anchor(
        "patchcore",
        "ADer re-run, PatchCore WR50 10% (15 classes)",
        "ADer published logs, 256×256, no crop",
        "unified",
        _row((98.4, 99.1, 95.3), (100.0, 99.0, 96.2), (99.6, 98.9, 96.4)),
    ),
    Anchor(
        "padim",
        "PaDiM paper, R18-Rd100",
        _PADIM,
        "per_class",
        _row((None, 98.9, 96.0), (None, 97.7, 91.4), (None, 98.2, 94.7)),
    ),
    Anchor(
        "padim",
        "PaDiM paper, WR50-Rd550",
        _PADIM,
        "per_class",
        _row((None, 99.1, 96.2), (None, 98.2, 92.6), (None, 98.5, 95.9)),
    ),
    Anchor(
        "padim",
        "anomalib, Padim R18",
        _ANOMALIB,
        "per_class",
        _row((94.5, 98.4, None), (75.0, 97.8, None), (78.0, 97.9, None)),
    ),
    Anchor(
        "padim",
        "anomalib, Padim WR50",
        _ANOMALIB,
        "per_class",
        _row((99.5, 99.1, None), (96.4, 98.5, None), (88.2, 98.6, None)),
    ),
)


def anchors_for(detector: str, category: str) -> list[Anchor]:
    """The published rows for a detector on a category (empty for other categories)."""
    return [a for a in ANCHORS if a.detector == detector and category in a.values]
