"""Put the paper preset's backbone weights into the Hugging Face cache, and prove they are found.

The image build runs `python docker/fetch_weights.py` with the network on: for each distinct
backbone of the `paper` preset, evalsuite's own weight resolution looks in the caches and, when
the weights are not there, downloads them into `$HF_HOME/hub`. The same script then runs itself
again with `--check` and `HF_HUB_OFFLINE=1`, as the container does at run time: every backbone
must resolve from the hub cache, or the build fails with the places looked at.

`make paper` runs it too, so a checkout fetches the weights once and then works offline.

Exit codes: 0 all weights cached, 3 weights missing or unusable (as the evalsuite CLI).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

from evalsuite.backbone import Backbone, BackboneConfig, WeightsInfo
from evalsuite.backbone.weights import hf_hub_cache
from evalsuite.config import load_config
from evalsuite.errors import WeightsError

PRESET = "paper"


def paper_backbones() -> tuple[BackboneConfig, ...]:
    """The backbones of the paper preset, one per model name, in the preset's order."""
    unique: dict[str, BackboneConfig] = {}
    for detector in load_config(PRESET).detectors:
        unique.setdefault(detector.backbone.name, detector.backbone)
    return tuple(unique.values())


def fetch(configs: Sequence[BackboneConfig]) -> list[WeightsInfo]:
    """Resolve each backbone's weights, downloading those not cached (when online).

    Raises:
        WeightsError: weights neither cached nor downloadable (the message says where it looked).
    """
    return [Backbone.from_config(config).weights for config in configs]


def check(configs: Sequence[BackboneConfig]) -> list[WeightsInfo]:
    """Resolve each backbone's weights without the network; all must come from the hub cache.

    Raises:
        WeightsError: a backbone whose weights would not come from the hub cache at run time.
    """
    infos = [Backbone.from_config(config).weights for config in configs]
    for config, info in zip(configs, infos, strict=True):
        if info.source != "hub_cache":
            raise WeightsError(
                f"backbone {config.name!r}: weights resolved from {info.source} "
                f"({info.path}), not from the hub cache {hf_hub_cache()}; "
                "run this script with the network on to download them"
            )
    return infos


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch (default) or only check (`--check`) the paper preset's weights; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only verify, offline, that the cache holds them"
    )
    args = parser.parse_args(argv)
    configs = paper_backbones()
    try:
        infos = check(configs) if args.check else fetch(configs)
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    for config, info in zip(configs, infos, strict=True):
        print(f"{config.name}: {info.source} {info.path} sha256 {info.sha256}")
    if args.check:
        return 0
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: check in a fresh interpreter.
    offline = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, __file__, "--check"], env=offline, check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
