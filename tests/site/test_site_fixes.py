"""The site's fixes: partial banner, row links, ROC legends with AUROC, one palette, heatmaps on
one colour scale per category with a colour bar, and datasets without masks shown honestly."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from site_helpers import copy_results, read_json, write_json

from evalsuite.config import StudyConfig
from evalsuite.data.synthetic import SyntheticConfig
from evalsuite.data.synthetic.writer import generate
from evalsuite.results import heatmap
from evalsuite.runner import run_study
from evalsuite.site import build_site
from evalsuite.site.charts.palette import KIND_COLORS, OTHER_COLORS, stylesheet
from evalsuite.site.read.load import load_results
from evalsuite.site.views.heatmaps import recolour, scale_key

OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


NOT_CELLS = ("backbones", "kv")
"""Tables whose rows are not cells: the detectors' backbones, key-value lists."""


class Rows(HTMLParser):
    """The rows of every `<tbody>` of a page's tables of cells (not their mean rows): the hrefs
    of the links in each."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_body = False
        self._of_cells = True
        self._mean = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            classes = (dict(attrs).get("class") or "").split()
            self._of_cells = not any(name in classes for name in NOT_CELLS)
        elif tag == "tbody" and self._of_cells:
            self._in_body = True
        elif tag == "tr" and self._in_body:
            # a mean over categories (`views.means`) has no cells of its own
            self._mean = "mean-row" in (dict(attrs).get("class") or "").split()
            if not self._mean:
                self.rows.append([])
        elif tag == "a" and self._in_body and self.rows and not self._mean:
            self.rows[-1].append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False


def table_rows(page: Path) -> list[list[str]]:
    parser = Rows()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.rows


def specs(page: Path) -> dict[str, dict]:
    """The chart specs of a page by element id."""
    found = re.findall(
        r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>',
        page.read_text(encoding="utf-8"),
        re.S,
    )
    return {name: json.loads(text) for name, text in found}


def test_partial_banner_when_cells_failed_or_missing_and_not_otherwise(
    site_dir: Path, edge_site: Path
) -> None:
    for page in sorted(edge_site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert "Partial results." in text, page
        assert "1 cell(s) failed" in text and "cells of the study's plan are missing" in text, page
    for page in sorted(site_dir.rglob("*.html")):
        assert "Partial results." not in page.read_text(encoding="utf-8"), page


@pytest.mark.parametrize(
    ("page", "tables"),
    [("index.html", 1), ("shift.html", 2), ("unified.html", 2), ("hyperparameters.html", 1)],
)
def test_every_table_row_links_to_its_cell_pages(site_dir: Path, page: str, tables: int) -> None:
    rows = table_rows(site_dir / page)
    assert len(rows) >= 4 * tables
    for links in rows:
        cells = [href for href in links if href.startswith("cells/")]
        assert cells, f"{page}: a row without a link to a cell page"
        for href in cells:
            assert (site_dir / href).is_file(), href


def test_difference_rows_link_both_sides(site_dir: Path) -> None:
    shift = table_rows(site_dir / "shift.html")
    first = [href for href in shift[0] if href.startswith("cells/")]
    assert first == [
        "cells/padim--per_class--none--clean--hazelnut.html",
        "cells/padim--per_class--none--shift--hazelnut.html",
    ]


def test_roc_legends_carry_each_kinds_auroc(site_dir: Path, results_dir: Path) -> None:
    charts = specs(site_dir / "roc.html")
    assert charts
    legend_lines = 0
    for spec in charts.values():
        for row in spec["datasets"]["rows"]:
            if row["layer"] != "legend":
                continue
            legend_lines += 1
            assert row["text"].startswith(f"{row['kind']} (")
    assert legend_lines > 0
    # one value checked against the record it comes from
    record = read_json(results_dir / "cells/patchcore/per_class/none/clean/zipper.json")
    expected = f"clean/none ({record['metrics']['image_auroc']['value']:.3f})"
    texts = {
        (row["col"], row["row"], row["text"])
        for spec in charts.values()
        for row in spec["datasets"]["rows"]
        if row["layer"] == "legend"
    }
    assert ("zipper", "image level", expected) in texts
    cell = specs(site_dir / "cells/patchcore--per_class--none--clean--zipper.html")
    cell_texts = [r["text"] for r in cell["chart-cell-roc"]["datasets"]["rows"] if "text" in r]
    assert expected in cell_texts


def test_one_colour_blind_safe_colour_per_kind_in_charts_and_css(site_dir: Path) -> None:
    assert set(KIND_COLORS.values()) <= OKABE_ITO and set(OTHER_COLORS) <= OKABE_ITO
    assert len(set(KIND_COLORS.values())) == len(KIND_COLORS)
    seen = 0
    for page in ("index.html", "shift.html", "roc.html", "unified.html"):
        for spec in specs(site_dir / page).values():
            text = json.dumps(spec)
            for scale in re.findall(
                r'"scale": \{"domain": (\[[^\]]*\]), "range": (\[[^\]]*\])', text
            ):
                domain, colors = json.loads(scale[0]), json.loads(scale[1])
                if domain and all(value in KIND_COLORS for value in domain):
                    assert colors == [KIND_COLORS[value] for value in domain]
                    seen += 1
    assert seen >= 4
    css = (site_dir / "assets" / "palette.css").read_text()
    assert css == stylesheet()
    for kind, color in KIND_COLORS.items():
        assert color in css and f'[data-kind="{kind}"]' in css
    assert 'data-kind="shift/retrain"' in (site_dir / "index.html").read_text()


def test_strips_of_a_category_share_one_scale_and_show_it(
    site_dir: Path, results_dir: Path
) -> None:
    results = load_results(results_dir)
    recoloured = recolour(results)
    zipper = [
        c
        for c in results.cells
        if scale_key(c) == ("patchcore", "per_class", "zipper", None) and c.artifacts
    ]
    assert {c.key.group.kind for c in zipper} == set(KIND_COLORS)
    scale = recoloured.scale_of(zipper[0])
    assert scale is not None and scale.cells == 4 and scale.low < scale.high
    assert all(recoloured.scale_of(c) == scale for c in zipper)
    # the shared scale spans the 1st to 99.9th percentile of every strip's map of the category
    maps = [
        heatmap.decode_map(results_dir / heatmap.map_relpath(a.path))
        for c in zipper
        for a in c.artifacts
    ]
    values = np.concatenate([m.ravel() for m in maps if m is not None])
    assert (scale.low, scale.high) == pytest.approx(tuple(np.quantile(values, [0.01, 0.999])))
    # every shown strip: the runner's panels, with the overlay redrawn on the shared scale
    for cell in zipper:
        for artifact in cell.artifacts:
            original = np.array(Image.open(results_dir / artifact.path).convert("RGB"))
            shown = np.array(Image.open(site_dir / artifact.path).convert("RGB"))
            amap = heatmap.decode_map(results_dir / heatmap.map_relpath(artifact.path))
            assert amap is not None
            width = amap.shape[1]
            image = original[:, :width]
            expected = heatmap.overlay(image, amap, (scale.low, scale.high))
            panel = slice(width + heatmap.GAP_PX, 2 * width + heatmap.GAP_PX)
            assert np.array_equal(shown[:, panel], expected)
            assert np.array_equal(shown[:, :width], original[:, :width])
            rest = 2 * width + heatmap.GAP_PX
            assert np.array_equal(shown[:, rest:], original[:, rest:])
    gallery = (site_dir / "gallery" / "patchcore--per_class.html").read_text()
    assert gallery.count('class="colorbar-ramp"') == len(
        [
            c
            for c in results.cells
            if c.key.group.label == "patchcore"
            and c.key.group.scope == "per_class"
            and c.key.group.sweep is None
            and c.artifacts
        ]
    )
    assert f"{scale.low:.3f}" in gallery and f"{scale.high:.3f}" in gallery
    assert "ground truth" in gallery  # the synthetic data has masks


def test_no_misses_is_said(results_dir: Path, tmp_path: Path) -> None:
    root = copy_results(results_dir, tmp_path / "results")
    path = root / "cells/patchcore/per_class/none/clean/zipper.json"
    record = read_json(path)
    record["artifacts"] = [a for a in record["artifacts"] if a["kind"] != "miss"]
    write_json(path, record)
    build_site(root, tmp_path / "site")
    page = (tmp_path / "site/cells/patchcore--per_class--none--clean--zipper.html").read_text()
    assert "no misses: every defective test image scored at or above the image threshold" in page


@pytest.fixture(scope="module")
def maskless(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A study on an MVTec-layout tree without ground_truth folders, and its site."""
    base = tmp_path_factory.mktemp("maskless")
    tree = generate(
        base / "data",
        SyntheticConfig(
            categories=("hazelnut", "zipper"), size=64, n_train=6, n_test_good=5, n_test_defect=6
        ),
    )
    for folder in sorted(tree.glob("*/ground_truth")):
        shutil.rmtree(folder)
    config = StudyConfig.model_validate(
        {
            "name": "maskless",
            "data": {"source": "mvtec", "root": str(tree), "categories": ["hazelnut", "zipper"]},
            "kinds": ["clean/none"],
            "scopes": ["per_class", "unified"],
            "detectors": [
                {
                    "name": "patchcore",
                    "backbone": {"resize": 64, "crop": 64},
                    "params": {"coreset_ratio": 0.5},
                }
            ],
            "evaluation": {"bootstrap": 0, "artifacts_per_cell": 1},
        }
    )
    run_study(config, base / "out", cache_dir=base / "cache", progress=False)
    build_site(base / "out", base / "site")
    return base / "out", base / "site"


def test_without_masks_strips_have_no_truth_panel_and_no_made_up_threshold(
    maskless: tuple[Path, Path],
) -> None:
    out, site = maskless
    record = read_json(out / "cells/patchcore/per_class/none/clean/zipper.json")
    assert record["threshold"]["pixel"] is None
    assert record["artifacts"]
    for artifact in record["artifacts"]:
        strip = np.array(Image.open(out / artifact["path"]))
        amap = heatmap.decode_map(out / heatmap.map_relpath(artifact["path"]))
        assert amap is not None
        # image | overlay only: no black ground-truth panel, no thresholded panel
        assert strip.shape[1] == 2 * amap.shape[1] + heatmap.GAP_PX
    page = (site / "cells/patchcore--per_class--none--clean--zipper.html").read_text()
    assert "Each strip: image · anomaly-map overlay." in page
    assert "no ground-truth masks, so no pixel threshold" in page
    assert "ground truth ·" not in page and "pixel threshold</p>" not in page
    thresholds = page[
        page.index("<h2>Thresholds</h2>") : page.index(
            "</table>", page.index("<h2>Thresholds</h2>")
        )
    ]
    assert ">image<" in thresholds and ">pixel<" not in thresholds


def test_without_masks_the_explorer_has_no_truth_thumbnail(maskless: tuple[Path, Path]) -> None:
    out, site = maskless
    record = read_json(out / "cells/patchcore/per_class/none/clean/zipper.json")
    thumbs = record["thumbnails"]
    assert thumbs["masks"] is None and thumbs["scale"][0] < thumbs["scale"][1]
    with Image.open(out / thumbs["maps"]) as maps:
        assert maps.size == (48, 48 * len(record["scores"]))
    page = (site / "explorer/patchcore--per_class--none--clean--zipper.html").read_text()
    assert "(no ground truth: the data has no masks)" in page
    assert 'class="thumb tk"' not in page and page.count('class="thumb tm"') == 2 * len(
        record["scores"]
    )


def test_without_masks_normal_provenance_is_computed_from_labels(
    maskless: tuple[Path, Path],
) -> None:
    out, site = maskless
    record = read_json(out / "cells/patchcore/unified/none/clean/hazelnut.json")
    provenance = record["shortcut"]["nn_provenance"]
    assert provenance is not None
    assert provenance["defect_patches"] == [0, 0]
    assert provenance["defect"] == [[None, None], [None, None]]
    normals = [s for s in record["scores"] if s["label"] == 0]
    assert provenance["normal_patches"][0] > 0 and len(normals) > 0
    for row in provenance["normal"]:
        assert sum(row) == pytest.approx(1.0)
    unified = site / "unified.html"
    charts = specs(unified)
    panels = {
        row["row"]
        for name, spec in charts.items()
        if name.startswith("chart-provenance")
        for row in spec["datasets"]["rows"]
    }
    assert panels == {"normal"}
    text = unified.read_text()
    assert "defect patches are unknown" in text
