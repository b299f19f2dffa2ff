"""The GitHub workflows: actionlint (with shellcheck on every `run:` script), what CI and the
nightly run, the scripts of the nightly's steps run here, and the evalsuite command lines of the
workflows and the Makefile checked against the CLI."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from _pytest.mark.expression import Expression
from click.testing import CliRunner

from evalsuite.cli import main as cli
from evalsuite.results import iter_cells, read_manifest

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


def make_lint_actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    """`make lint`'s actionlint line, as the Makefile writes it, run in `root`."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (line,) = [line.strip() for line in makefile.splitlines() if "$(BIN)/actionlint " in line]
    command = line.replace("$(BIN)", str(BIN))
    return subprocess.run(
        ["bash", "-c", command], cwd=root, capture_output=True, text=True, check=False
    )


def test_make_lint_reports_defects_planted_in_the_real_workflows(tmp_path: Path) -> None:
    """The Makefile's actionlint line on copies of the workflows passes, and reports each of two
    defects planted in nightly.yml at its line: a misspelt matrix key (actionlint) and an
    unquoted variable in a `run:` script (shellcheck, which the line must wire in)."""
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    clean = make_lint_actionlint(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    nightly = tmp_path / ".github" / "workflows" / "nightly.yml"
    lines = nightly.read_text(encoding="utf-8").splitlines()
    planted = {
        "SHARD: ${{ matrix.shard }}/": ("matrix.shard", "matrix.shrd", 'property "shrd"'),
        '--preset "$PRESET"': ('"$PRESET"', "$PRESET", "SC2086"),
    }
    found = {}
    for needle, (text, typo, report) in planted.items():
        number = next(i for i, line in enumerate(lines) if needle in line)
        lines[number] = lines[number].replace(text, typo)
        found[report] = f"nightly.yml:{number + 1}:"
    nightly.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = make_lint_actionlint(tmp_path)
    assert broken.returncode != 0
    reports = broken.stdout.splitlines()
    for report, place in found.items():
        assert any(place in line and report in line for line in reports), (report, broken.stdout)
    assert "ci.yml" not in broken.stdout


def steps_running(workflow: dict[str, Any], text: str) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) of every step whose `run:` script has `text` as one of its lines."""
    return [
        (job_id, step)
        for job_id, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if text in (line.strip() for line in step.get("run", "").splitlines())
    ]


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_ci_lints_and_tests_on_push_and_pull_request() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert [job for job, _ in steps_running(ci, "make lint")] == ["lint"]
    assert [job for job, _ in steps_running(ci, "make test")] == ["test"]


def readme_quick_start() -> list[str]:
    """The commands of the README's Quick start block, in order (comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", text, re.S)
    assert block is not None, "README.md has no Quick start bash block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_commands_on_the_clean_clone() -> None:
    """`.ci/run` and the CI workflow run exactly the README's two commands, in its order, so a
    broken first command (`make all`) cannot land, then the end-to-end tests that `make test`
    leaves out (`make test-e2e`)."""
    commands = readme_quick_start()
    assert commands == ["make all", "make test"]
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    made = [line.strip() for line in script if line.strip().startswith("make")]
    assert made == [*commands, "make test-e2e"]
    ci = load("ci.yml")
    runs = [step["run"].strip() for step in ci["jobs"]["test"]["steps"] if "run" in step]
    assert runs == made


def test_make_test_and_make_test_e2e_split_the_suite() -> None:
    """Every test not marked slow runs in exactly one of `make test` and `make test-e2e`, and
    `make test-slow` runs every test: the marker expressions of the commands make would run
    (`make -n`), evaluated by pytest's own expression engine on each combination of markers."""
    selects: dict[str, Callable[[set[str]], bool]] = {}
    for target in ("test", "test-e2e", "test-slow"):
        dry = subprocess.run(
            ["make", "-n", "-o", ".venv/.installed", "-o", "browser", target],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        pytest_lines = [line for line in dry.splitlines() if " -m pytest " in line]
        assert len(pytest_lines) == 1, dry
        found = re.search(r' -m "([^"]*)"', pytest_lines[0])
        if found is None:  # no -m: pytest selects every test
            selects[target] = lambda marks: True
            continue
        expression = Expression.compile(found.group(1))
        selects[target] = lambda marks, e=expression: e.evaluate(lambda name, **_: name in marks)
    for marks in ({"slow"}, {"e2e"}, {"slow", "e2e"}, {"long"}, set()):
        chosen = [target for target in ("test", "test-e2e") if selects[target](marks)]
        assert chosen == ([] if "slow" in marks else ["test-e2e" if "e2e" in marks else "test"])
        assert selects["test-slow"](marks)


def test_the_repository_ships_nothing_in_the_site_folder() -> None:
    """`make all` builds into `site/`, which the site refuses when it holds a file no build
    wrote (issue 19: a tracked `site/README.md` broke `make all` on every fresh clone)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "--", "site"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "site/index.html"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0


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
    assert uses(jobs["deploy"])[0] == "actions/deploy-pages"
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


def _nightly_steps() -> dict[str, dict[str, Any]]:
    """The merge job's steps by id, its site step as "site", and the verdict job's step."""
    jobs = load("nightly.yml")["jobs"]
    steps = {step["id"]: step for step in jobs["merge"]["steps"] if "id" in step}
    (site,) = [s for s in jobs["merge"]["steps"] if "evalsuite site" in s.get("run", "")]
    (verdict,) = jobs["verdict"]["steps"]
    return {**steps, "site": site, "verdict": verdict}


def test_nights_survive_failed_shards_and_demo_runs_never_deploy() -> None:
    jobs = load("nightly.yml")["jobs"]
    assert "!cancelled()" in jobs["merge"]["if"]  # runs when some shards failed
    assert "(inputs.preset || 'paper') == 'paper'" in jobs["deploy"]["if"]
    (pages,) = [s for s in jobs["merge"]["steps"] if "upload-pages" in s.get("uses", "")]
    assert pages["if"] == "env.PRESET == 'paper'"
    assert set(jobs["verdict"]["needs"]) == {"merge", "deploy"}
    assert "!cancelled()" in jobs["verdict"]["if"]
    restores = [s for s in jobs["merge"]["steps"] if "cache/restore" in s.get("uses", "")]
    saves = [s for s in jobs["deploy"]["steps"] if "cache/save" in s.get("uses", "")]
    # the baseline and the history are kept alike, each in its own cache entry
    assert [s["with"]["path"] for s in restores] == [s["with"]["path"] for s in saves]
    assert [s["with"]["path"] for s in saves] == ["baseline", "history"]
    for restore, save in zip(restores, saves, strict=True):
        assert restore["with"]["key"] == save["with"]["key"]
        assert "${{ github.ref_name }}" in save["with"]["key"]  # one per branch
        assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    order = [s.get("uses", "").split("@")[0] for s in jobs["deploy"]["steps"]]
    assert order.index("actions/deploy-pages") < order.index("actions/cache/save")
    uploaded = [s["with"] for s in jobs["merge"]["steps"] if "upload-artifact" in s.get("uses", "")]
    downloaded = [s["with"] for s in jobs["deploy"]["steps"] if "download-art" in s.get("uses", "")]
    assert {"name": "history", "path": "history"} in [
        {"name": d["name"], "path": d["path"]} for d in downloaded
    ]
    assert any(u["name"] == "history" and u["path"] == "history/history.json" for u in uploaded)


@pytest.fixture(scope="module")
def shard_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-cell study run as shards 1/2 and 2/2, and whole (the last published night)."""
    from studies import SMALL

    from evalsuite.config import StudyConfig
    from evalsuite.runner import run_study

    study = {**SMALL, "kinds": ["clean/none"], "scopes": ["per_class"], "sweeps": []}
    config = StudyConfig.model_validate(study)
    root = tmp_path_factory.mktemp("nightly")
    for index in (1, 2):
        run_study(
            config,
            root / f"shard-{index}",
            cache_dir=root / "cache",
            progress=False,
            shard=(index, 2),
        )
    run_study(config, root / "whole", cache_dir=root / "cache", progress=False)
    return {name: root / name for name in ("shard-1", "shard-2", "whole")}


def _night(
    tmp_path: Path, shards: list[Path], baseline: Path | None
) -> tuple[Path, dict[str, str]]:
    """Run the merge job's steps (merge, diff, summary, history, site) as GitHub would, in a
    folder laid out as the job's: the downloaded shards (without fits, as uploaded), the
    restored baseline with its history (the baseline appended as a night), and a .venv whose
    evalsuite is this checkout. Returns the folder and the step outputs."""
    for name in ("evalsuite", "python"):
        tool = tmp_path / ".venv" / "bin" / name
        tool.parent.mkdir(parents=True, exist_ok=True)
        module = " -m evalsuite" if name == "evalsuite" else ""
        tool.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}"{module} "$@"\n')
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    (tmp_path / ".github").symlink_to(ROOT / ".github")
    for shard in shards:
        shutil.copytree(
            shard, tmp_path / "shards" / shard.name, ignore=shutil.ignore_patterns("fits")
        )
    if baseline is not None:
        shutil.copytree(baseline, tmp_path / "baseline", ignore=shutil.ignore_patterns("fits"))
        kept = ["--results", str(baseline), "--history", str(tmp_path / "history/history.json")]
        assert CliRunner().invoke(cli, ["history", "append", *kept]).exit_code == 0
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    files = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    steps = _nightly_steps()
    for name in ("merge", "diff", "summary", "history", "site"):
        done = run_step(steps[name], tmp_path, {}, **files)
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return tmp_path, outputs


def test_first_night_with_a_missing_shard(shard_runs: dict[str, Path], tmp_path: Path) -> None:
    """Shard 2 never arrived: merge lists its cells, the site is built and marked partial, the
    summary names the shard, and says there is no baseline yet."""
    folder, outputs = _night(tmp_path, [shard_runs["shard-1"]], None)
    lost = sorted(str(p) for p, _ in iter_cells(shard_runs["shard-2"]))
    assert outputs == {
        "failed": "0",
        "missing": str(len(lost)),
        "regressed": "0",
        "failed_shards": "2/2",
    }
    text = (folder / "summary.md").read_text()
    assert f"of 4 planned cells ok, 0 failed, {len(lost)} missing, from shards 1/2." in text
    assert "**Failed shards** (never arrived): 2/2." in text
    assert [f"- `{path}`" for path in lost] == sorted(
        line for line in text.splitlines() if line.startswith("- `")
    )
    assert "First night: no baseline" in text
    index = (folder / "site" / "index.html").read_text()
    assert f"{len(lost)} cells of the study's plan are missing" in index
    assert not (folder / "site" / "changes.html").exists()
    (night,) = json.loads((folder / "history" / "history.json").read_text())["nights"]
    assert night["against"] is None and (folder / "site" / "history.html").is_file()


def test_next_night_compares_with_the_baseline(shard_runs: dict[str, Path], tmp_path: Path) -> None:
    shards = [shard_runs["shard-1"], shard_runs["shard-2"]]
    folder, outputs = _night(tmp_path, shards, shard_runs["whole"])
    assert outputs == {"failed": "0", "missing": "0", "regressed": "0", "failed_shards": ""}
    text = (folder / "summary.md").read_text()
    assert "4 of 4 planned cells ok, 0 failed, 0 missing, from shards 1/2, 2/2." in text
    created = read_manifest(shard_runs["whole"])["created"]
    assert f"### Changes since the night of {created}" in text
    assert "4 unchanged (min delta 0.0)." in text and "Failed shards" not in text
    assert (folder / "site" / "changes.html").is_file()
    assert json.loads((folder / "diff.json").read_text())["counts"]["unchanged"] == 4
    kept = json.loads((folder / "history" / "history.json").read_text())["nights"]
    nights = {entry["run"]: entry for entry in kept}  # in run order: the shards ran first here
    night = nights[read_manifest(folder / "results" / "nightly")["created"]]
    assert len(nights) == 2 and created in nights and night["against"] == created
    verdicts = {m["verdict"] for cell in night["cells"] for m in cell["metrics"].values()}
    assert verdicts == {"unchanged"} and "2 nights" in (folder / "site/history.html").read_text()


def test_a_refused_history_is_set_aside_and_a_new_one_started(
    shard_runs: dict[str, Path], tmp_path: Path
) -> None:
    """A kept history the command refuses (exit 2) does not stop the night: a warning, the
    file set aside, a new history of this night."""
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "history.json").write_text("not a history\n")
    folder, _ = _night(tmp_path, [shard_runs["shard-1"], shard_runs["shard-2"]], None)
    (night,) = json.loads((folder / "history" / "history.json").read_text())["nights"]
    assert night["against"] is None
    (refused,) = (folder / "history").glob("refused-*.json")
    assert refused.read_text() == "not a history\n"


@pytest.mark.parametrize(
    ("outputs", "errors"),
    [
        ({"failed": "0", "missing": "0", "regressed": "0", "failed_shards": ""}, []),
        (
            {"failed": "2", "missing": "3", "regressed": "1", "failed_shards": "2/4 4/4"},
            [
                "shards 2/4 4/4 failed",
                "3 planned cells are missing",
                "2 cells failed",
                "1 cells regressed beyond their interval",
            ],
        ),
    ],
)
def test_verdict_fails_the_night_after_publishing(
    tmp_path: Path, outputs: dict[str, str], errors: list[str]
) -> None:
    context = {f"needs.merge.outputs.{k}": v for k, v in outputs.items()}
    context["needs.merge.result"] = "success"
    done = run_step(_nightly_steps()["verdict"], tmp_path, context)
    assert done.returncode == (1 if errors else 0)
    reported = [line for line in done.stdout.splitlines() if line.startswith("::error::")]
    assert len(reported) == len(errors)
    assert all(error in line for error, line in zip(errors, reported, strict=True))
    context["needs.merge.result"] = "failure"
    failed = run_step(_nightly_steps()["verdict"], tmp_path, context)
    assert failed.returncode == 1 and "the merge job did not finish (failure)" in failed.stdout


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
