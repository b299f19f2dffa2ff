"""The built-in studies: `demo` (synthetic data, runs anywhere in minutes), `paper` (MVTec AD with
the paper's backbones), `demo-anomalib` (the demo with anomalib's DFM and DFKDE beside
PatchCore and PaDiM) and `paper_ad2` (MVTec AD 2 with the paper's detectors: its real lighting
conditions beside MVTec-Shift's mixed shift). Raw mappings: `evalsuite.config.load_config`
validates them like any configuration file.
"""

from __future__ import annotations

import os
from typing import Any

from evalsuite.backbone.config import PAPER_BACKBONE
from evalsuite.data.shift_factors import variant_names
from evalsuite.errors import ConfigError

PRESETS = ("demo", "paper", "demo-anomalib", "paper_ad2")
DEMO_INPUT = {"resize": 128, "crop": 128}
DEMO_FACTORS = ("all", "geometric", "exposure")
"""The demo's shift variants (the paper preset evaluates every one)."""
AD2_CATEGORIES = (
    "can",
    "fabric",
    "fruit_jelly",
    "rice",
    "sheet_metal",
    "vial",
    "wallplugs",
    "walnuts",
)
"""MVTec AD 2's eight categories (Heckler-Kram et al., 2025)."""


def preset(name: str) -> dict[str, Any]:
    """The raw mapping of a preset (`PRESETS`)."""
    if name == "demo":
        return {
            "name": "demo",
            # calibrated: clean PatchCore image AUROC >= 0.95 on every category (MVTec AD's
            # published range) with 75 test images each, so 95% intervals are within ±0.05
            "data": {"synthetic": {"difficulty": 0.1, "n_test_good": 40, "n_test_defect": 50}},
            "detectors": [
                # Lite0's blocks.2 + blocks.4 give 152 channels: projecting them up to the
                # paper's 1024 adds cost and no information, so the demo concatenates. The
                # demo feeds the 128 px images at their own size (no upscaling to 224).
                {
                    "name": "patchcore",
                    "backbone": DEMO_INPUT,
                    "params": {"coreset_ratio": 0.1, "target_dim": None},
                },
                {
                    "name": "padim",
                    "backbone": DEMO_INPUT,
                    "params": {"layers": ["blocks.1", "blocks.2", "blocks.4"], "n_features": 100},
                },
            ],
            "sweeps": [
                {"detector": "patchcore", "param": "params.coreset_ratio", "values": [0.01, 0.25]}
            ],
            # which change breaks zipper, within make all's 5 minutes: the variants that
            # mattered in a run of all 25 on the demo data (docs/studies.md "Configuration and
            # presets"), scored on the clean per-category fits without threshold cells
            "shift": {
                "factors": list(DEMO_FACTORS),
                "factor_kinds": ["shift/none"],
                "factor_scopes": ["per_class"],
            },
            "evaluation": {"bootstrap": 200},
        }
    if name == "demo-anomalib":
        # Not in the demo itself: DFM's cells alone cost about 32 s of CPU on the demo's cached
        # features (2-core machine), over the demo's +30 s budget (docs/detectors.md)
        study = preset("demo")
        study["name"] = "demo-anomalib"
        study["detectors"] = [
            *study["detectors"],
            {
                "name": "anomalib",
                "label": "dfm",
                "backbone": DEMO_INPUT,
                "params": {"model": "Dfm"},
            },
            {
                "name": "anomalib",
                "label": "dfkde",
                "backbone": DEMO_INPUT,
                "params": {"model": "Dfkde"},
            },
        ]
        return study
    if name == "paper_ad2":
        # MVTec AD 2 cannot be downloaded here: it is read from --data-root (or
        # $EVALSUITE_DATA_ROOT); a missing root is refused naming where to get it
        study = preset("paper")
        return {
            "name": "paper_ad2",
            "data": {
                "source": "mvtec",
                "root": os.environ.get("EVALSUITE_DATA_ROOT", "data/mvtec_ad2"),
                "layout": "mvtec_ad2",
                "categories": list(AD2_CATEGORIES),
            },
            "detectors": study["detectors"],
            # the real conditions (`shift.conditions`: every one, the layout's default) and
            # MVTec-Shift's mixed shift on the regular images (the default `shift`); thresholds
            # are the protocol's mean + 3 sd on validation/good (the layout's default)
            "evaluation": study["evaluation"],
        }
    if name == "paper":
        wrn = {"name": PAPER_BACKBONE, "resize": 256, "crop": 224}
        return {
            "name": "paper",
            "data": {
                "source": "mvtec",
                "root": os.environ.get("EVALSUITE_DATA_ROOT", "data/mvtec"),
                "download": True,
            },
            "detectors": [
                {
                    "name": "patchcore",
                    "backbone": wrn,
                    "params": {"layers": ["layer2", "layer3"], "coreset_ratio": 0.1},
                },
                {
                    "name": "padim",
                    "label": "padim_r18",
                    "backbone": {"name": "resnet18.tv_in1k", "resize": 256, "crop": 224},
                    "params": {"layers": ["layer1", "layer2", "layer3"], "n_features": 100},
                },
                {
                    "name": "padim",
                    "label": "padim_wr50",
                    "backbone": wrn,
                    "params": {"layers": ["layer1", "layer2", "layer3"], "n_features": 550},
                },
                {
                    # anomalib's DFM on the WR50's layer3, which PatchCore and PaDiM already
                    # cache: no further forward pass; its weights are the preset's WR50
                    "name": "anomalib",
                    "label": "dfm",
                    "backbone": wrn,
                    "params": {"model": "Dfm", "layers": ["layer3"]},
                },
            ],
            "sweeps": [
                {
                    "detector": "patchcore",
                    "param": "params.coreset_ratio",
                    "values": [0.01, 0.05, 0.25],
                },
                {"detector": "patchcore", "param": "params.num_neighbors", "values": [3, 9]},
                {"detector": "patchcore", "param": "shift.severity", "values": [1, 3]},
            ],
            # every variant of MVTec-Shift: the mixed shift, the two groups, each factor alone
            # and each leave-one-out (docs/studies.md "Shift variants"), on the clean fits
            "shift": {"factors": list(variant_names())},
            # a bootstrap p-value is never below 2 / (B + 1): 2000 resamples let a Holm family
            # of up to 50 tests reach p < 0.05 (evaluation.significance)
            "evaluation": {"bootstrap": 2000},
        }
    raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
