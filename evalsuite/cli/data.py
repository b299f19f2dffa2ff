"""`evalsuite data synth|shift|check|download`: make, shift, check and download datasets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evalsuite.cli.group import Group
from evalsuite.cli.options import CATEGORIES, COUNT, FiniteRange, parse_categories
from evalsuite.limits import MAX_SEED

if TYPE_CHECKING:
    from evalsuite.data.samples import Dataset


@click.group(cls=Group)
def data() -> None:
    """Make, shift, check and download MVTec-layout datasets."""


@data.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@CATEGORIES
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED))
@click.option(
    "--size", default=256, show_default=True, type=click.IntRange(64, 2048), help="Image side, px."
)
@click.option("--train", "n_train", default=60, show_default=True, type=COUNT)
@click.option("--test-good", "n_test_good", default=20, show_default=True, type=COUNT)
@click.option("--test-defect", "n_test_defect", default=24, show_default=True, type=COUNT)
@click.option(
    "--difficulty",
    default=0.5,
    show_default=True,
    type=FiniteRange(0.0, 1.0),
    help="0 easy, 1 hard.",
)
@click.option(
    "--layout",
    default="mvtec",
    show_default=True,
    type=click.Choice(["mvtec", "mvtec_ad2", "visa"]),
    help="The tree's layout: MVTec AD, or a mimic of MVTec AD 2's or VisA's.",
)
def synth(
    out: Path,
    categories: tuple[str, ...],
    seed: int,
    size: int,
    n_train: int,
    n_test_good: int,
    n_test_defect: int,
    difficulty: float,
    layout: str,
) -> None:
    """Write a synthetic MVTec-like dataset (hazelnut, carpet, zipper) to OUT, in the MVTec
    layout or as a mimic of MVTec AD 2's or VisA's (`--layout`)."""
    from evalsuite.data.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(
        categories=categories,
        seed=seed,
        size=size,
        n_train=n_train,
        n_test_good=n_test_good,
        n_test_defect=n_test_defect,
        difficulty=difficulty,
    )
    if layout == "mvtec":
        root = generate(out, config)
        click.echo(f"synthetic dataset written to {root}")
        return
    from evalsuite.data.layouts.mimic import write_mimic

    root = write_mimic(out, layout, config)  # type: ignore[arg-type]
    click.echo(f"synthetic {layout} mimic dataset written to {root}")


@data.command()
@click.option("--src", required=True, type=click.Path(path_type=Path), help="MVTec-layout tree.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED))
@click.option(
    "--family",
    default="mvtec_shift",
    show_default=True,
    type=click.Choice(["mvtec_shift", "corruptions"]),
    help="MVTec-Shift, or one ImageNet-C corruption type (--factors).",
)
@click.option(
    "--severity",
    default="2",
    show_default=True,
    type=click.Choice(["1", "2", "3", "4", "5"]),
    help="1-3 for mvtec_shift, 1-5 for corruptions.",
)
@click.option(
    "--factors",
    default="all",
    show_default=True,
    help="mvtec_shift: all, a factor alone (exposure, ..., perspective), photometric, "
    "geometric or all-minus:<factor>; corruptions: the corruption type (brightness, fog, ...).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Processes (the images written do not depend on it).",
)
def shift(
    src: Path,
    out: Path,
    seed: int,
    family: str,
    severity: str,
    factors: str,
    quiet: bool,
    workers: int,
) -> None:
    """Write the MVTec-Shift or corrupted copy of SRC (train, test and masks) to OUT."""
    from evalsuite.data.shift_family import CORRUPTIONS, check_name, check_severity
    from evalsuite.errors import ConfigError

    try:
        check_severity(family, int(severity))
        if family == CORRUPTIONS and factors == "all":
            raise ConfigError("name the corruption type with --factors (brightness, fog, ...)")
        check_name(family, factors)
    except ConfigError as error:
        raise ConfigError(
            f"--family {family} --factors {factors} --severity {severity}: {error}"
        ) from error
    if family == CORRUPTIONS:
        from evalsuite.data.corruption_tree import corruption_tree

        root = corruption_tree(
            src, out, factors, int(severity), seed, progress=not quiet, workers=workers
        )
    else:
        from evalsuite.data.shift_tree import shift_tree

        root = shift_tree(
            src,
            out,
            seed=seed,
            severity=int(severity),
            progress=not quiet,
            workers=workers,
            factors=factors,
        )
    click.echo(f"shifted dataset written to {root} (parameters in {root}/evalsuite-shift.json)")


@data.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--categories",
    default=None,
    callback=parse_categories,
    help="Comma list (default: all in the tree).",
)
@click.option(
    "--layout",
    default=None,
    type=click.Choice(["mvtec", "mvtec_ad2", "visa"]),
    help="The tree's layout (default: detected from the tree, and said).",
)
def check(root: Path, categories: tuple[str, ...] | None, layout: str | None) -> None:
    """Validate the tree ROOT (MVTec AD, MVTec AD 2 or VisA layout) and print its counts.

    Files the reader skips (an unsupported suffix, a dangling link, ...) are listed as a
    warning on stderr; they do not fail the check (exit 0 when nothing else is wrong).
    """
    from evalsuite.data.layouts.detect import detect_layout
    from evalsuite.data.reader import check_dataset

    if layout is None:
        layout = detect_layout(root)
        if layout != "mvtec":  # an MVTec tree's report reads as it always has
            click.echo(f"layout: {layout} (detected; --layout names it)")
    report = check_dataset(root, categories, layout)  # type: ignore[arg-type]
    if report.dataset is not None:
        _print_dataset(root, report.dataset)
    if not report.ok:
        click.echo(f"{len(report.problems)} problem(s):", err=True)
        for problem in report.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    skipped = len(report.dataset.skipped) if report.dataset is not None else 0
    click.echo(
        "ok: no problems found" + (f" ({skipped} skipped: see the warning)" if skipped else "")
    )


def _print_dataset(root: Path, dataset: Dataset) -> None:
    """What `data check` prints of a tree it could read: its kind, counts and skipped files."""
    from evalsuite.data.reader import counts
    from evalsuite.data.skipped import summary

    kind = "synthetic" if dataset.synthetic else "real"
    shifted = _shift_text(dataset.shift) if dataset.shift else ""
    masks = "with masks" if dataset.has_masks else "without masks (pixel metrics skipped)"
    click.echo(f"{root}: {kind} data{shifted}, {len(dataset.samples)} images, {masks}")
    click.echo(f"{'category':<16}{'folder':<8}{'defect':<24}{'images':>6}")
    for category, folder, defect, number in counts(dataset):
        click.echo(f"{category:<16}{folder:<8}{defect:<24}{number:>6}")
    if dataset.layout != "mvtec":
        from evalsuite.data.layouts.report import layout_lines

        for line in layout_lines(dataset):
            click.echo(line)
    warning = summary(root, dataset.skipped)
    if warning is not None:
        click.echo(f"warning: {warning}", err=True)
        for entry in dataset.skipped:
            click.echo(f"  - {entry.text()}", err=True)


@data.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@CATEGORIES
@click.option(
    "--sources",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON file of archive URLs and SHA-256 sums replacing the built-in MVTec AD sources.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=FiniteRange(0.0, 3600.0, min_open=True),
    help="Seconds.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def download(
    out: Path, categories: tuple[str, ...], sources: Path | None, timeout: float, quiet: bool
) -> None:
    """Download MVTec AD categories into OUT (SHA-256 verified, resumable)."""
    from evalsuite.data.download import download_from

    for folder in download_from(out, categories, sources, timeout=timeout, progress=not quiet):
        click.echo(f"ready: {folder}")


def _shift_text(shift: dict[str, object]) -> str:
    """What `data check` says of a shifted tree: its family, variant and severity."""
    severity = shift["severity"]
    if shift.get("family") == "corruptions":
        return f", corruption {shift['factors']} severity {severity}"
    variant = f" {shift['factors']}" if "factors" in shift else ""
    return f", MVTec-Shift{variant} severity {severity}"
