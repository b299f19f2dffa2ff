"""The image explorer: the runner writes thumbnails of every test image (the image as the
detector saw it, the cell's map on its val scale, the mask), the site lists every test image of
every finished cell with the record's score and its outcome at the cell's threshold, every
image on a cell page or strip links to its row, and the "worst false negatives" view is one
click away (in Chromium). On the tiny study the fixtures run once."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from attribution_fixture import factor_study
from headless import Tab
from lxml import html
from PIL import Image
from playwright.sync_api import Browser
from site_helpers import read_json

from evalsuite.config import EvaluationSettings, StudyConfig
from evalsuite.results import iter_cells
from evalsuite.results.heatmap import decode_map, first_panel
from evalsuite.runner import run_study
from evalsuite.runner.writing.thumbnails import LEVELS, map_indices
from evalsuite.site.read.load import load_results
from evalsuite.site.read.records import cell_page
from evalsuite.site.views.explorer import explorers, row_anchor

URL = re.compile(r'url\("([^"]+)"\)')
VISIBLE = """() => Array.from(document.querySelectorAll("#x tbody tr"))
  .filter((row) => !row.hidden).map((row) => row.id)"""


def _ok(results_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(p.as_posix(), r) for p, r in iter_cells(results_dir) if r["status"] == "ok"]


def _sprite(results_dir: Path, path: str) -> Image.Image:
    image = Image.open(io.BytesIO((results_dir / path).read_bytes()))
    image.load()
    return image


def _explorer(site: Path, relpath: str) -> Path:
    return site / ("explorer/" + cell_page(relpath).removeprefix("cells/"))


def _rows(page: Path) -> list[list[str]]:
    table = html.parse(str(page)).getroot().get_element_by_id("x")
    return [
        [row.get("id")] + [" ".join(td.text_content().split()) for td in row.xpath("./td")]
        for row in table.xpath("./tbody/tr")
    ]


def test_every_test_image_has_thumbnails_of_the_right_size(results_dir: Path) -> None:
    checked = 0
    for relpath, record in _ok(results_dir):
        thumbs, n = record["thumbnails"], len(record["scores"])
        px = thumbs["px"]
        assert px == 48 and thumbs["scale"][0] < thumbs["scale"][1], relpath
        images = _sprite(results_dir, thumbs["images"])
        maps = _sprite(results_dir, thumbs["maps"])
        masks = _sprite(results_dir, thumbs["masks"])
        assert (images.format, images.mode, images.size) == ("JPEG", "RGB", (px, n * px))
        assert (maps.format, maps.mode, maps.size) == ("PNG", "P", (px, n * px))
        assert (masks.format, masks.mode, masks.size) == ("PNG", "1", (px, n * px))
        assert int(np.asarray(maps).max()) < LEVELS
        defective = [i for i, s in enumerate(record["scores"]) if s["label"]]
        tiles = np.asarray(masks).reshape(n, px, px)
        assert all(tiles[i].any() for i in defective), relpath  # every defect is drawn
        assert not tiles[[i for i in range(n) if i not in defective]].any(), relpath
        checked += 1
    assert checked > 30


def test_image_thumbnails_are_shared_by_the_cells_of_one_test_set(results_dir: Path) -> None:
    by_cell = {relpath: r["thumbnails"]["images"] for relpath, r in _ok(results_dir)}
    clean = {by_cell[f"{d}/per_class/none/clean/zipper.json"] for d in ("patchcore", "padim")}
    assert len(clean) == 1  # the same 64 px inputs: one sprite for both detectors
    shifted = by_cell["patchcore/per_class/none/shift/zipper.json"]
    assert shifted not in clean and by_cell["patchcore/per_class/none/shift/hazelnut.json"] != (
        shifted
    )
    files = list((results_dir / "artifacts" / "thumbnails").rglob("*.images.jpg"))
    assert len(files) == len(set(by_cell.values())) < len(by_cell)


def test_map_and_image_thumbnails_are_the_cells_own(results_dir: Path) -> None:
    """Each strip's raw map, shrunk and coloured on the record's scale, is the map thumbnail
    of the same image (float16 storage may move a value across one of the 32 steps), and the
    strip's image panel shrunk is the image thumbnail (JPEG: close, not equal)."""
    compared = 0
    for _relpath, record in _ok(results_dir):
        thumbs, px = record["thumbnails"], record["thumbnails"]["px"]
        maps = np.asarray(_sprite(results_dir, thumbs["maps"]))
        images = np.asarray(_sprite(results_dir, thumbs["images"])).astype(int)
        index = {s["id"]: i for i, s in enumerate(record["scores"])}
        for artifact in record["artifacts"]:
            i = index[artifact["id"]]
            raw = decode_map(results_dir / artifact["path"].replace(".png", ".map.png"))
            assert raw is not None
            expected = map_indices(raw, tuple(thumbs["scale"]), px).astype(int)
            tile = maps[i * px : (i + 1) * px].astype(int)
            assert np.abs(tile - expected).max() <= 1
            assert (tile == expected).mean() > 0.95
            strip = np.asarray(Image.open(results_dir / artifact["path"]).convert("RGB"))
            picture = first_panel(strip, strip.shape[0])
            small = np.asarray(Image.fromarray(picture).resize((px, px), Image.Resampling.BOX))
            assert np.abs(images[i * px : (i + 1) * px] - small.astype(int)).mean() < 6
            compared += 1
    assert compared > 30


def test_explorer_lists_every_test_image_with_its_score_and_outcome(
    site_dir: Path, results_dir: Path
) -> None:
    pages = 0
    for relpath, record in _ok(results_dir):
        page = _explorer(site_dir, relpath)
        rows = _rows(page)
        threshold = record["threshold"]["image"]["value"]
        assert [r[0] for r in rows] == [row_anchor(s["id"]) for s in record["scores"]]
        outcomes = set()
        for row, entry in zip(rows, record["scores"], strict=True):
            _, _, sample, label, defect, score, outcome = row[:7]
            assert (sample, defect) == (entry["id"], entry["defect"])
            assert label == ("anomalous" if entry["label"] else "normal")
            assert float(score.replace("−", "-")) == pytest.approx(entry["score"], rel=1e-4)
            predicted = entry["score"] >= threshold
            expected = {(1, True): "TP", (1, False): "FN", (0, True): "FP", (0, False): "TN"}
            assert outcome == expected[(entry["label"], predicted)], (relpath, sample)
            outcomes.add(outcome)
        text = page.read_text(encoding="utf-8")
        for url in URL.findall(text):  # the sprites the page's style names are shipped
            assert (page.parent / url).resolve().is_file(), (page, url)
        assert len(URL.findall(text)) == 3
        pages += 1
    assert pages > 30
    index = (site_dir / "explorer.html").read_text(encoding="utf-8")
    assert 'href="explorer/patchcore--per_class--none--shift--zipper.html"' in index


def test_cell_pages_and_strips_link_each_image_to_its_row(
    site_dir: Path, results_dir: Path
) -> None:
    linked = 0
    for relpath, record in _ok(results_dir):
        explorer = "../" + _explorer(site_dir, relpath).relative_to(site_dir).as_posix()
        page = html.parse(str(site_dir / cell_page(relpath))).getroot()
        hrefs = [a.get("href") for a in page.iter("a")]
        anchors = {a.get("id") for a in html.parse(str(_explorer(site_dir, relpath))).iter("tr")}
        for entry in record["scores"]:  # every test score links to its row
            assert f"{explorer}#{row_anchor(entry['id'])}" in hrefs, (relpath, entry["id"])
        for href in hrefs:
            if href and href.startswith(explorer + "#i-"):
                assert href.partition("#")[2] in anchors
                linked += 1
        strips = [f.xpath(".//figcaption/a/@href") for f in page.find_class("strip")]
        assert strips and all(len(s) == 1 and s[0].startswith(explorer + "#i-") for s in strips)
    assert linked > 200


@pytest.fixture(scope="module")
def tab(chromium: Browser) -> Iterator[Tab]:
    opened = Tab(chromium)
    yield opened
    opened.close()


def test_worst_false_negatives_are_one_click_away(
    tab: Tab, site_dir: Path, results_dir: Path
) -> None:
    relpath = "padim/per_class/none/shift/zipper.json"
    record = dict(_ok(results_dir))[relpath]
    anomalous = sorted((s["score"], s["id"]) for s in record["scores"] if s["label"])
    page = site_dir / cell_page(relpath)
    log = tab.open(page.as_uri())
    tab.page.get_by_role("link", name="worst false negatives").first.click()
    tab.page.wait_for_url(re.compile(r"explorer/.*#x\."))
    shown = tab.evaluate(VISIBLE)
    assert shown == [row_anchor(sample) for _, sample in anomalous]  # lowest score first
    assert "x.s=4a" in tab.page.url and "x.f2=anomalous" in tab.page.url
    assert not log.errors and not tab.log.errors
    tab.page.locator("#x thead button.sort", has_text="score").first.click()  # descending
    assert tab.evaluate(VISIBLE)[0] == row_anchor(anomalous[-1][1])


@pytest.fixture(scope="module")
def factor_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study with shift variants (the mixed shift and two factors, one category)."""
    base = tmp_path_factory.mktemp("explorer-factors")
    config = StudyConfig.model_validate(factor_study())
    run_study(config, base / "out", cache_dir=base / "cache", progress=False)
    return base / "out"


def test_shift_variants_are_columns_and_show_their_own_draws(factor_results: Path) -> None:
    loaded = load_results(factor_results)
    found = {e.cell.relpath: e for e in explorers(loaded)}
    exposure = found["patchcore/per_class/none/shift/zipper__shift.factors=exposure.json"]
    titles = [c.title for c in exposure.columns]
    assert "patchcore per_class shift/none exposure" in titles
    assert "patchcore per_class shift/none rotation" in titles
    assert "patchcore per_class clean/none" in titles
    severity = exposure.cell.record["config"]["shift"]["severity"]
    draws = {
        name: read_json(factor_results / "splits" / f"shift-s{severity}{suffix}.json")["images"]
        for name, suffix in (("mixed", ""), ("exposure", "-exposure"))
    }
    mixed = found["patchcore/per_class/none/shift/zipper.json"]
    for explorer, name in ((exposure, "exposure"), (mixed, "mixed")):
        for row in explorer.rows:  # the draw of the tree the cell read, per image
            stops = abs(float(draws[name][row.sample]["exposure_stops"]))
            assert row.params.startswith(f"exposure {stops:.2g},"), (name, row.sample)
    assert [r.params for r in exposure.rows] != [r.params for r in mixed.rows]


def test_the_default_size_leaves_configurations_and_cell_ids_as_they_were() -> None:
    """Cell ids are made from the dumped evaluation settings: the default size is left out
    (as before the setting existed); another size enters them, like `artifacts_per_cell`."""
    default = EvaluationSettings().model_dump(mode="json")
    assert "thumbnails" not in default and EvaluationSettings(thumbnails=48) == (
        EvaluationSettings()
    )
    assert EvaluationSettings(thumbnails=0).model_dump(mode="json")["thumbnails"] == 0
    with pytest.raises(ValueError, match="thumbnails"):
        EvaluationSettings(thumbnails=257)
