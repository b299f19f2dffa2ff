"""Our PatchCore against anomalib's torch PatchcoreModel: time, peak memory, image AUROC.

Both sides get identical inputs: the same synthetic category (written once under
.cache/bench/), the same preprocessed tensors (our backbone's preprocessing, loaded before the
clock starts), the same EfficientNet-Lite0 weights (the bundled file, loaded into anomalib's
timm extractor), layers blocks.2 + blocks.4, coreset ratio 0.1 and b = 9. Ours is configured
like anomalib (no projection). Timed: fit (backbone forward on the train images, embedding,
coreset, memory bank) plus score (forward on the test images, nearest neighbours, Eq. 7,
anomaly maps). Each side runs in its own fresh process, so peak RSS values do not mix.

Cases: `demo`, the synthetic category at the demo size (256 px images, resized 256 and centre
cropped to 224, 60 train / 44 test images, about 47k training patches), and `large` (288 px
images fed uncropped, 60 train / 44 test, about 78k training patches).

anomalib's KCenterGreedy allocates an (N, k) temporary per iteration; once oneDNN has run a
convolution in the process, glibc's adaptive mmap threshold keeps those in the heap and the
process grows by roughly one temporary per iteration, without bound (tens of GB at the demo
size). Both children therefore run with MALLOC_MMAP_THRESHOLD_=1048576 (an allocator setting,
anomalib itself is untouched); with it anomalib completes both cases here. Larger cases are
left out because anomalib's greedy selection is quadratic in the number of patches (hours).

Both sides run with the same thread count (`--threads`, default 1, for torch and faiss): on a
machine whose cores are shared, parallel sections stall at their barriers (anomalib's greedy
loop ran 5-10x slower with 2 threads than with 1 here), which would measure the load, not
the code. Use --threads 2 (or more) on an idle machine.

Usage: python benchmarks/patchcore_vs_anomalib.py [--category hazelnut] [--cases demo,large]
       [--threads 1]
The last line printed is
`patchcore_vs_anomalib time_ratio=<ours/theirs> auroc_ours=<a> auroc_anomalib=<b>`, with the
times summed over the cases and the AUROCs averaged over them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.data.samples import Sample

LAYERS = ("blocks.2", "blocks.4")
CORESET_RATIO = 0.1
NUM_NEIGHBORS = 9
BATCH_SIZE = 16
CACHE = Path(".cache/bench")
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "1048576", "HF_HUB_OFFLINE": "1"}


@dataclass(frozen=True)
class Case:
    """One comparison size: images of `image_size` px, resized to `resize`, cropped to `crop`."""

    name: str
    image_size: int
    resize: int
    crop: int
    n_train: int = 60
    n_test_good: int = 20
    n_test_defect: int = 24


CASES = {
    "demo": Case("demo", image_size=256, resize=256, crop=224),
    "large": Case("large", image_size=288, resize=288, crop=288),
}


def dataset_root(case: Case, category: str) -> Path:
    """Write the synthetic category of `case` once and return its root."""
    from evalsuite.data.synthetic import SyntheticConfig, generate

    root = CACHE / f"synthetic-{category}-{case.image_size}"
    config = SyntheticConfig(
        categories=(category,),
        size=case.image_size,
        n_train=case.n_train,
        n_test_good=case.n_test_good,
        n_test_defect=case.n_test_defect,
    )
    generate(root, config)
    return root


def load_inputs(
    root: Path, backbone: Backbone
) -> tuple[list[Sample], list[Sample], dict[Path, torch.Tensor]]:
    """Train and test samples of the tree and every image preprocessed: path -> (3, H, W)."""
    from evalsuite.data.reader import read_dataset

    samples = list(read_dataset(root).samples)
    tensors = {sample.path: backbone.preprocessing.load_image(sample.path) for sample in samples}
    train = [sample for sample in samples if sample.folder == "train"]
    test = [sample for sample in samples if sample.folder == "test"]
    return train, test, tensors


class TensorFeatures:
    """A FeatureSource over preloaded input tensors: the backbone forward, batch by batch."""

    def __init__(self, backbone: Backbone, tensors: dict[Path, torch.Tensor]) -> None:
        self.backbone = backbone
        self.tensors = tensors
        crop = backbone.preprocessing.crop
        self.input_size = (crop, crop)

    def iter_features(
        self, samples: Sequence[Sample], layers: Sequence[str], batch_size: int = 16
    ) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, len(samples), batch_size):
            batch = torch.stack([self.tensors[s.path] for s in samples[start : start + batch_size]])
            yield self.backbone.forward(batch, layers)


def run_ours(
    backbone: Backbone, train: list[Sample], test: list[Sample], tensors: dict[Path, torch.Tensor]
) -> tuple[float, float, np.ndarray]:
    """Fit and score our PatchCore; returns (fit seconds, score seconds, image scores (N,))."""
    from evalsuite.detectors.patchcore import PatchCore, PatchCoreParams

    params = PatchCoreParams(
        layers=LAYERS, target_dim=None, coreset_ratio=CORESET_RATIO, num_neighbors=NUM_NEIGHBORS
    )
    model = PatchCore(params, TensorFeatures(backbone, tensors), seed=0, batch_size=BATCH_SIZE)
    start = time.perf_counter()
    model.fit(train)
    fitted = time.perf_counter()
    scores = model.score(test)
    return fitted - start, time.perf_counter() - fitted, scores.image


def run_anomalib(
    backbone: Backbone, train: list[Sample], test: list[Sample], tensors: dict[Path, torch.Tensor]
) -> tuple[float, float, np.ndarray]:
    """Fit and score anomalib's PatchcoreModel; returns (fit s, score s, image scores (N,))."""
    import timm
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel

    from evalsuite.backbone.weights import resolve_weights

    model = PatchcoreModel(
        layers=list(LAYERS), backbone=backbone.config.name, pre_trained=False,
        num_neighbors=NUM_NEIGHBORS,
    )  # fmt: skip
    full = timm.create_model(backbone.config.name, pretrained=False)
    state = resolve_weights(backbone.config, full).state
    missing = model.feature_extractor.feature_extractor.load_state_dict(state, strict=False)
    if missing.missing_keys:
        raise RuntimeError(f"anomalib's extractor lacks weights: {missing.missing_keys[:5]}")
    torch.manual_seed(0)
    np.random.seed(0)
    start = time.perf_counter()
    model.train()
    for first in range(0, len(train), BATCH_SIZE):
        model(torch.stack([tensors[s.path] for s in train[first : first + BATCH_SIZE]]))
    model.subsample_embedding(CORESET_RATIO)
    fitted = time.perf_counter()
    model.eval()
    image = []
    with torch.no_grad():
        for first in range(0, len(test), BATCH_SIZE):
            batch = torch.stack([tensors[s.path] for s in test[first : first + BATCH_SIZE]])
            image.append(model(batch).pred_score.numpy())
    return fitted - start, time.perf_counter() - fitted, np.concatenate(image)


def child(side: str, case: Case, root: Path, threads: int) -> None:
    """Run one side in this (fresh) process and print its result as one JSON line."""
    import faiss
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    backbone = Backbone.from_config(BackboneConfig(resize=case.resize, crop=case.crop))
    train, test, tensors = load_inputs(root, backbone)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    runner = run_ours if side == "ours" else run_anomalib
    fit_s, score_s, image = runner(backbone, train, test, tensors)
    labels = np.array([sample.label for sample in test])
    result = {
        "side": side,
        "case": case.name,
        "fit_s": round(fit_s, 2),
        "score_s": round(score_s, 2),
        "total_s": round(fit_s + score_s, 2),
        "auroc": round(float(roc_auc_score(labels, image)), 4),
        "baseline_rss_mib": baseline,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
        "train_patches": len(train) * (case.crop // 8) ** 2,
        "threads": torch.get_num_threads(),
    }
    print("RESULT " + json.dumps(result), flush=True)


def spawn(side: str, case: Case, root: Path, threads: int) -> dict:
    """Run `child` in a fresh interpreter and parse its result line."""
    command = [sys.executable, __file__, "--child", side, "--cases", case.name]
    command += ["--root", str(root), "--threads", str(threads)]
    completed = subprocess.run(
        command, env={**os.environ, **CHILD_ENV}, capture_output=True, text=True, check=False
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        sys.stderr.write(completed.stderr[-3000:])
        raise SystemExit(f"{side} on case {case.name} failed (exit code {completed.returncode})")
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments; as parent, run every case on both sides and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="hazelnut")
    parser.add_argument("--cases", default="demo,large")
    parser.add_argument("--threads", type=int, default=1, help="torch and faiss threads, both")
    parser.add_argument("--child", choices=("ours", "anomalib"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cases = [CASES[name] for name in args.cases.split(",")]
    if args.child:
        child(args.child, cases[0], args.root, args.threads)
        return
    results = []
    for case in cases:
        root = dataset_root(case, args.category)
        for side in ("ours", "anomalib"):
            result = spawn(side, case, root, args.threads)
            results.append(result)
            print(" ".join(f"{key}={value}" for key, value in result.items()), flush=True)
    ours = [r for r in results if r["side"] == "ours"]
    theirs = [r for r in results if r["side"] == "anomalib"]
    ratio = sum(r["total_s"] for r in ours) / sum(r["total_s"] for r in theirs)
    auroc_ours = float(np.mean([r["auroc"] for r in ours]))
    auroc_theirs = float(np.mean([r["auroc"] for r in theirs]))
    print(
        f"patchcore_vs_anomalib time_ratio={ratio:.3f} "
        f"auroc_ours={auroc_ours:.4f} auroc_anomalib={auroc_theirs:.4f}"
    )


if __name__ == "__main__":
    main()
