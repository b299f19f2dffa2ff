"""Never a traceback: every command, run as a user runs it (a fresh `python -m evalsuite`),
against a catalogue of bad inputs, ends with the documented exit code and a message on stderr
that names what is wrong, and never with a Python traceback.

The table is open: a new command adds its rows to `CASES` (args may use the `{name}` places
made by `places`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import build_tree

LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefg", "bcdefgh", strict=True)
)
"""The "billion laughs": under 400 bytes that expand to 9**8 strings if aliases were followed."""

ROOT = Path(__file__).resolve().parents[1]
STUDY = 'name = "{name}"\n[[detectors]]\nname = "patchcore"\n'


@dataclass(frozen=True)
class Case:
    """A command line (`{place}` fields filled from `places`), its exit code, and what stderr
    must say."""

    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]


def _study(extra: str = "", name: str = "bad") -> str:
    return STUDY.format(name=name) + extra


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Files and folders the bad inputs point at."""
    base = tmp_path_factory.mktemp("bad")
    (base / "afile").write_text("keep me")
    os.mkfifo(base / "fifo.toml")
    (base / "folder.toml").mkdir()
    (base / "laughs.yaml").write_text(LAUGHS)
    (base / "big.toml").write_text("# padding\n" * 120_000)
    (base / "deep.yaml").write_text("[" * 50_000)
    (base / "deep.toml").write_text("a = " + "[" * 50_000)
    (base / "binary.toml").write_bytes(bytes(range(256)) * 8)
    configs = {
        "escape.toml": _study(name="../../outside"),
        "slash.toml": _study(name="a/b"),
        "long.toml": _study(name="x" * 200),
        "seed.toml": "seeds = [4294967296]\n" + _study(),
        "negseed.toml": "seeds = [-1]\n" + _study(),
        "quantile.toml": _study("[evaluation.image_threshold]\nquantile = 1.0\n"),
        "bootstrap.toml": _study("[evaluation]\nbootstrap = 1000000000\n"),
        "nan.toml": "feature_cache_budget_gb = nan\n" + _study(),
        "size.toml": _study("[data.synthetic]\nsize = 100000\n"),
        "count.toml": _study("[data.synthetic]\nn_train = 10000000\n"),
        "ratio.toml": _study("[splits]\nval_normal_ratio = 1.0\n"),
        "sweep.toml": _study(
            '[[sweeps]]\ndetector = "patchcore"\nparam = "params.coreset_ratio"\n'
            'values = ["0.1", 0.1]\n'
        ),
        "sweepchars.toml": _study(
            '[[sweeps]]\ndetector = "patchcore"\nparam = "params.layers"\nvalues = ["g 0", "g#0"]\n'
        ),
        "label.toml": _study().replace('"patchcore"\n', '"patchcore"\nlabel = "a\\u0000b"\n'),
        "category.toml": _study('[data]\ncategories = ["carpet/../x"]\n'),
        "alias.yaml": "name: &n demo\nlabel: *n\n",
        "twice.yaml": "detectors:\n  - name: padim\ndetectors:\n  - name: patchcore\n",
        "sigma.toml": _study("params = { sigma = nan }\n"),
        "coerced.toml": 'seeds = ["1"]\n' + _study(),
        "crop.toml": _study(
            '[[sweeps]]\ndetector = "patchcore"\nparam = "backbone.crop"\nvalues = [0]\n'
        ),
    }
    for name, text in configs.items():
        (base / name).write_text(text)
    tree = build_tree(base / "tree", categories=("alpha",))
    tiny = build_tree(base / "tiny", categories=("alpha",))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tiny / "alpha/train/good/000.png")
    (base / "tiny.toml").write_text(
        _study(f'[data]\nsource = "mvtec"\nroot = "{tiny}"\ncategories = ["alpha"]\n')
    )
    work = base / "work" / "dir"
    work.mkdir(parents=True)
    return {"base": str(base), "tree": str(tree), "tiny": str(tiny), "work": str(work)}


CASES: dict[str, Case] = {
    # data synth
    "synth into /proc": Case(("data", "synth", "--out", "/proc/evalsuite-x"), 3, ("/proc/",)),
    "synth under a file": Case(("data", "synth", "--out", "{base}/afile/sub"), 3, ("afile",)),
    "synth onto a file": Case(("data", "synth", "--out", "{base}/afile"), 2, ("is a file",)),
    "synth unknown category": Case(
        ("data", "synth", "--out", "{base}/s", "--categories", "teapot"), 2, ("teapot",)
    ),
    "synth size too small": Case(("data", "synth", "--out", "x", "--size", "8"), 2, ("--size",)),
    "synth count too large": Case(
        ("data", "synth", "--out", "x", "--train", "10000000"), 2, ("--train",)
    ),
    "synth of NaN difficulty": Case(
        ("data", "synth", "--out", "x", "--difficulty", "nan"), 2, ("--difficulty", "'nan'")
    ),
    # data shift
    "shift of a missing tree": Case(
        ("data", "shift", "--src", "{base}/none", "--out", "{base}/o"), 2, ("{base}/none",)
    ),
    "shift into /proc": Case(
        ("data", "shift", "--src", "{tree}", "--out", "/proc/evalsuite-x", "--quiet"), 3, ("/proc",)
    ),
    "shift onto a file": Case(
        ("data", "shift", "--src", "{tree}", "--out", "{base}/afile", "--quiet"), 2, ("afile",)
    ),
    # data check
    "check of a file": Case(("data", "check", "{base}/afile"), 2, ("afile",)),
    "check of /proc": Case(("data", "check", "/proc/self"), 2, ("/proc/self",)),
    "check of a tiny image": Case(
        ("data", "check", "{tiny}"), 1, ("000.png: image of 8x8 pixels is smaller than 32",)
    ),
    "check of an unknown category": Case(
        ("data", "check", "{tree}", "--categories", "beta"), 2, ("unknown category beta",)
    ),
    # data download
    "download into /proc": Case(
        ("data", "download", "--out", "/proc/evalsuite-x", "--quiet"), 3, ("/proc/evalsuite-x",)
    ),
    "download onto a file": Case(("data", "download", "--out", "{base}/afile"), 3, ("afile",)),
    "download with missing sources": Case(
        ("data", "download", "--out", "{base}/d", "--sources", "{base}/none.json"), 2, ("none",)
    ),
    "download with binary sources": Case(
        ("data", "download", "--out", "{base}/d", "--sources", "{base}/binary.toml"),
        2,
        ("binary.toml",),
    ),
    # config show: the configuration file itself
    "config is missing": Case(("config", "show", "--config", "{base}/none.toml"), 2, ("none",)),
    "config is a FIFO": Case(
        ("config", "show", "--config", "{base}/fifo.toml"), 2, ("not a regular file",)
    ),
    "config is a folder": Case(
        ("config", "show", "--config", "{base}/folder.toml"), 2, ("not a regular file",)
    ),
    "config over 1 MiB": Case(
        ("config", "show", "--config", "{base}/big.toml"), 2, ("larger than the limit",)
    ),
    "billion laughs": Case(
        ("config", "show", "--config", "{base}/laughs.yaml"), 2, ("YAML aliases",)
    ),
    "a YAML alias": Case(("config", "show", "--config", "{base}/alias.yaml"), 2, ("aliases",)),
    "a YAML key given twice": Case(
        ("config", "show", "--config", "{base}/twice.yaml"), 2, ("line 3", "'detectors'")
    ),
    "a NaN sigma": Case(
        ("config", "show", "--config", "{base}/sigma.toml"), 2, ("detectors.0.params", "sigma")
    ),
    "a string for a seed": Case(
        ("config", "show", "--config", "{base}/coerced.toml"), 2, ("seeds.0", "'1'")
    ),
    "a swept crop of 0": Case(
        ("plan", "--config", "{base}/crop.toml"), 2, ("sweeps.0.values.0", "backbone.crop = 0")
    ),
    "YAML nested too deeply": Case(
        ("config", "show", "--config", "{base}/deep.yaml"), 2, ("nested too deeply",)
    ),
    "TOML nested too deeply": Case(
        ("config", "show", "--config", "{base}/deep.toml"), 2, ("nested too deeply",)
    ),
    "config not UTF-8": Case(
        ("config", "show", "--config", "{base}/binary.toml"), 2, ("unreadable configuration",)
    ),
    "unknown preset": Case(("config", "show", "--preset", "huge"), 2, ("unknown preset",)),
    "preset and config": Case(
        ("config", "show", "--preset", "demo", "--config", "{base}/seed.toml"), 2, ("not both",)
    ),
    # config show: names that become paths
    "study name escaping": Case(
        ("config", "show", "--config", "{base}/escape.toml"), 2, ("name", "'../../outside'")
    ),
    "study name with a slash": Case(
        ("config", "show", "--config", "{base}/slash.toml"), 2, ("name", "'a/b'")
    ),
    "study name too long": Case(
        ("config", "show", "--config", "{base}/long.toml"), 2, ("name", "more than the 64")
    ),
    "label with a NUL": Case(
        ("config", "show", "--config", "{base}/label.toml"), 2, ("detectors.0.label",)
    ),
    "category with ..": Case(
        ("config", "show", "--config", "{base}/category.toml"), 2, ("data.categories",)
    ),
    "sweep values with one path": Case(
        ("config", "show", "--config", "{base}/sweep.toml"), 2, ("'0.1' and 0.1", "same cell")
    ),
    "sweep values sanitised alike": Case(
        ("config", "show", "--config", "{base}/sweepchars.toml"), 2, ("'g 0' and 'g#0'",)
    ),
    # config show: numeric ranges
    "seed above 2**32 - 1": Case(
        ("config", "show", "--config", "{base}/seed.toml"), 2, ("seeds.0", "4294967295")
    ),
    "negative seed": Case(("config", "show", "--config", "{base}/negseed.toml"), 2, ("seeds.0",)),
    "quantile of 1": Case(
        ("config", "show", "--config", "{base}/quantile.toml"),
        2,
        ("evaluation.image_threshold.quantile",),
    ),
    "bootstrap of a billion": Case(
        ("config", "show", "--config", "{base}/bootstrap.toml"), 2, ("evaluation.bootstrap",)
    ),
    "NaN budget": Case(
        ("config", "show", "--config", "{base}/nan.toml"), 2, ("feature_cache_budget_gb",)
    ),
    "synthetic size too large": Case(
        ("config", "show", "--config", "{base}/size.toml"), 2, ("data.synthetic.size",)
    ),
    "synthetic count too large": Case(
        ("config", "show", "--config", "{base}/count.toml"), 2, ("data.synthetic.n_train",)
    ),
    "val ratio of 1": Case(
        ("config", "show", "--config", "{base}/ratio.toml"), 2, ("splits.val_normal_ratio",)
    ),
    # plan, run, all: bad configurations and options fail before any work
    "plan of a billion laughs": Case(
        ("plan", "--config", "{base}/laughs.yaml"), 2, ("YAML aliases",)
    ),
    "plan with 0 workers": Case(("plan", "--workers", "0"), 2, ("--workers",)),
    "run of an escaping name": Case(
        ("run", "--config", "{base}/escape.toml", "--quiet"), 2, ("'../../outside'",)
    ),
    "run of shard 3/2": Case(("run", "--shard", "3/2"), 2, ("--shard",)),
    "run of shard 1/99999999999999999999": Case(
        ("run", "--shard", "1/99999999999999999999"), 2, ("Invalid value for '--shard'",)
    ),
    "run on a tree with a tiny image": Case(
        ("run", "--config", "{base}/tiny.toml", "--out", "{base}/r", "--quiet"),
        2,
        ("000.png: image of 8x8 pixels is smaller than 32", "too small for the backbone"),
    ),
    "run with 0 workers": Case(
        ("run", "--config", "{base}/fifo.toml", "--workers", "0"), 2, ("not a regular file",)
    ),
    "all of a missing config": Case(("all", "--config", "{base}/none.toml"), 2, ("none.toml",)),
    # site, merge
    "site of a missing folder": Case(
        ("site", "--results", "{base}/none", "--out", "{base}/site"), 2, ("{base}/none",)
    ),
    "site of a file": Case(
        ("site", "--results", "{base}/afile", "--out", "{base}/site"), 2, ("afile",)
    ),
    "site of a folder without results": Case(
        ("site", "--results", "{tree}", "--out", "{base}/site"), 2, ("{tree}",)
    ),
    "merge of a missing shard": Case(
        ("merge", "--out", "{base}/m", "{base}/none"), 2, ("{base}/none",)
    ),
    "merge of a dataset": Case(("merge", "--out", "{base}/m", "{tree}"), 2, ("{tree}",)),
    "site with a history that is none": Case(
        ("site", "--results", "{base}/none", "--out", "{base}/site", "--history", "{base}/afile"),
        2,
        ("afile", "not JSON"),
    ),
    # history
    "history of a missing folder": Case(
        ("history", "append", "--results", "{base}/none", "--history", "{base}/h.json"),
        2,
        ("{base}/none",),
    ),
    "history onto a file that is none": Case(
        ("history", "append", "--results", "{base}/none", "--history", "{base}/afile"),
        2,
        ("afile", "not JSON"),
    ),
    "history onto a FIFO": Case(
        ("history", "append", "--results", "{base}/none", "--history", "{base}/fifo.toml"),
        2,
        ("fifo.toml",),
    ),
    # the command line itself
    "unknown command": Case(("frobnicate",), 2, ("No such command",)),
    "unknown option": Case(("config", "show", "--colour"), 2, ("No such option",)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_no_traceback(name: str, places: dict[str, str]) -> None:
    case = CASES[name]
    args = [arg.format(**places) for arg in case.args]
    done = subprocess.run(
        [sys.executable, "-m", "evalsuite", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=places["work"],  # a default `results/<name>` lands in the test's folder
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "EVALSUITE_CACHE": str(Path(places["base"]) / "cache"),
        },
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == case.code, output
    for text in case.says:
        assert text.format(**places) in done.stderr, f"{text!r} not in {done.stderr!r}"
    assert Path(places["base"], "afile").read_text() == "keep me"
