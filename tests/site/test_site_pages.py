"""The built site: every page and link, offline assets, escaping, determinism, edge cases."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from site_helpers import FAILED_CELL, MISSING_CELL, XSS, copy_results, read_json, write_json

from evalsuite import results
from evalsuite.errors import OutputError
from evalsuite.site import build_site
from evalsuite.site.read.records import cell_page

MAIN_PAGES = (
    "index.html",
    "shift.html",
    "roc.html",
    "galleries.html",
    "unified.html",
    "hyperparameters.html",
    "compare.html",
    "cells.html",
    "failures.html",
    "downloads.html",
)
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and its element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.tags.append((tag, found))
        if "id" in found:
            self.ids.add(found["id"])


def parse(path: Path) -> Tags:
    tags = Tags()
    tags.feed(path.read_text(encoding="utf-8"))
    return tags


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_page_exists_and_every_internal_link_resolves(
    site_dir: Path, results_dir: Path
) -> None:
    for name in MAIN_PAGES:
        assert (site_dir / name).is_file(), name
    for relpath, _ in results.iter_cells(results_dir):
        assert (site_dir / cell_page(relpath.as_posix())).is_file(), relpath
    for gallery in ("patchcore--per_class", "patchcore--unified", "padim--per_class"):
        assert (site_dir / "gallery" / f"{gallery}.html").is_file()
    checked = 0
    for page in html_files(site_dir):
        tags = parse(page)
        for tag, attrs in tags.tags:
            for name in ("href", "src"):
                target = attrs.get(name)
                if target is None:
                    continue
                assert not REMOTE.match(target), f"{page}: {tag} {name}={target}"
                url = urlsplit(target)
                if url.path:
                    assert (page.parent / unquote(url.path)).resolve().is_file(), (page, target)
                elif "=" in url.fragment:  # a table's view (tables.js): its tables exist
                    tables = {key.partition(".")[0] for key in parse_qs(url.fragment)}
                    assert tables and tables <= tags.ids, (page, target)
                else:
                    assert url.fragment in tags.ids, (page, target)
                checked += 1
    assert checked > 500


OWN_SCRIPTS = ("assets/vega.js", "assets/charts.js", "assets/tables.js", "assets/compare.js")


def test_no_remote_script_or_stylesheet_anywhere(site_dir: Path) -> None:
    for page in html_files(site_dir):
        text = page.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, page
        for tag, attrs in parse(page).tags:
            if tag == "script" and "src" in attrs:
                assert attrs["src"].endswith(OWN_SCRIPTS), page
            if tag == "link":
                assert attrs["href"].endswith(("assets/site.css", "assets/palette.css")), page
    for own in ("site.css", "palette.css", "charts.js", "tables.js", "compare.js"):
        text = (site_dir / "assets" / own).read_text(encoding="utf-8")
        assert "http" not in text and "@import" not in text and "url(" not in text


def test_vega_is_vendored_once(site_dir: Path) -> None:
    bundle = site_dir / "assets" / "vega.js"
    assert bundle.stat().st_size > 500_000 and "window.vegaEmbed" in bundle.read_text()
    assert [p.name for p in site_dir.rglob("vega*.js")] == ["vega.js"]
    index = (site_dir / "index.html").read_text()
    assert index.count('src="assets/vega.js"') == 1


def test_charts_are_json_in_script_tags(site_dir: Path) -> None:
    text = (site_dir / "shift.html").read_text(encoding="utf-8")
    specs = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', text, re.S)
    assert len(specs) == 2
    for chart_id, body in specs:
        spec = json.loads(body)
        assert f'data-spec="{chart_id}"' in text
        assert spec["datasets"]["rows"] and "$schema" not in spec


def test_script_category_is_escaped(edge_site: Path) -> None:
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for page in html_files(edge_site):
        text = page.read_text(encoding="utf-8")
        assert XSS not in text, page
        scripts = [a for t, a in parse(page).tags if t == "script"]
        assert all(a.get("type") == "application/json" or "src" in a for a in scripts), page
    assert escaped in (edge_site / "index.html").read_text()
    failures = (edge_site / "failures.html").read_text()
    assert f"out of memory while scoring {escaped} &amp; co" in failures
    detail = edge_site / cell_page("patchcore/per_class/none/clean/zipper.json")
    assert escaped in detail.read_text()
    latex = (edge_site / "downloads" / "headline.tex").read_text()
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}" in latex


def test_failed_and_missing_cells_are_shown(edge_site: Path) -> None:
    failures = (edge_site / "failures.html").read_text()
    assert FAILED_CELL in failures and "MemoryError" in failures
    assert MISSING_CELL in failures
    # the hostile category's 18 planned cells (16 baseline, 2 swept) are all missing
    assert failures.count("/&lt;script&gt;alert(1)&lt;/script&gt;.json") == 16
    assert failures.count("/&lt;script&gt;alert(1)&lt;/script&gt;__params") == 2
    cells = (edge_site / "cells.html").read_text()
    assert 'status-failed">failed' in cells and 'status-missing">missing' in cells
    failed_page = edge_site / cell_page(FAILED_CELL)
    assert "MemoryError" in failed_page.read_text()
    assert not (edge_site / cell_page(MISSING_CELL)).exists()
    index = (edge_site / "index.html").read_text()
    assert "1 failed" in index and "missing" in index


def test_same_results_give_the_same_bytes(results_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    build_site(results_dir, first)
    build_site(results_dir, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_gallery_strips_are_lazy_links_to_shipped_pngs(site_dir: Path, results_dir: Path) -> None:
    page = site_dir / "gallery" / "patchcore--per_class.html"
    images = [a for t, a in parse(page).tags if t == "img"]
    assert images and all(a["loading"] == "lazy" for a in images)
    for image in images:
        shipped = (page.parent / image["src"]).resolve()
        original = results_dir / shipped.relative_to(site_dir.resolve())
        # the same strip (its overlay recoloured on the category's scale: test_site_fixes)
        assert shipped.read_bytes()[:24] == original.read_bytes()[:24]  # PNG header and size
    links = {a["href"] for t, a in parse(page).tags if t == "a"}
    assert {image["src"] for image in images} <= links


def test_synthetic_banner_on_every_page_and_no_anchors(site_dir: Path) -> None:
    for page in html_files(site_dir):
        assert "Synthetic data." in page.read_text(encoding="utf-8"), page
    index = (site_dir / "index.html").read_text()
    assert "Published anchors" not in index and "PatchCore paper" not in index


def test_real_data_shows_published_anchors_and_no_banner(results_dir: Path, tmp_path: Path) -> None:
    root = copy_results(results_dir, tmp_path / "real")
    manifest = read_json(root / "manifest.json")
    manifest["dataset"]["synthetic"] = False
    write_json(root / "manifest.json", manifest)
    for path in sorted((root / "cells").rglob("*.json")):
        record = read_json(path)
        record["provenance"]["synthetic"] = False
        write_json(path, record)
    build_site(root, tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Synthetic data." not in index
    assert "Published anchors (MVTec AD)" in index
    assert "PatchCore paper, WRN50, coreset 10%" in index and "Roth et al., CVPR 2022 [6]" in index
    assert "PaDiM paper, R18-Rd100" in index and "93.9" in index  # hazelnut AUPRO, coreset 10%


def test_partial_results_without_manifest(results_dir: Path, tmp_path: Path) -> None:
    root = copy_results(results_dir, tmp_path / "partial")
    (root / "manifest.json").unlink()
    for path in sorted((root / "cells" / "padim").rglob("*.json")):
        path.unlink()
    build_site(root, tmp_path / "site")
    pages = html_files(tmp_path / "site")
    assert len(pages) > len(MAIN_PAGES)
    for page in pages:
        assert "Partial results." in page.read_text(encoding="utf-8"), page
    failures = (tmp_path / "site" / "failures.html").read_text()
    assert "missing cells cannot be listed" in failures
    cells = (tmp_path / "site" / "cells.html").read_text()
    assert "padim" not in cells and "patchcore/per_class/none/clean/hazelnut.json" in cells


def test_refuses_to_write_into_the_results_folder(results_dir: Path) -> None:
    with pytest.raises(OutputError, match="is also --results"):
        build_site(results_dir, results_dir)
    with pytest.raises(OutputError, match=r"--results .* lies inside --out"):
        build_site(results_dir, results_dir.parent)


def test_several_seeds_are_averaged_and_each_has_its_page(
    results_dir: Path, tmp_path: Path
) -> None:
    root = copy_results(results_dir, tmp_path / "seeds")
    manifest = read_json(root / "manifest.json")
    manifest["seeds"] = [0, 1]
    manifest["config"]["seeds"] = [0, 1]
    manifest["planned"] = [
        entry | {"seed": seed, "path": entry["path"].removesuffix(".json") + f"__seed{seed}.json"}
        for seed in (0, 1)
        for entry in manifest["planned"]
    ]
    write_json(root / "manifest.json", manifest)
    for path in sorted((root / "cells").rglob("*.json")):
        record = read_json(path)
        write_json(path.with_name(f"{path.stem}__seed0.json"), record)
        record["seed"] = 1
        if record["metrics"] is not None:
            record["metrics"]["image_auroc"]["value"] *= 0.5
        write_json(path.with_name(f"{path.stem}__seed1.json"), record)
        path.unlink()
    build_site(root, tmp_path / "site")
    site = tmp_path / "site"
    relpath = "padim/per_class/none/clean/hazelnut__seed1.json"
    assert (site / cell_page(relpath)).is_file()
    original = read_json(root / "cells" / relpath)["metrics"]["image_auroc"]["value"] * 2
    index = (site / "index.html").read_text()
    assert f"{100 * 0.75 * original:.1f}" in index  # the mean of the two seeds
    assert "mean of 2 seeds" in index and "seed 1</a>" in index
    assert "Missing cells (0)" in (site / "failures.html").read_text()
    from test_site_compare import all_pairs

    seeds = []  # the Compare page pairs the cells of one seed, each seed alike
    for key in all_pairs(site):
        a, b = key.split("|")
        assert re.search(r"__seed[01]$", a) and a[-1] == b[-1], key
        seeds.append(a[-1])
    assert seeds and seeds.count("0") == seeds.count("1")
