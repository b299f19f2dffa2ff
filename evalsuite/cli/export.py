"""`evalsuite export ad2-submission|ad2-check`: MVTec AD 2's server submission.

`ad2-submission` loads fitted models (torch, imported inside the command); `ad2-check` reads
files only and imports no model library.
"""

from __future__ import annotations

from pathlib import Path

import click

from evalsuite.cli.group import Group
from evalsuite.cli.options import CACHE, DEVICE, parse_categories


@click.group(cls=Group)
def export() -> None:
    """Export results in other formats (MVTec AD 2's evaluation server)."""


@export.command("ad2-submission")
@click.option(
    "--results",
    "results_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The study's results folder (manifest, cells, fits).",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="New submission folder."
)
@click.option("--detector", default=None, help="Detector label [default: the study's only one].")
@click.option(
    "--masks/--no-masks",
    default=True,
    show_default=True,
    help="Also write binary masks at the clean cell's pixel threshold (for SegF1).",
)
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=None,
    help="The MVTec AD 2 tree [default: the one the manifest names].",
)
@CACHE
@DEVICE
def ad2_submission(
    results_dir: Path,
    out: Path,
    detector: str | None,
    masks: bool,
    data_root: Path | None,
    cache_dir: Path | None,
    device: str | None,
) -> None:
    """Write the anomaly maps of test_private and test_private_mixed, as MVTec AD 2's
    evaluation server takes them, from each category's clean model; the tree is checked
    before it is moved into OUT (exit 2 naming the file and the rule when it breaks one)."""
    from evalsuite.submission.export import export_submission

    report = export_submission(
        results_dir,
        out,
        detector=detector,
        masks=masks,
        data_root=data_root,
        cache_dir=cache_dir,
        device=device,
    )
    count = len(report.categories)
    click.echo(
        f"wrote {report.check.maps} maps and {report.check.masks} masks of {report.label!r} "
        f"({count} {'category' if count == 1 else 'categories'}) into {out}; format check: ok"
    )
    for note in report.check.notes:
        click.echo(f"note: {note}")


@export.command("ad2-check")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--data-root",
    required=True,
    type=click.Path(path_type=Path),
    help="The MVTec AD 2 tree the submission was made from.",
)
@click.option(
    "--categories",
    default=None,
    callback=parse_categories,
    help="Comma-separated categories [default: every one with private images in the tree].",
)
def ad2_check(folder: Path, data_root: Path, categories: tuple[str, ...] | None) -> None:
    """Check the submission FOLDER against the format rules of MVTec's upload checker and the
    tree's private images (counts, names, float16, sizes, finite values, 0/255 masks); exit 2
    naming the file and the rule at the first problem."""
    from evalsuite.submission.check import check_submission, expected_from_tree
    from evalsuite.submission.layout import tree_categories

    chosen = list(categories) if categories else tree_categories(data_root)
    report = check_submission(folder, expected_from_tree(data_root, chosen))
    click.echo(f"{folder}: {report.maps} maps, {report.masks} masks; format check: ok")
    for note in report.notes:
        click.echo(f"note: {note}")
