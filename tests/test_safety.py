"""Safety: nothing we load can run code, nothing we write is a pickle, no network unless asked.

- Source checks (with `ast`, so aliases and line breaks do not hide a call): every `torch.load`
  passes `weights_only=True`; no `np.load(allow_pickle=True)`, `pickle`/`dill`/`joblib` load or
  `yaml.load`; every Jinja environment autoescapes and no template switches it off. The site's
  rendered escaping is tested in tests/site/test_site_pages.py (test_script_category_is_escaped).
- A run of the demo study (shrunk: one category, 64 px) with every socket blocked and
  HF_HUB_OFFLINE unset: it completes without a single connection attempt, writes only under
  --out and --cache, and none of what it writes is a pickle.
- The weights' "is the hub reachable" probe treats any error as offline.
- Archive extraction is tested in tests/data/test_download.py and, through the command line,
  in tests/test_bad_inputs.py (absolute paths, `..`, links, devices).
"""

from __future__ import annotations

import ast
import json
import os
import socket
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from pytest_socket import SocketBlockedError, disable_socket

import evalsuite.backbone.weights as weights
from evalsuite import results
from evalsuite.backbone import Backbone, BackboneConfig
from evalsuite.cli import main
from evalsuite.config import preset
from evalsuite.errors import WeightsError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "evalsuite").rglob("*.py")) + sorted((ROOT / "docker").rglob("*.py"))
TEMPLATES = sorted((ROOT / "templates").rglob("*.j2"))

FORBIDDEN = {
    "pickle.load": "unpickles",
    "pickle.loads": "unpickles",
    "pickle.Unpickler": "unpickles",
    "dill.load": "unpickles",
    "dill.loads": "unpickles",
    "cloudpickle.load": "unpickles",
    "cloudpickle.loads": "unpickles",
    "joblib.load": "unpickles",
    "marshal.loads": "loads code objects",
    "shelve.open": "unpickles",
    "pandas.read_pickle": "unpickles",
    "yaml.load": "can build arbitrary objects; use yaml.safe_load",
    "yaml.unsafe_load": "can build arbitrary objects; use yaml.safe_load",
    "yaml.full_load": "can build arbitrary objects; use yaml.safe_load",
    "jinja2.Template": "does not autoescape; use the site's Environment",
}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted origin, from every import of a module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _problem(name: str | None, call: ast.Call) -> str | None:
    """What is unsafe about calling `name` like `call`, or None."""
    splat = any(k.arg is None for k in call.keywords)  # **options could hold anything
    if name in FORBIDDEN:
        return FORBIDDEN[name]
    if name in ("torch.load", "torch.serialization.load"):
        safe = not splat and _is_constant(_keyword(call, "weights_only"), True)
        return None if safe else "without weights_only=True"
    if name in ("numpy.load", "np.load"):
        allow = _keyword(call, "allow_pickle")
        safe = not splat and (allow is None or _is_constant(allow, False))
        return None if safe else "with allow_pickle"
    if name in ("jinja2.Environment", "jinja2.environment.Environment"):
        safe = not splat and _is_constant(_keyword(call, "autoescape"), True)
        return None if safe else "without autoescape=True"
    return None


def unsafe_calls(source: str, filename: str = "<source>") -> list[str]:
    """Every call in `source` that could unpickle, build arbitrary objects or skip escaping."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found = []
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        name = _dotted(call.func, aliases)
        problem = _problem(name, call)
        if problem is not None:
            found.append(f"{filename}:{call.lineno} {name}: {problem}")
    return found


def test_the_source_check_catches_what_it_should() -> None:
    bad = """
import torch as t
import numpy
from pickle import loads
from jinja2 import Environment, Template
import yaml
t.load(path)
t.load(path, weights_only=False)
t.load(path, **options)
numpy.load(path, allow_pickle=True)
loads(data)
yaml.load(text)
Environment(loader=loader)
Template("{{ x }}")
"""
    assert len(unsafe_calls(bad)) == 8
    good = """
import torch, numpy as np, yaml
from jinja2 import Environment
torch.load(path, map_location="cpu", weights_only=True)
np.load(path)
np.load(path, allow_pickle=False)
yaml.safe_load(text)
Environment(loader=loader, autoescape=True)
"""
    assert unsafe_calls(good) == []


def test_no_unsafe_loading_and_autoescape_everywhere_in_the_source() -> None:
    assert len(SOURCES) > 50
    found = [p for path in SOURCES for p in unsafe_calls(path.read_text(), str(path))]
    assert found == []
    loads = sum("torch.load(" in path.read_text() for path in SOURCES)
    assert loads >= 2  # the weights reader and PaDiM's statistics: both were checked above


def test_no_template_turns_escaping_off() -> None:
    assert TEMPLATES
    for template in TEMPLATES:
        text = template.read_text()
        compact = text.replace(" ", "")
        assert "|safe" not in compact, template
        assert "autoescapefalse" not in compact, template


# --- a run with the network blocked --------------------------------------------------------------


@contextmanager
def network_blocked() -> Iterator[list[str]]:
    """Block every socket and name lookup (pytest-socket) and record each attempt."""
    true_socket, true_lookup = socket.socket, socket.getaddrinfo
    disable_socket()
    guarded_socket, guarded_lookup = socket.socket, socket.getaddrinfo
    attempts: list[str] = []

    class Recording(guarded_socket):  # type: ignore[misc, valid-type]
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            attempts.append(f"socket{args}")
            return super().__new__(cls, *args, **kwargs)

    def lookup(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo{args}")
        return guarded_lookup(*args, **kwargs)

    socket.socket = Recording  # type: ignore[misc]
    socket.getaddrinfo = lookup
    try:
        yield attempts
    finally:
        socket.socket, socket.getaddrinfo = true_socket, true_lookup  # type: ignore[misc]


@pytest.fixture
def online_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HF_HUB_OFFLINE unset (as on a laptop), and empty home and weight caches under tmp."""
    home = tmp_path / "home"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "EVALSUITE_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.setenv("TORCH_HOME", str(home / ".cache" / "torch"))
    return home


def _shrunk_demo(path: Path) -> Path:
    """The demo preset's detectors, backbone and evaluation on a much smaller dataset."""
    study = preset("demo")
    study["data"] = {
        "categories": ["hazelnut"],
        "synthetic": {"size": 64, "n_train": 6, "n_test_good": 4, "n_test_defect": 6},
    }
    study["kinds"] = ["clean/none", "shift/retrain"]
    study["sweeps"] = []
    study.pop("shift", None)  # the demo's shift variants: cells this check does not need
    study["evaluation"] = {"bootstrap": 10, "artifacts_per_cell": 1}
    for detector in study["detectors"]:
        detector["backbone"] = {"resize": 64, "crop": 64}
    path.write_text(json.dumps(study))  # YAML is a superset of JSON
    return path


def test_demo_study_runs_with_the_network_blocked_and_writes_no_pickle(
    online_env: Path, tmp_path: Path
) -> None:
    config = _shrunk_demo(tmp_path / "demo.yaml")
    out, cache = tmp_path / "out", tmp_path / "cache"
    arguments = ["run", "--config", str(config), "--out", str(out), "--cache", str(cache)]
    with network_blocked() as attempts:
        result = CliRunner().invoke(main, [*arguments, "--quiet"])
    assert result.exit_code == 0, result.output
    assert attempts == []  # not even a probe: the demo's weights are bundled
    cells = dict(results.iter_cells(out))
    assert len(cells) == 2 * 2 * 2  # 2 detectors x 2 scopes x 2 kinds x 1 category
    assert {r["provenance"]["weights"]["source"] for r in cells.values()} == {"bundled"}
    # everything written is under --out and --cache (and the config we wrote ourselves); in
    # HOME only matplotlib's font cache, which importing anomalib makes once per machine
    assert sorted(p.name for p in tmp_path.iterdir() if p != online_env) == [
        "cache",
        "demo.yaml",
        "out",
    ]
    written = [p for p in online_env.rglob("*") if p.is_file()]
    assert all("matplotlib" in p.relative_to(online_env).parts for p in written), written
    _assert_no_pickles([out, cache])


def _assert_no_pickles(folders: list[Path]) -> None:
    """No file is a pickle; every file is of a kind we load without unpickling, and loads so."""
    kinds: dict[str, int] = {}
    for path in (p for folder in folders for p in folder.rglob("*") if p.is_file()):
        head = path.read_bytes()[:2]
        assert not (head[:1] == b"\x80" and 2 <= head[1:2][0] <= 5), f"{path} is a pickle"
        suffix = path.suffix
        kinds[suffix] = kinds.get(suffix, 0) + 1
        if suffix == ".json":
            json.loads(path.read_text())
        elif suffix in (".png", ".jpg"):  # heatmap strips, thumbnails
            with Image.open(path) as image:
                image.load()
        elif suffix == ".npy":
            np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as stored:
                assert all(stored[name].dtype != object for name in stored.files)
        elif suffix == ".pt":  # a zip of raw tensors; its data.pkl names tensors only
            assert zipfile.is_zipfile(path)
            torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise AssertionError(f"{path}: unexpected kind of file {suffix!r}")
    assert {".json", ".png", ".npy", ".npz", ".pt"} <= kinds.keys(), kinds


# --- the network probe ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_probe_treats_any_error_as_offline(online_env: Path) -> None:
    with network_blocked() as attempts:
        reason = weights.offline_reason("huggingface.co")
    assert attempts  # it did try, and SocketBlockedError (a RuntimeError) meant "offline"
    assert reason is not None and "huggingface.co unreachable" in reason
    assert SocketBlockedError.__name__ in reason


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_without_weights_a_blocked_network_gives_the_weights_error(online_env: Path) -> None:
    with network_blocked(), pytest.raises(WeightsError) as caught:
        Backbone.from_config(BackboneConfig(name="resnet18", crop=32))
    message = str(caught.value)
    assert "download from huggingface.co (skipped: huggingface.co unreachable" in message
    assert "weights_file" in message  # and how to provide them


def test_bundled_weights_are_used_before_any_download(
    online_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_probe(host: str) -> str | None:
        raise AssertionError(f"probed {host}: the bundled weights needed no network")

    monkeypatch.setattr(weights, "offline_reason", no_probe)
    backbone = Backbone.from_config(BackboneConfig(crop=32, resize=32))
    assert backbone.weights.source == "bundled"
    assert os.environ.get("HF_HUB_OFFLINE") is None


def test_written_files_are_readable_by_others_as_open_would_make_them(tmp_path) -> None:
    import os
    import stat

    from evalsuite.atomic import write_json

    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "record.json"
    write_json(target, {"a": 1})
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
