"""Strict configurations: no value coerced from another type, no NaN or infinity, no key given
twice, and every check that needs no feature made before any work (`plan` and `run` refuse with
exit 2 before they touch data, cache or results). `all` checks its site folder and baseline
before its run; `--shard` is bounded.

The commands run in-process (click's runner); what they would have written is checked absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from studies import tiny_toml

from evalsuite.cli import main
from evalsuite.config import StudyConfig, load_config
from evalsuite.detectors.patchcore.params import PatchCoreParams
from evalsuite.errors import ConfigError
from evalsuite.limits import MAX_SHARDS, MAX_SIGMA

STUDY = """name = "strict"
kinds = ["clean/none"]
scopes = ["per_class"]
{top}
[data]
categories = ["carpet"]
[data.synthetic]
size = 64
n_train = 6
n_test_good = 4
n_test_defect = 6
[[detectors]]
name = "patchcore"
backbone = {{ {backbone} }}
params = {{ {patchcore} }}
[[detectors]]
name = "padim"
backbone = {{ resize = 64, crop = 64 }}
params = {{ {padim} }}
{tables}
"""
BACKBONE = "resize = 64, crop = 64"
PATCHCORE = "coreset_ratio = 0.5"
PADIM = "n_features = 20"


def study(
    top: str = "",
    backbone: str = BACKBONE,
    patchcore: str = PATCHCORE,
    padim: str = PADIM,
    tables: str = "",
) -> str:
    """A tiny synthetic study (one category, PatchCore and PaDiM on Lite0 at 64 px); the
    arguments replace its parts (the inline tables' contents) or add tables at its end."""
    return STUDY.format(top=top, backbone=backbone, patchcore=patchcore, padim=padim, tables=tables)


def sweep(param: str, values: str, detector: str = "patchcore") -> str:
    return f'[[sweeps]]\ndetector = "{detector}"\nparam = "{param}"\nvalues = {values}\n'


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def assert_refused(result: Result, code: int, says: tuple[str, ...]) -> None:
    """Exit `code`, one `error:` line saying all of `says`, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for text in says:
        assert text in result.output, f"{text!r} not in {result.output!r}"


@dataclass(frozen=True)
class Bad:
    """A study text and what its refusal must say (the key's path first)."""

    text: str
    says: tuple[str, ...]


BAD = {
    # booleans are not numbers
    "seeds = [true]": Bad(study(top="seeds = [true]"), ("seeds.0", "valid integer", "True")),
    "coreset_ratio = true": Bad(
        study(patchcore="coreset_ratio = true"),
        ("detectors.0.params", "coreset_ratio", "valid number"),
    ),
    "severity = true": Bad(
        study(tables="[shift]\nseverity = true\n"),
        ("shift.severity", "valid integer", "True"),
    ),
    "bootstrap = false": Bad(
        study(tables="[evaluation]\nbootstrap = false\n"), ("evaluation.bootstrap", "False")
    ),
    # strings are not numbers or booleans
    'seeds = ["1"]': Bad(study(top='seeds = ["1"]'), ("seeds.0", "valid integer", "'1'")),
    'pretrained = "no"': Bad(
        study(backbone=f'{BACKBONE}, pretrained = "no"'),
        ("detectors.0.backbone", "pretrained", "valid boolean", "'no'"),
    ),
    'download = "yes"': Bad(
        study().replace("[data]\n", '[data]\ndownload = "yes"\n', 1),
        ("data.download", "valid boolean"),
    ),
    'difficulty = "0.5"': Bad(
        study().replace("[data.synthetic]\n", '[data.synthetic]\ndifficulty = "0.5"\n'),
        ("data.synthetic.difficulty", "valid number", "'0.5'"),
    ),
    "crop = 64.0": Bad(
        study(backbone="resize = 64, crop = 64.0"),
        ("detectors.0.backbone", "crop", "valid integer"),
    ),
    "n_features = 20.5": Bad(
        study(padim="n_features = 20.5"),
        ("detectors.1.params", "n_features", "valid integer"),
    ),
    # NaN and infinity, in every float
    "sigma = nan": Bad(
        study(patchcore="sigma = nan"), ("detectors.0.params", "sigma", "finite number")
    ),
    "sigma = inf": Bad(study(patchcore="sigma = inf"), ("sigma", "finite number")),
    "quantile = nan": Bad(
        study(tables="[evaluation.image_threshold]\nquantile = nan\n"),
        ("evaluation.image_threshold.quantile", "finite number"),
    ),
    "k = -inf": Bad(
        study(tables="[evaluation.pixel_threshold]\nk = -inf\n"),
        ("evaluation.pixel_threshold.k", "finite number"),
    ),
    # swept values: validated as the configuration's own
    "sweep of sigma [nan]": Bad(
        study(tables=sweep("params.sigma", "[1.0, nan]")),
        ("sweeps.0.values.1", "params.sigma = nan", "finite number"),
    ),
    "sweep of coreset_ratio [true]": Bad(
        study(tables=sweep("params.coreset_ratio", "[true]")),
        ("sweeps.0.values.0", "coreset_ratio", "valid number"),
    ),
    'sweep of num_neighbors ["3"]': Bad(
        study(tables=sweep("params.num_neighbors", '["3"]')),
        ("sweeps.0.values.0", "num_neighbors", "valid integer"),
    ),
    "sweep of severity [true]": Bad(
        study(tables=sweep("shift.severity", "[true]")),
        ("sweeps.0.values.0", "shift.severity = True", "valid integer"),
    ),
    "sweep of severity [7]": Bad(
        study(tables=sweep("shift.severity", "[1, 7]")),
        ("sweeps.0.values.1", "shift.severity = 7", "MVTec-Shift's severities 1, 2, 3"),
    ),
    "sweep of severity [nan]": Bad(
        study(tables=sweep("shift.severity", "[nan]")), ("sweeps.0.values.0", "shift.severity")
    ),
    # sizes: positive, the crop within the resize, in sweeps too
    "sweep of crop [0]": Bad(
        study(tables=sweep("backbone.crop", "[32, 0]")),
        ("sweeps.0.values.1", "backbone.crop = 0", "too small"),
    ),
    "sweep of crop [-64]": Bad(
        study(tables=sweep("backbone.crop", "[-64]")), ("sweeps.0.values.0", "too small")
    ),
    "sweep of crop above the resize": Bad(
        study(tables=sweep("backbone.crop", "[48, 96]")),
        ("sweeps.0.values.1", "crop 96 is larger than resize 64"),
    ),
    "no crop and a resize below the weights' input": Bad(
        study(backbone="resize = 128"),
        ("detectors.0.backbone", "crop 224 (the input size of tf_efficientnet_lite0"),
    ),
    # channels from the layer tables
    "n_features above the layers' channels": Bad(
        study(padim='layers = ["blocks.1", "blocks.2"], n_features = 65'),
        ("detectors.1", "n_features=65 exceeds the 64 channels", "use at most 64"),
    ),
    "sweep of n_features above the channels": Bad(
        study(tables=sweep("params.n_features", "[50, 177]", detector="padim")),
        ("sweeps.0.values.1", "n_features=177 exceeds the 176 channels"),
    ),
    "sweep of layers below n_features": Bad(
        study(tables=sweep("params.layers", '[["blocks.1"], ["blocks.0"]]', detector="padim")),
        ("sweeps.0.values.1", "n_features=20 exceeds the 16 channels of layers ['blocks.0']"),
    ),
    "layers the backbone lacks": Bad(
        study(patchcore='layers = ["layer2"]'),
        ("detectors.0", "['layer2'] are not feature layers", "blocks.2"),
    ),
    # a sigma that would take hours per map
    "sigma = 1e9": Bad(study(patchcore="sigma = 1e9"), ("sigma=1000000000.0", "[0, 128]")),
    "sweep of sigma [1e7]": Bad(
        study(tables=sweep("params.sigma", "[4, 1e7]")), ("sweeps.0.values.1", "[0, 128]")
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_value_is_refused_by_config_show_plan_and_run_before_any_work(
    name: str, tmp_path: Path
) -> None:
    config = tmp_path / "study.toml"
    config.write_text(BAD[name].text)
    says = (str(config), "invalid configuration", *BAD[name].says)
    assert_refused(invoke("config", "show", "--config", config), 2, says)
    cache, out = tmp_path / "cache", tmp_path / "out"
    assert_refused(invoke("plan", "--config", config, "--cache", cache, "--out", out), 2, says)
    ran = invoke("run", "--config", config, "--cache", cache, "--out", out, "--quiet")
    assert_refused(ran, 2, says)
    assert not cache.exists() and not out.exists()  # no data made, no folder created


def test_the_bad_studies_differ_from_a_good_one_only_where_they_say(tmp_path: Path) -> None:
    """The catalogue's base study is valid, so each refusal is the bad value's: integers for
    floats, crops within the resize, n_features up to the channels, sigma up to the bound."""
    good = study(
        patchcore=f"sigma = {int(MAX_SIGMA)}",
        padim='layers = ["blocks.1", "blocks.2"], n_features = 64',
        tables=sweep("backbone.crop", "[8, 64]")
        + sweep("params.n_features", "[64]", detector="padim")
        + sweep("shift.severity", "[1, 3]")
        + "[evaluation.image_threshold]\nk = 3\n",
    )
    path = tmp_path / "good.toml"
    path.write_text(good)
    config = load_config(path=path)
    assert config.detectors[0].params["sigma"] == MAX_SIGMA
    assert config.evaluation.image_threshold.k == 3.0
    assert config.detectors[1].params["n_features"] == 64


def test_a_sigma_beyond_the_bound_is_refused_by_the_params_model() -> None:
    assert PatchCoreParams(sigma=MAX_SIGMA).sigma == MAX_SIGMA
    assert PatchCoreParams(sigma=0).sigma == 0.0
    with pytest.raises(ConfigError, match=r"sigma=128.5 is outside \[0, 128\] pixels"):
        PatchCoreParams(sigma=MAX_SIGMA + 0.5)


# --- keys given twice -------------------------------------------------------------------------

DETECTORS_YAML = """name: twice
detectors:
  - name: patchcore
kinds: [clean/none]
detectors:
  - name: padim
"""

TWICE = {
    "YAML top-level list": ("study.yaml", DETECTORS_YAML, ("line 5", "'detectors'", "line 2")),
    "YAML nested": (
        "study.yaml",
        "detectors:\n  - name: patchcore\n    params: {sigma: 2.0, sigma: 8.0}\n",
        ("line 3", "'sigma'"),
    ),
    "YAML block mapping": (
        "study.yml",
        "detectors:\n  - name: patchcore\n    label: a\n    label: b\n",
        ("line 4", "'label'", "first on line 3"),
    ),
    "TOML key": (
        "study.toml",
        'name = "a"\n[[detectors]]\nname = "patchcore"\nname = "padim"\n',
        ("line 4", "'name'", "already defined"),
    ),
    "TOML dotted key over a value": (
        "study.toml",
        'name = "a"\n[[detectors]]\nname = "patchcore"\nparams = { sigma = 2.0, sigma.x = 1 }\n',
        ("line 4", "'sigma.x'", "already defined"),
    ),
    "TOML table": (
        "study.toml",
        '[data]\nsource = "synthetic"\n[data]\nsource = "mvtec"\n',
        ("line 3", "('data',)", "twice"),
    ),
    "TOML inline table": (
        "study.toml",
        '[[detectors]]\nname = "patchcore"\nparams = { sigma = 2.0, sigma = 8.0 }\n',
        ("line 3", "'sigma'"),
    ),
}


@pytest.mark.parametrize("name", list(TWICE))
def test_a_key_given_twice_is_refused_naming_it_and_its_line(name: str, tmp_path: Path) -> None:
    file_name, text, says = TWICE[name]
    config = tmp_path / file_name
    config.write_text(text)
    result = invoke("config", "show", "--config", config)
    assert_refused(result, 2, (str(config), *says))


def test_yaml_reads_exponents_as_numbers_as_toml_does(tmp_path: Path) -> None:
    """`1e-1` is a float in TOML and YAML 1.2; PyYAML's YAML 1.1 would read the string
    "1e-1", which a strict configuration refuses."""
    config = tmp_path / "study.yaml"
    config.write_text(
        "detectors:\n  - name: patchcore\n    params: {coreset_ratio: 1e-1, sigma: 2E+0}\n"
        "  - name: padim\n    label: '1e-1'\n"
    )
    loaded = load_config(path=config)
    assert loaded.detectors[0].params["coreset_ratio"] == 0.1
    assert loaded.detectors[0].params["sigma"] == 2.0
    assert loaded.detectors[1].label == "1e-1"  # quoted: still text


# --- the command line -------------------------------------------------------------------------


def test_a_huge_shard_count_is_a_clean_invalid_value(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for shard in ("1/99999999999999999999", f"1/{MAX_SHARDS + 1}"):
        result = invoke("run", "--shard", shard, "--out", out, "--cache", tmp_path / "c")
        assert_refused(result, 2, ("Invalid value for '--shard'", f"at most {MAX_SHARDS}"))
    assert not out.exists() and not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    "args",
    [("data", "synth", "--difficulty", "nan"), ("data", "download", "--timeout", "nan")],
    ids=["synth difficulty", "download timeout"],
)
def test_a_nan_option_is_an_invalid_value(args: tuple[str, ...], tmp_path: Path) -> None:
    result = invoke(*args, "--out", tmp_path / "out")
    assert_refused(result, 2, (f"Invalid value for '{args[2]}'", "'nan' is not a number"))
    assert not (tmp_path / "out").exists()


def _all(tmp_path: Path, *extra: str | Path) -> Result:
    config = tmp_path / "study.toml"
    config.write_text(tiny_toml("allcheck", ["clean/none"], ["carpet"]))
    return invoke(
        "all", "--config", config, "--out", tmp_path / "results", "--cache", tmp_path / "cache",
        "--quiet", *extra,
    )  # fmt: skip


def _nothing_ran(tmp_path: Path) -> None:
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_all_refuses_a_site_folder_of_other_files_before_its_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "README.md").write_text("the user's notes")
    result = _all(tmp_path, "--site", site)
    assert_refused(
        result, 2, (f"--out {site} holds 1 file(s) evalsuite site did not write", "--force")
    )
    _nothing_ran(tmp_path)
    assert (site / "README.md").read_text() == "the user's notes"


def test_all_refuses_a_site_that_is_a_file_before_its_run(tmp_path: Path) -> None:
    site = tmp_path / "site.html"
    site.write_text("mine")
    assert_refused(_all(tmp_path, "--site", site), 2, (f"--out {site} is a file",))
    _nothing_ran(tmp_path)


@pytest.mark.parametrize("baseline", ["missing", "empty", "corrupt manifest"])
def test_all_refuses_a_bad_baseline_before_its_run(baseline: str, tmp_path: Path) -> None:
    folder = tmp_path / "baseline"
    if baseline != "missing":
        folder.mkdir()
    if baseline == "corrupt manifest":
        (folder / "manifest.json").write_text('{"schema": ')
    says = {
        "missing": f"results folder {folder} does not exist",
        "empty": f"{folder} holds neither manifest.json nor cell records",
        "corrupt manifest": f"{folder / 'manifest.json'} cannot be read as JSON",
    }[baseline]
    result = _all(tmp_path, "--site", tmp_path / "site", "--baseline", folder)
    assert_refused(result, 2, (says,))
    _nothing_ran(tmp_path)
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("preset", ["demo", "paper", "demo-anomalib"])
def test_a_resolved_configuration_reads_back_from_its_json(preset: str) -> None:
    """Workers and merges rebuild the configuration from its JSON (lists for tuples, strings
    for paths): strictness takes what JSON writes, in both of pydantic's modes."""
    config = load_config(preset_name=preset)
    text = config.model_dump_json()
    assert StudyConfig.model_validate(json.loads(text)) == config
    assert StudyConfig.model_validate_json(text) == config
