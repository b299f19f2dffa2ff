"""The CLI answers instantly: commands that need no model import no torch, timm, faiss or
anomalib (checked in a fresh interpreter per command); `-v` works after the subcommand; bad
option values name the option; progress without a terminal is a few plain lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.conftest import TreeFactory

HEAVY = ("torch", "timm", "faiss", "anomalib")
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's evalsuite, wherever run from

# Runs `evalsuite ARGS...` in this interpreter, then prints what it imported and the log level.
PROBE = """
import json, logging, sys
from evalsuite.cli import main
code = 0
try:
    main(sys.argv[1:], prog_name="evalsuite")
except SystemExit as stop:
    code = stop.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
level = logging.getLogger().getEffectiveLevel()
print("PROBE " + json.dumps({{"code": code, "heavy": heavy, "level": level}}), file=sys.stderr)
"""


def probe(*args: str | Path) -> tuple[dict[str, object], str]:
    """(exit code, heavy modules imported, root log level) of one command, and its output."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    lines = done.stderr.splitlines()
    found = [line for line in lines if line.startswith("PROBE ")]
    assert found, done.stdout + done.stderr
    return json.loads(found[-1].removeprefix("PROBE ")), done.stdout + done.stderr


def test_config_show_imports_no_model_library() -> None:
    for args in (("config", "show"), ("config", "show", "--preset", "paper")):
        report, output = probe(*args)
        assert report["code"] == 0, output
        assert report["heavy"] == [], f"`{' '.join(args)}` imported {report['heavy']}"
        assert '"detectors"' in output


def test_commands_without_a_model_import_no_model_library(
    make_tree: TreeFactory, tmp_path: Path
) -> None:
    tree = make_tree(categories=("alpha",))
    synth = tmp_path / "synth"
    small = ("--size", "64", "--train", "1", "--test-good", "1", "--test-defect", "1")
    commands: list[tuple[tuple[str | Path, ...], int]] = [
        (("--help",), 0),
        (("data", "synth", "--out", synth, "--categories", "carpet", *small), 0),
        (("data", "check", tree), 0),
        (("data", "shift", "--src", tree, "--out", tmp_path / "shifted", "--quiet"), 0),
        (("site", "--results", tmp_path / "none", "--out", tmp_path / "site"), 2),
        (("merge", "--out", tmp_path / "merged", tmp_path / "none"), 2),
        (("diff", tmp_path / "none", tmp_path / "none"), 2),
        (("history", "append", "--results", tmp_path / "none", "--history", tmp_path / "h"), 2),
        (("plan", "--config", tmp_path / "missing.toml"), 2),
        (("run", "--config", tmp_path / "missing.toml"), 2),
    ]
    for args, code in commands:
        report, output = probe(*args)
        assert report["code"] == code, output
        assert report["heavy"] == [], f"`{' '.join(map(str, args))}` imported {report['heavy']}"


def test_plan_of_a_valid_study_imports_no_model_library(tmp_path: Path) -> None:
    """The plan of a study whose weights are on this machine (the bundled Lite0; random WRN50
    weights need no file), on a machine without a GPU driver, is made without torch."""
    from evalsuite.backbone.device_kind import gpu_driver_present
    from tests.studies import SMALL

    if gpu_driver_present():
        pytest.skip("a GPU driver is present: `auto` asks torch whether it can use it")
    study = json.loads(json.dumps(SMALL))
    study["detectors"][1]["backbone"] = {
        "name": "wide_resnet50_2.tv_in1k",
        "pretrained": False,
        "resize": 64,
        "crop": 64,
    }
    study["detectors"][1].setdefault("params", {})["layers"] = ["layer2", "layer3"]
    config = tmp_path / "study.json"
    config.write_text(json.dumps(study))
    report, output = probe("plan", "--config", config, "--cache", tmp_path / "cache", "--json")
    assert report["code"] == 0, output
    assert report["heavy"] == [], report["heavy"]
    planned, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    assert planned["device"] == "cpu" and planned["counts"]["fits"] > 2


def test_all_takes_the_options_of_run_then_its_own() -> None:
    """`all` is `run` then `site`: `run`'s options, the same in name, flags, type, default and
    help and in the same order, then `--site` and `--baseline` (as `site`'s), then `-v`."""

    from evalsuite.cli import main

    def spec(param: click.Parameter) -> tuple[object, ...]:
        shown = (param.opts, param.default, getattr(param, "help", None), param.callback)
        return (param.name, *shown, type(param.type), param.type.to_info_dict())

    run, every = main.commands["run"].params, main.commands["all"].params
    assert [p.name for p in run][-1] == "verbose" and len(run) == 13
    assert [spec(p) for p in every[: len(run) - 1]] == [spec(p) for p in run[:-1]]
    assert [p.name for p in every[len(run) - 1 :]] == ["site_dir", "baseline", "verbose"]
    baseline = {p.name: p for p in main.commands["site"].params}["baseline"]
    assert spec(every[-2]) == spec(baseline)


def test_verbose_is_accepted_after_the_subcommand(make_tree: TreeFactory) -> None:
    tree = make_tree(categories=("alpha",))
    for args, level in (
        (("data", "check", tree), 30),
        (("data", "check", tree, "-v"), 20),
        (("data", "check", "-vv", tree), 10),
        (("-v", "data", "check", tree), 20),
        (("config", "show", "--verbose"), 20),
    ):
        report, output = probe(*args)
        assert report["code"] == 0, output
        assert report["level"] == level, (args, report)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("run", "--shard", "3/2"), "--shard"),
        (("run", "--shard", "two"), "--shard"),
        (("all", "--shard", "0/4"), "--shard"),
        (("data", "synth", "--out", "x", "--categories", ","), "--categories"),
        (("data", "check", ".", "--categories", " , "), "--categories"),
        (("data", "synth", "--out", "x", "--size", "8"), "--size"),
        (("data", "synth", "--out", "x", "--train", "-1"), "--train"),
        (("data", "synth", "--out", "x", "--seed", str(2**32)), "--seed"),
        (("data", "synth", "--out", "x", "--difficulty", "1.5"), "--difficulty"),
        (("data", "shift", "--src", "a", "--out", "b", "--seed", "-3"), "--seed"),
        (("data", "download", "--out", "x", "--timeout", "0"), "--timeout"),
        (("plan", "--workers", "0"), "--workers"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_invalid_option_values_name_the_option(args: tuple[str, ...], option: str) -> None:
    from click.testing import CliRunner

    from evalsuite.cli import main

    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert option in result.output.partition("Error:")[2], result.output


def test_progress_without_a_terminal_is_a_few_lines(make_tree: TreeFactory, tmp_path: Path) -> None:
    """`data shift` of 44 images with stderr a pipe: no carriage returns, at most 11 lines."""
    tree = make_tree(n_train=20, n_good=6, n_defect=9)
    done = subprocess.run(
        [sys.executable, "-m", "evalsuite", "data", "shift", "--src", str(tree), "--out",
         str(tmp_path / "shifted")],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("shift: ")]
    assert lines[-1] == "shift: 88/88 img (100%)"
    assert 2 <= len(lines) <= 11 and len(done.stderr.splitlines()) == len(lines), done.stderr
