"""The pruned greedy coreset against the full loop, at MVTec AD scale on real features.

Data: 243 synthetic hazelnut images at 256 px (the training images a paper-preset per-class
fit gets after the 80/20 split), fed through the bundled ImageNet-trained EfficientNet-Lite0
(resize 256, crop 224: 28 x 28 patches, 190,512 in all); PatchCore's default params with
coreset ratio 0.1, the paper's. Real pretrained features matter here: how much the triangle
inequality prunes depends on the features' geometry (random-weight features would say
nothing). One thread, as fits run.

Printed, one line per measure:
  greedy_pruned_bank_identical        1 when both loops give the same memory bank, bit for bit
  greedy_full_fit_s / greedy_pruned_fit_s   the fit (features already cached), each loop
  greedy_pruned_speedup               their ratio
  greedy_pruned_distance_fraction     distances computed / (N x M) by the pruned loop

Usage: python benchmarks/greedy_pruning.py [--train 243]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=243)
    args = parser.parse_args()
    import evalsuite.detectors.patchcore.greedy as greedy
    import evalsuite.detectors.patchcore.greedy_pruned as pruned
    from evalsuite import progress
    from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
    from evalsuite.data.reader import read_dataset
    from evalsuite.data.synthetic import SyntheticConfig, generate
    from evalsuite.detectors.patchcore import PatchCore, PatchCoreParams
    from evalsuite.detectors.threads import limit_threads

    progress.set_enabled(False)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "synthetic"
        config = SyntheticConfig(
            categories=("hazelnut",), size=256, n_train=args.train, n_test_good=1, n_test_defect=1
        )
        generate(root, config)
        train = [s for s in read_dataset(root).of_category("hazelnut") if s.folder == "train"]
        params = PatchCoreParams(coreset_ratio=0.1)
        features = FeatureCache(
            Backbone.from_config(BackboneConfig(resize=256, crop=224)), params.layers
        )
        with limit_threads(1):
            for _ in features.iter_features(train, params.layers):  # extracted once, untimed
                pass
        computed: list[int] = []
        original = pruned._distances

        def counting(*call: Any) -> np.ndarray:
            computed.append(call[3].size)
            return original(*call)

        pruned._distances = counting  # type: ignore[assignment]
        results = {}
        for name, use in (("pruned", True), ("full", False)):
            greedy.usable = lambda n, k, use=use: use and pruned.usable(n, k)  # type: ignore[assignment]
            model = PatchCore(params, features, seed=0)
            started = time.perf_counter()
            with limit_threads(1):
                model.fit(train)
            results[name] = (time.perf_counter() - started, model._fitted_bank().features)
            if name == "pruned":
                points, size = model.num_train_patches, model._fitted_bank().size
    identical = np.array_equal(results["pruned"][1], results["full"][1])
    print(f"greedy_pruned_bank_identical={int(identical)}  # {points} points, {size} selected")
    print(f"greedy_full_fit_s={results['full'][0]:.1f}  # measured, one thread")
    print(f"greedy_pruned_fit_s={results['pruned'][0]:.1f}  # measured, one thread")
    print(f"greedy_pruned_speedup={results['full'][0] / results['pruned'][0]:.2f}")
    fraction = sum(computed) / (points * size)
    print(f"greedy_pruned_distance_fraction={fraction:.4f}  # of the full loop's N x M")


if __name__ == "__main__":
    main()
