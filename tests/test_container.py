"""The container: Dockerfile lint and structure, its build context, and (slow) its own install
commands run in a fresh virtual environment.

No Docker engine runs here, so the Dockerfile is parsed: instructions, stages, ARG defaults.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_BUILD = re.compile(r"^(torch|torchvision|triton|nvidia-.+|cuda-.+)$")
"""Packages of PyPI's CUDA torch build, which the image does not take from constraints.txt."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def find(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def variables(self, keyword: str, given: dict[str, str] | None = None) -> dict[str, str]:
        """ARG or ENV values (`NAME=value` pairs) in order, each default expanded with the
        values before it; `given` replaces defaults, as `docker build --build-arg` does."""
        found: dict[str, str] = {}
        for instruction in self.find(keyword):
            for pair in shlex.split(instruction.argument):
                name, _, value = pair.partition("=")
                found[name] = (given or {}).get(name, expand(value, found))
        return found


def parse(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comment lines dropped."""
    instructions, pending = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") or (not line.strip() and pending):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            keyword, _, argument = pending.strip().partition(" ")
            instructions.append(Instruction(keyword.upper(), " ".join(argument.split())))
        pending = ""
    return instructions


def stages(text: str) -> list[Stage]:
    found: list[Stage] = []
    for instruction in parse(text):
        if instruction.keyword == "FROM":
            words = instruction.argument.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name, ()))
        elif found:
            last = found[-1]
            found[-1] = Stage(last.base, last.name, (*last.instructions, instruction))
    return found


def expand(text: str, variables: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced by known values (others left to the shell)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def run_flags_removed(argument: str) -> str:
    """A RUN's shell command without BuildKit flags such as `--mount=type=cache,...`."""
    return re.sub(r"^(--\S+\s+)+", "", argument)


@pytest.fixture(scope="module")
def dockerfile() -> list[Stage]:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


def install_command(build: Stage, **build_args: str) -> str:
    """The build stage's `pip install` RUN, its ARGs expanded (defaults, or `build_args`)."""
    runs = [i for i in build.find("RUN") if "pip install" in i.argument]
    assert len(runs) == 1, "expected the installation in exactly one RUN instruction"
    return expand(run_flags_removed(runs[0].argument), build.variables("ARG", build_args))


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_two_stages_on_one_pinned_slim_python(dockerfile: list[Stage]) -> None:
    assert [stage.name for stage in dockerfile] == ["build", "runtime"]
    bases = {stage.base for stage in dockerfile}
    assert len(bases) == 1, "the runtime copies the build's venv: both need the same Python"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", bases.pop())
    copied = [i.argument for i in dockerfile[1].find("COPY")]
    assert copied == [
        "--from=build /opt/venv /opt/venv",
        "--from=build /opt/huggingface /opt/huggingface",
    ]


def test_runtime_is_evalsuite_all_as_a_non_root_user(dockerfile: list[Stage]) -> None:
    runtime = dockerfile[-1]
    user = runtime.find("USER")[-1].argument.split(":")[0]
    assert user not in ("root", "0")
    assert user in runtime.find("RUN")[0].argument  # the user is created with that uid
    assert json.loads(runtime.find("ENTRYPOINT")[-1].argument) == ["evalsuite"]
    assert json.loads(runtime.find("CMD")[-1].argument) == ["all"]
    assert set(json.loads(runtime.find("VOLUME")[-1].argument)) == {"/data", "/out"}
    assert runtime.find("WORKDIR")[-1].argument == "/out"
    env = runtime.variables("ENV")
    assert (env["EVALSUITE_PRESET"], env["EVALSUITE_DATA_ROOT"]) == ("paper", "/data")
    assert env["EVALSUITE_CACHE"].startswith("/out/")
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_weights_baked_at_build_and_read_offline(dockerfile: list[Stage]) -> None:
    build, runtime = dockerfile
    build_env, runtime_env = build.variables("ENV"), runtime.variables("ENV")
    assert runtime_env["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in build_env  # the build downloads
    assert build_env["HF_HOME"] == runtime_env["HF_HOME"] == "/opt/huggingface"
    steps = [(i.keyword, i.argument) for i in build.instructions]
    fetch = steps.index(("RUN", "python docker/fetch_weights.py"))
    assert ("COPY", "docker/fetch_weights.py ./docker/") in steps[:fetch]
    assert any("pip install" in argument for _, argument in steps[:fetch])


def test_torch_from_the_pytorch_index_cpu_by_default(dockerfile: list[Stage]) -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = dict(d.split("==") for d in pins["dependencies"] if d.startswith("torch"))
    cpu = install_command(dockerfile[0])
    assert f'--index-url "{PYTORCH_CPU_INDEX}"' in cpu
    assert f'"torch=={locked["torch"]}+cpu" "torchvision=={locked["torchvision"]}+cpu"' in cpu
    cuda = install_command(dockerfile[0], TORCH_VARIANT="cu130")
    assert '--index-url "https://download.pytorch.org/whl/cu130"' in cuda
    assert f'"torch=={locked["torch"]}+cu130"' in cuda


def test_image_constraints_drop_only_the_cuda_torch_build(
    dockerfile: list[Stage], tmp_path: Path
) -> None:
    """The filter in the install RUN, run on the real constraints.txt."""
    segment = install_command(dockerfile[0]).split(" && ")[0]
    assert "constraints-image.txt" in segment and "pip" not in segment
    shutil.copy(ROOT / "constraints.txt", tmp_path)
    subprocess.run(["bash", "-euo", "pipefail", "-c", segment], cwd=tmp_path, check=True)
    lock = _pins(ROOT / "constraints.txt")
    kept = _pins(tmp_path / "constraints-image.txt")
    assert {"torch", "torchvision", "triton", "nvidia-cublas", "cuda-toolkit"} <= lock.keys()
    assert kept == {name: v for name, v in lock.items() if not TORCH_BUILD.match(name)}
    assert {"numpy", "timm", "anomalib", "faiss-cpu", "huggingface-hub"} <= kept.keys()


def _pins(path: Path) -> dict[str, str]:
    """name (lower case, `_` as `-`) -> version of each `name==version` line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name.strip().lower().replace("_", "-"): version.strip() for name, version in pairs}


def _dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves `path` (relative, `/`-separated) out of the build context: the last
    .dockerignore rule matching the path or one of its parent folders decides."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def test_build_context_is_only_what_the_dockerfile_copies(dockerfile: list[Stage]) -> None:
    sources = {
        word.rstrip("/")
        for stage in dockerfile
        for copy in stage.find("COPY")
        if not copy.argument.startswith("--from")
        for word in copy.argument.split()[:-1]
    }
    copied = {"pyproject.toml", "constraints.txt", "README.md", "evalsuite", "templates"}
    assert sources == copied | {"docker/fetch_weights.py"}
    for source in sources:
        assert (ROOT / source).exists()
        assert not _dockerignore_excludes(source), source
    for kept in (
        "evalsuite/cli/__init__.py",
        "evalsuite/schemas/cell.schema.json",
        "templates/base.html.j2",
    ):
        assert not _dockerignore_excludes(kept), kept
    others = [p.name for p in ROOT.iterdir() if p.name not in copied | {"docker"}]
    hypothetical = [".venv/bin/python", "data/mvtec/hazelnut/train/good/000.png", "shard-1"]
    for left_out in [*others, *hypothetical, "evalsuite/__pycache__/cli.cpython-311.pyc"]:
        assert _dockerignore_excludes(left_out), left_out


# The slow test: the Dockerfile's own install commands in a fresh virtual environment.


def on_this_machine(command: str) -> str:
    """The install command as this machine can run it: the only substitution made.

    download.pytorch.org cannot be reached here (PyPI and local wheels can), so the CPU index
    option `--index-url https://download.pytorch.org/whl/cpu` is dropped (pip then uses this
    machine's configured indexes) and the `+cpu` local version label is removed: the same
    torch 2.14.1 and torchvision 0.29.1, in PyPI's build, are installed from local disk. That
    build needs CUDA libraries, which the project's install step then adds; the CPU wheels do
    not. Everything else runs as written.
    """
    index = f'--index-url "{PYTORCH_CPU_INDEX}" '
    assert command.count(index) == 1 and command.count("+cpu") == 2, command
    return command.replace(index, "").replace("+cpu", "")


def _copy_context(build: Stage, context: Path) -> None:
    """Do the build stage's COPY instructions that precede its install, into `context`."""
    for instruction in build.instructions:
        if instruction.keyword == "RUN" and "pip install" in instruction.argument:
            return
        if instruction.keyword != "COPY":
            continue
        *sources, target = instruction.argument.split()
        for source in sources:
            origin, destination = ROOT / source, context / target
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / origin.name)


@pytest.mark.slow
def test_dockerfile_install_commands_in_a_fresh_venv(dockerfile: list[Stage]) -> None:
    build = dockerfile[0]
    command = on_this_machine(install_command(build))
    with tempfile.TemporaryDirectory(prefix="evalsuite-docker-") as scratch:
        venv, context = Path(scratch) / "venv", Path(scratch) / "src"
        context.mkdir()
        _copy_context(build, context)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env = {**_host_env(), **build.variables("ENV")}
        env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{_host_env()['PATH']}")
        env.pop("HF_HOME")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        _check_installed(venv, env)


def _check_installed(venv: Path, env: dict[str, str]) -> None:
    """evalsuite runs from the new venv, away from the source tree, on torch 2.14.1."""
    outside = Path(venv).parent

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=outside, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-4000:]
        return done.stdout

    assert {"run", "data", "merge"} <= set(run(str(venv / "bin" / "evalsuite"), "--help").split())
    paper = json.loads(run(str(venv / "bin" / "evalsuite"), "config", "show", "--preset", "paper"))
    assert paper["name"] == "paper"
    torch_version, vision_version, package = run(
        str(venv / "bin" / "python"), "-c", _VERSIONS
    ).split()
    assert (torch_version, vision_version) == ("2.14.1", "0.29.1")
    assert Path(package).is_relative_to(venv)


_VERSIONS = (
    "import torch, torchvision, evalsuite; "
    "print(torch.__version__.split('+')[0], torchvision.__version__.split('+')[0], "
    "evalsuite.__file__)"
)


def _host_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
