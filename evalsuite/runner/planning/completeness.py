"""Which cells a study plans, rebuilt from a manifest's configuration without data or models,
and the merge of shard folders that lists the planned cells no shard delivered."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from evalsuite.config import StudyConfig
from evalsuite.errors import ConfigError, ResultsError
from evalsuite.results import MergeReport, merge, read_manifest
from evalsuite.results.paths import MANIFEST_NAME
from evalsuite.runner.planning.plan import make_plan, planned_relpath


def planned_cells(config: dict[str, Any], where: Path) -> list[PurePosixPath]:
    """The cell paths (under `cells/`) the configuration `config` plans, in plan order.

    Paths depend only on what a cell is (label, scope, regime, condition, category, sweep,
    seed), not on the data or weights, so the plan is expanded with empty keys for those.

    Args:
        config: a manifest's `config` (the resolved study configuration).
        where: the manifest it comes from, for messages.

    Raises:
        ResultsError: the configuration is not a valid study for this evalsuite version.
    """
    try:
        study = StudyConfig.model_validate(config)
    except (ValidationError, ConfigError) as error:
        problem = " ".join(str(error).split())
        raise ResultsError(
            f"{where}: its `config` is not a valid study for this evalsuite version ({problem}); "
            "rerun the shards with this version, or merge with the version that wrote them"
        ) from error
    plan = make_plan(study, data_key={}, weights={})
    multi_seed = len(study.seeds) > 1
    return list(dict.fromkeys(planned_relpath(cell, multi_seed) for cell in plan.cells))


def merge_shards(sources: Sequence[Path], out: Path) -> MergeReport:
    """Merge shard folders into `out` (see `results.merge`), listing the planned cells that no
    source holds in the report's `missing`.

    Raises:
        ResultsError: as `results.merge`, or the first source's configuration is not a valid
            study (nothing is written then).
    """
    if not sources:
        return merge(sources, out)
    first = Path(sources[0])
    planned = planned_cells(read_manifest(first)["config"], first / MANIFEST_NAME)
    return merge(sources, out, planned)
