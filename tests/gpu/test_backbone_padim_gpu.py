"""CUDA against the CPU reference: backbone features and PaDiM scores agree to ~1e-3.

Each test needs a CUDA GPU and is skipped without one; `pytest -m gpu` selects them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from evalsuite.backbone import Backbone, BackboneConfig, FeatureCache
from evalsuite.backbone.device import device_name, resolve_device
from evalsuite.data.samples import Sample
from evalsuite.detectors.padim import Padim, PadimParams
from evalsuite.evaluation.metrics import image_auroc

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

LAYERS = ("layer1", "layer2", "layer3")
SIZE = 224
CUDA = torch.device("cuda")


def _relative(got: torch.Tensor, expected: torch.Tensor) -> float:
    """max |got - expected| / max |expected|."""
    return float((got - expected).abs().max() / expected.abs().max())


def _resnet18(device: torch.device | None, precision: str = "float32") -> Backbone:
    config = BackboneConfig(
        name="resnet18", pretrained=False, resize=SIZE, crop=SIZE, precision=precision
    )
    return Backbone.from_config(config, device)


def _smooth(rng: np.random.Generator, size: int) -> np.ndarray:
    noise = gaussian_filter(rng.normal(size=(size, size, 3)), sigma=(6, 6, 0))
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return (60 + 120 * noise).astype(np.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Sample]]:
    """20 normal train images, 10 normal and 10 test images with faint patches of varied
    strength (so the AUROC is not trivially 1 and small score changes could move it)."""
    folder = tmp_path_factory.mktemp("gpu_images")
    rng = np.random.default_rng(0)

    def write(name: str, array: np.ndarray, label: int) -> Sample:
        path = folder / f"{name}.png"
        Image.fromarray(array).save(path)
        split = "train" if name.startswith("train") else "test"
        defect = "patch" if label else "good"
        return Sample(f"thing/{split}/{defect}/{name}", path, "thing", split, label, defect, None)

    train = [write(f"train{i}", _smooth(rng, SIZE), 0) for i in range(20)]
    good = [write(f"good{i}", _smooth(rng, SIZE), 0) for i in range(10)]
    bad = []
    for i in range(10):
        image = _smooth(rng, SIZE).astype(np.int16)
        top, left = rng.integers(20, SIZE - 60, 2)
        image[top : top + 40, left : left + 40] += int(4 + 4 * i)
        bad.append(write(f"bad{i}", np.clip(image, 0, 255).astype(np.uint8), 1))
    return {"train": train, "test": good + bad}


def test_auto_is_cuda() -> None:
    device = resolve_device("auto")
    assert device.type == "cuda"
    assert resolve_device("cuda") == device
    assert device_name(device).startswith("cuda:0 (")


def test_backbone_features_on_cuda_match_the_cpu() -> None:
    images = torch.randn(4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    expected = _resnet18(None).forward(images, LAYERS)
    on_gpu = _resnet18(CUDA)
    got = on_gpu.forward(images, LAYERS)
    for layer in LAYERS:
        assert got[layer].device.type == "cpu" and got[layer].dtype == torch.float32
        assert _relative(got[layer], expected[layer]) < 1e-3, layer
    again = on_gpu.forward(images, LAYERS)
    for layer in LAYERS:  # deterministic on the device
        assert torch.equal(again[layer], got[layer])
    half = _resnet18(CUDA, "bfloat16").forward(images, LAYERS)
    for layer in LAYERS:
        assert half[layer].dtype == torch.float32
        assert _relative(half[layer], expected[layer]) < 5e-2, layer


def test_padim_on_cuda_matches_the_cpu(data: dict[str, list[Sample]], tmp_path: Path) -> None:
    params = PadimParams(layers=LAYERS, n_features=100)
    labels = np.array([sample.label for sample in data["test"]])
    results = {}
    for name, device in (("cpu", None), ("cuda", CUDA)):
        cache = FeatureCache(_resnet18(device), LAYERS)
        model = Padim(params, cache, seed=0, device=device)
        model.fit(data["train"])
        results[name] = model.score(data["test"])
        if device is not None:
            model.save(tmp_path / "model")
            stats = torch.load(tmp_path / "model" / "padim_stats.pt", weights_only=True)
            assert all(tensor.device.type == "cpu" for tensor in stats.values())
            loaded = Padim.load(tmp_path / "model", cache, device=device)
            reloaded = loaded.score(data["test"])
            np.testing.assert_allclose(reloaded.image, results[name].image, rtol=1e-6)
    cpu, cuda = results["cpu"], results["cuda"]
    assert cuda.image.dtype == np.float32 and cuda.maps.shape == cpu.maps.shape
    np.testing.assert_allclose(cuda.image, cpu.image, rtol=1e-3)
    assert float(np.abs(cuda.maps - cpu.maps).max() / np.abs(cpu.maps).max()) < 1e-3
    cpu_auroc, cuda_auroc = image_auroc(cpu.image, labels), image_auroc(cuda.image, labels)
    assert cpu_auroc > 0.5
    assert abs(cuda_auroc - cpu_auroc) < 0.002
