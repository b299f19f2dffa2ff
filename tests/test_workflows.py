"""The GitHub workflows: actionlint (with shellcheck on every `run:` script), what CI and the
nightly run, the scripts of the nightly's steps run here, and the evalsuite command lines of the
workflows and the Makefile checked against the CLI."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from evalsuite.cli import main as cli
from evalsuite.results.manifest import write_manifest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def actionlint(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "actionlint"), f"-shellcheck={BIN / 'shellcheck'}", "-oneline"]
    return subprocess.run(
        [*command, *arguments], input=stdin, capture_output=True, text=True, check=False
    )


def test_actionlint_and_shellcheck_find_nothing() -> None:
    done = actionlint(*(str(path) for path in sorted(WORKFLOWS.glob("*.yml"))))
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_what_it_should() -> None:
    """A control: an unknown matrix key and an unquoted variable are reported."""
    broken = (
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n"
        "        shard: [1, 2]\n    steps:\n      - run: echo ${{ matrix.shrd }}\n"
        "      - run: out=$(pwd); cd $out\n"
    )
    done = actionlint("-", stdin=broken)
    assert done.returncode == 1
    assert 'property "shrd" is not defined' in done.stdout
    assert "SC2086" in done.stdout  # shellcheck ran on the run: script


def steps_running(workflow: dict[str, Any], text: str) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) of every step whose `run:` script contains `text`."""
    return [
        (job_id, step)
        for job_id, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if text in step.get("run", "")
    ]


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_ci_lints_and_tests_on_push_and_pull_request() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert [job for job, _ in steps_running(ci, "make lint")] == ["lint"]
    assert [job for job, _ in steps_running(ci, "make test")] == ["test"]


def test_nightly_schedule_shards_merge_and_pages() -> None:
    nightly = load("nightly.yml")
    assert {"schedule", "workflow_dispatch"} <= set(nightly["on"])
    (cron,) = (entry["cron"] for entry in nightly["on"]["schedule"])
    assert len(cron.split()) == 5
    jobs = nightly["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)) and len(shards) > 1
    assert jobs["shard"]["strategy"]["fail-fast"] is False
    assert jobs["shard"]["needs"] == "prepare" and jobs["merge"]["needs"] == "shard"
    assert {"actions/cache", "actions/setup-python"} <= set(uses(jobs["prepare"]))
    assert "actions/upload-artifact" in uses(jobs["shard"])
    assert {"actions/download-artifact", "actions/upload-pages-artifact"} <= set(
        uses(jobs["merge"])
    )
    assert uses(jobs["deploy"]) == ["actions/deploy-pages"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    caches = [s["with"]["path"] for s in jobs["prepare"]["steps"] if "cache@" in s.get("uses", "")]
    assert "data/mvtec" in caches
    python_steps = [s for s in jobs["prepare"]["steps"] if "setup-python" in s.get("uses", "")]
    assert python_steps[0]["with"]["cache"] == "pip"


def github_expressions(text: str, context: dict[str, str]) -> str:
    """`${{ name }}` replaced from `context`; an unknown name fails the test."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in context, f"no value for ${{{{ {name} }}}} in this test"
        return context[name]

    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", value, text)


def run_step(step: dict[str, Any], cwd: Path, context: dict[str, str], **env: str) -> Any:
    """Run a step's script as GitHub does (`bash -e`), its `env:` evaluated from `context`."""
    step_env = {k: github_expressions(str(v), context) for k, v in step.get("env", {}).items()}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env={**os.environ, **step_env, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (1, 0), (2, 2), (3, 3)])
def test_shard_step_passes_failed_cells_on_and_stops_on_errors(
    tmp_path: Path, code: int, expected: int
) -> None:
    """Exit 1 (failed cells, recorded) lets the shard upload them; 2 and 3 fail the shard."""
    jobs = load("nightly.yml")["jobs"]
    (step,) = [s for s in jobs["shard"]["steps"] if "evalsuite run" in s.get("run", "")]
    fake = tmp_path / ".venv" / "bin" / "evalsuite"
    fake.parent.mkdir(parents=True)
    fake.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path / "args"}"\nexit {code}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    total = str(len(jobs["shard"]["strategy"]["matrix"]["shard"]))
    context = {"matrix.shard": "2", "strategy.job-total": total}
    done = run_step(step, tmp_path, context, PRESET="paper")
    assert done.returncode == expected, done.stderr
    arguments = (tmp_path / "args").read_text().split()
    shard = ["--shard", f"2/{total}", "--out", "shard-2"]
    assert arguments == ["run", "--preset", "paper", *shard, "--quiet"]


def _manifest(failed: list[dict[str, str]]) -> dict[str, Any]:
    """A valid merged manifest of 3 cells from shards 1/2 and 2/2, with `failed` among them."""
    return {
        "schema": "evalsuite.manifest/1",
        "study": "paper",
        "config": {},
        "created": "2026-01-01T02:17:00+00:00",
        "wall_time_s": 10.0,
        "versions": {"evalsuite": "0.1.0"},
        "git_commit": None,
        "platform": {"python": "3.11", "system": "Linux", "machine": "x86_64", "processor": ""},
        "seeds": [0],
        "weights": {},
        "dataset": {
            "fingerprint_clean": "c" * 16,
            "fingerprint_shift": None,
            "synthetic": False,
            "root": "data/mvtec",
        },
        "counts": {
            "cells_total": 3,
            "cells_ok": 3 - len(failed),
            "cells_failed": len(failed),
            "cells_cached": 0,
            "fits": 2,
            "fits_cached": 0,
            "forward_passes": 10,
            "distinct_inputs": 10,
        },
        "failed": failed,
        "shards": ["1/2", "2/2"],
    }


def _summary_steps() -> tuple[dict[str, Any], dict[str, Any]]:
    """The merge job's summary step and the step after it that fails the night."""
    steps = load("nightly.yml")["jobs"]["merge"]["steps"]
    ids = [step.get("id") for step in steps]
    summary = steps[ids.index("summary")]
    (fail,) = [s for s in steps if s.get("if") == "steps.summary.outputs.failed != '0'"]
    assert steps.index(fail) == len(steps) - 1  # after the site is built and uploaded
    return summary, fail


def test_failed_cells_are_listed_in_the_summary_and_fail_the_night(tmp_path: Path) -> None:
    failed = [
        {"path": "patchcore/per_class/none/clean/carpet.json", "error": "MemoryError: faiss"},
        {"path": "padim_wr50/unified/none/shift/zipper.json", "error": "bad | value\nat line 2"},
    ]
    write_manifest(tmp_path / "results" / "nightly", _manifest(failed))
    summary_step, fail_step = _summary_steps()
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    files = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    done = run_step(summary_step, tmp_path, {}, **files)
    assert done.returncode == 0, done.stderr
    text = summary.read_text()
    assert "1 of 3 cells ok, 2 failed, from shards 1/2, 2/2" in text
    assert "| `patchcore/per_class/none/clean/carpet.json` | MemoryError: faiss |" in text
    assert "| `padim_wr50/unified/none/shift/zipper.json` | bad \\| value at line 2 |" in text
    assert output.read_text() == "failed=2\n"
    context = {"steps.summary.outputs.failed": "2"}
    failing = run_step(fail_step, tmp_path, context)
    assert failing.returncode == 1 and "::error::2 cells failed" in failing.stdout


def test_a_clean_night_has_no_failure_list(tmp_path: Path) -> None:
    write_manifest(tmp_path / "results" / "nightly", _manifest([]))
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    files = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    done = run_step(_summary_steps()[0], tmp_path, {}, **files)
    assert done.returncode == 0, done.stderr
    assert "3 of 3 cells ok, 0 failed" in summary.read_text()
    assert "Failed cells" not in summary.read_text()
    assert output.read_text() == "failed=0\n"


def command_lines() -> list[tuple[str, list[str]]]:
    """(where, words) of every evalsuite invocation in the workflows and the Makefile."""
    found = []
    sources = [*sorted(WORKFLOWS.glob("*.yml")), ROOT / "Makefile"]
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = re.search(r"(?:^\s*|bin/|\$\(BIN\)/)evalsuite\s+([a-z].*)", line)
            if match is None:
                continue
            words = shlex.split(re.split(r"\s(?:\|\||&&|;|\||>)\s?", match.group(1))[0])
            found.append((f"{path.name}:{number}", words))
    return found


def test_command_lines_match_the_cli() -> None:
    """Every subcommand and option the workflows and the Makefile use exists in the CLI."""
    lines = command_lines()
    assert {"run", "merge", "site", "data"} <= {words[0] for _, words in lines}
    problems = []
    for where, words in lines:
        command: click.Command = cli
        path = ["evalsuite"]
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            sub = command.get_command(click.Context(command), words[0])
            if sub is None:
                problems.append(f"{where}: no command `{' '.join([*path, words[0]])}`")
                break
            command, path, words = sub, [*path, words.pop(0)], words
        else:
            params = command.get_params(click.Context(command))
            known = {opt for param in params for opt in param.opts}
            unknown = [w.split("=")[0] for w in words if w.startswith("--")]
            problems += [
                f"{where}: `{' '.join(path)}` has no option {w}" for w in unknown if w not in known
            ]
    assert not problems, "\n".join(problems)
