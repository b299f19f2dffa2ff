"""What a paper takes from the site: the split file of the run, complete CSV downloads whose
paths resolve, the figures in SVG/PDF/PNG, and the attachable bundle with --anonymous."""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
import socket
import struct
import zipfile
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import jsonschema
import pikepdf
import pytest
from altair.vegalite.v6.schema.core import load_schema
from click.testing import CliRunner
from site_helpers import FAILED_CELL, copy_results, identifying_copy, read_json

from evalsuite import results
from evalsuite.cli import main
from evalsuite.site import build_site
from evalsuite.site.catalogue import PRINT_WIDTHS, Figure
from evalsuite.site.downloads import figure_exports
from evalsuite.site.downloads.data_csv import anchors_csv
from evalsuite.site.downloads.figure_exports import pdf_of, render, render_print
from evalsuite.site.downloads.print_layout import print_spec
from evalsuite.site.read.anchors import ANCHOR_METRICS, ANCHORS

pytestmark = pytest.mark.long  # among the slowest files: started first (tests/conftest.py)

PORTABLE = re.compile(r"[A-Za-z0-9._/-]+")


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


# --- the split file ------------------------------------------------------------------------


def test_the_run_writes_its_split_file_named_in_manifest_and_provenance(results_dir: Path) -> None:
    manifest = results.read_manifest(results_dir)
    assert manifest["splits"] == {"0": "splits/seed0.json"}
    split = read_json(results_dir / "splits" / "seed0.json")
    config = manifest["config"]["splits"]
    assert split["seed"] == 0 and split["schema"] == "evalsuite.splits/1"
    assert (split["val_normal_ratio"], split["val_anomaly_ratio"]) == (
        config["val_normal_ratio"],
        config["val_anomaly_ratio"],
    )
    assert split["dataset_fingerprint"] == manifest["dataset"]["fingerprint_clean"]
    assert sorted(split["categories"]) == ["hazelnut", "zipper"]
    for ids in split["categories"].values():
        train, val, test = (set(ids[name]) for name in ("train", "val", "test"))
        assert train and val and test and not (train & val or train & test or val & test)
        assert all("/train/" in i for i in train)  # train: normal images only
    for relpath, record in results.iter_cells(results_dir):
        assert record["provenance"]["splits"] == "splits/seed0.json", relpath
        if record["status"] == "ok":  # the cell was tested on exactly the file's test ids
            tested = {s["id"] for s in record["scores"]}
            assert tested == set(split["categories"][record["category"]]["test"]), relpath
    assert not list((results_dir / "splits").glob(".*"))  # no temp file left


def test_merge_keeps_the_split_file(results_dir: Path, tmp_path: Path) -> None:
    shard = copy_results(results_dir, tmp_path / "shard")
    results.merge([shard], tmp_path / "merged")
    manifest = results.read_manifest(tmp_path / "merged")
    assert manifest["splits"] == {"0": "splits/seed0.json"}
    assert manifest["shift_parameters"] == {"2": "splits/shift-s2.json"}
    for name in ("seed0.json", "shift-s2.json"):  # the split and the per-image shift parameters
        merged = (tmp_path / "merged" / "splits" / name).read_bytes()
        assert merged == (results_dir / "splits" / name).read_bytes()


# --- CSV downloads -------------------------------------------------------------------------


def test_every_path_column_names_a_shipped_file(site_dir: Path) -> None:
    """Every path of every CSV (`path`, `record`, differences.csv's `paths_a` and `paths_b`,
    several joined by spaces) is relative to the site root (issue 21: `paths_a` was not)."""
    checked = 0
    for table in sorted((site_dir / "downloads").glob("*.csv")):
        rows = read_csv(table)
        columns = [name for name in (rows[0] if rows else ()) if "path" in name or name == "record"]
        for column in columns:
            for row in rows:
                for path in row[column].split():
                    assert (site_dir / path).is_file(), (table.name, column, path)
                    checked += 1
    metrics = read_csv(site_dir / "downloads" / "metrics.csv")
    assert all(row["path"] for row in metrics if row["status"] != "missing")
    assert checked > 1000


def test_shipped_records_are_the_raw_records(site_dir: Path, results_dir: Path) -> None:
    shipped = site_dir / "downloads" / "records"
    for relpath, _ in results.iter_cells(results_dir):
        original = (results_dir / "cells" / relpath).read_bytes()
        assert (shipped / "cells" / relpath).read_bytes() == original, relpath
    assert json.loads((shipped / "manifest.json").read_text()) == results.read_manifest(results_dir)
    split = shipped / "splits" / "seed0.json"
    assert split.read_bytes() == (results_dir / "splits" / "seed0.json").read_bytes()


def test_matrices_curves_and_scores_match_the_records(site_dir: Path, results_dir: Path) -> None:
    downloads = site_dir / "downloads"
    record = results.read_cell(results_dir / "cells/patchcore/unified/retrain/shift/zipper.json")
    block = record["shortcut"]["threshold_transfer"]
    transfer = [
        r
        for r in read_csv(downloads / "threshold_transfer.csv")
        if (r["label"], r["condition"], r["regime"]) == ("patchcore", "shift", "retrain")
    ]
    assert len(transfer) == 2 * len(block["categories"]) ** 2
    for r in transfer:
        a, b = (
            block["categories"].index(r["test_category"]),
            block["categories"].index(r["threshold_category"]),
        )
        expected = block[r["rate"]][a][b]
        assert (r["value"] == "") if expected is None else float(r["value"]) == expected
    provenance = read_csv(downloads / "nn_provenance.csv")
    assert {r["label"] for r in provenance} == {"patchcore"}  # PaDiM has no memory bank
    for r in provenance:
        assert r["share"] == "" or 0.0 <= float(r["share"]) <= 1.0
    shares: dict[tuple[str, ...], float] = {}
    for r in provenance:
        if r["share"]:
            key = (r["condition"], r["regime"], r["patches"], r["test_category"])
            shares[key] = shares.get(key, 0.0) + float(r["share"])
    assert shares and all(total == pytest.approx(1.0) for total in shares.values())
    points = read_csv(downloads / "roc_points.csv")
    scores = read_csv(downloads / "scores.csv")
    expected_points = expected_scores = 0
    for _, cell in results.iter_cells(results_dir):
        if cell["status"] == "ok":
            expected_points += sum(len(cell["roc"][lv]["fpr"]) for lv in ("image", "pixel"))
            expected_scores += len(cell["scores"])
    assert (len(points), len(scores)) == (expected_points, expected_scores)
    assert all(0.0 <= float(r[k]) <= 1.0 for r in points for k in ("fpr", "tpr"))
    histogram = read_csv(downloads / "score_distributions.csv")
    per_class: dict[tuple[str, ...], float] = {}
    for r in histogram:
        key = (r["label"], r["condition"], r["regime"], r["category"], r["class"])
        per_class[key] = per_class.get(key, 0.0) + float(r["share"] or 0)
    assert per_class and all(total == pytest.approx(1.0) for total in per_class.values())


def test_anchor_numbers_are_fractions_of_the_published_percentages() -> None:
    rows = read_csv_text(anchors_csv())
    assert len(rows) == sum(len(a.values) * len(ANCHOR_METRICS) for a in ANCHORS)
    first = ANCHORS[0]
    category = sorted(first.values)[0]
    row = next(r for r in rows if r["source"] == first.source and r["category"] == category)
    published = first.values[category][row["metric"]]
    assert published is not None and float(row["value"]) == pytest.approx(published / 100)


def read_csv_text(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_downloads_page_lists_every_download_and_figure(site_dir: Path) -> None:
    page = (site_dir / "downloads.html").read_text(encoding="utf-8")
    for table in (site_dir / "downloads").glob("*.csv"):
        assert f'href="downloads/{table.name}"' in page, table.name
    folder = site_dir / "downloads" / "figures"
    figures = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert figures and all(f'href="downloads/figures/{f}"' in page for f in figures)
    assert "fractions in [0, 1]" in page


# --- figures -------------------------------------------------------------------------------


def page_specs(page: Path) -> list[dict[str, object]]:
    text = page.read_text(encoding="utf-8")
    found = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S)
    return [json.loads(spec) for spec in found]


def svg_text(path: Path) -> set[str]:
    root = ElementTree.fromstring(path.read_bytes())
    return {"".join(e.itertext()).strip() for e in root.iter() if e.tag.endswith("text")}


def test_every_study_chart_is_exported_in_three_formats(site_dir: Path) -> None:
    figures = site_dir / "downloads" / "figures"
    names = sorted({p.stem for p in figures.iterdir() if p.is_file()})
    assert {"index-overview", "shift-drop", "roc-patchcore-per_class", "unified-gap"} <= set(names)
    assert "hyperparameters-patchcore-params.coreset_ratio" in names
    assert "unified-patchcore-provenance" in names
    charts = sum(
        len(page_specs(site_dir / page))
        for page in (
            *("index.html", "shift.html", "roc.html", "unified.html", "hyperparameters.html"),
            "statistics.html",
        )
    )
    assert "statistics-rankings-image-auroc-per_class" in names  # the CD diagrams
    assert len(names) == charts  # every chart of the study pages, nothing else
    for name in names:
        assert PORTABLE.fullmatch(name)
        pdf = (figures / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
        table = pdf.index(b"\nxref\n0 ") + 1  # every offset names its object: a valid table
        count = int(pdf[table:].split(b"\n")[1].split()[1])
        start = pdf.index(b"\n", pdf.index(b"\n", table) + 1) + 1
        for number in range(1, count):
            offset = int(pdf[start + 20 * number : start + 20 * number + 10])
            assert pdf[offset:].startswith(b"%d 0 obj" % number), (name, number)
        assert b"startxref\n%d\n" % table in pdf[-64:]
        png = (figures / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        at = png.index(b"pHYs")
        x, y, unit = struct.unpack(">IIB", png[at + 4 : at + 13])
        assert (x, y, unit) == (11811, 11811, 1)  # 300 dpi in pixels per metre
        ElementTree.fromstring((figures / f"{name}.svg").read_bytes())  # well-formed


def test_exported_figures_keep_legends_and_axis_titles(site_dir: Path) -> None:
    figures = site_dir / "downloads" / "figures"
    roc = svg_text(figures / "roc-patchcore-per_class.svg")
    assert {"false positive rate", "true positive rate", "condition/regime"} <= roc
    assert {"clean/none", "shift/retrain"} <= roc  # the legend's entries
    overview = svg_text(figures / "index-overview.svg")
    assert {"condition/regime", "%", "hazelnut", "zipper"} <= overview


def test_figures_are_drawn_from_the_page_specs_and_are_deterministic(site_dir: Path) -> None:
    figures = site_dir / "downloads" / "figures"
    exported = {p.read_bytes() for p in figures.glob("roc-*.svg")}
    specs = page_specs(site_dir / "roc.html")
    assert len(specs) == len(exported) == 4  # 2 detectors x 2 scopes
    for spec in specs:
        figure = Figure("roc", "ROC", "", "roc.html", spec)
        first, second = render(figure), render(figure)
        assert first["svg"] in exported  # the page's own spec, drawn
        assert first == second  # the same bytes in every format


def printed_fonts(svg: bytes) -> tuple[float, float, list[float]]:
    """(width, height) a print SVG states, in pt, and every font size in it once printed at
    that width (pt): each size times the stated width over the drawing's viewBox width."""
    root = ElementTree.fromstring(svg)
    width, height = root.attrib["width"], root.attrib["height"]
    assert width.endswith("pt") and height.endswith("pt"), (width, height)
    drawn = float(root.attrib["viewBox"].split()[2])
    scale = float(width[:-2]) / drawn
    sizes = []
    for element in root.iter():
        style = dict(
            part.split(":", 1) for part in element.attrib.get("style", "").split(";") if ":" in part
        )
        for value in (element.attrib.get("font-size"), style.get("font-size")):
            if value is not None:
                sizes.append(float(value.strip().removesuffix("px")) * scale)
    return float(width[:-2]), float(height[:-2]), sizes


def test_every_figure_prints_at_column_and_text_width_with_fonts_of_7pt(site_dir: Path) -> None:
    figures = site_dir / "downloads" / "figures"
    names = sorted({p.stem for p in figures.iterdir() if p.is_file()})
    assert len(names) >= 14
    for size, inches in PRINT_WIDTHS.items():
        assert sorted(p.name for p in (figures / size).iterdir()) == sorted(
            f"{name}.{fmt}" for name in names for fmt in ("pdf", "svg")
        )
        for name in names:
            width, height, fonts = printed_fonts((figures / size / f"{name}.svg").read_bytes())
            assert width == pytest.approx(72 * inches), (size, name)
            assert len(fonts) > 10, (size, name)  # ticks, labels, titles, legends
            assert min(fonts) >= 7.0, (size, name, min(fonts))
            with pikepdf.open(figures / size / f"{name}.pdf") as document:
                (page,) = document.pages
                box = [float(v) for v in page.MediaBox]
            assert box[:2] == [0, 0], (size, name)
            assert box[2] == pytest.approx(72 * inches, abs=0.01), (size, name)
            assert box[3] == pytest.approx(height, abs=0.01), (size, name)


def test_print_layouts_are_valid_vega_lite(site_dir: Path) -> None:
    schema = load_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    pages = ("index.html", "shift.html", "roc.html", "unified.html", "hyperparameters.html")
    specs = [spec for page in pages for spec in page_specs(site_dir / page)]
    assert len(specs) >= 14
    for spec in specs:
        for inches in PRINT_WIDTHS.values():
            laid_out = print_spec(spec, 72 * inches)
            assert not list(validator.iter_errors(laid_out))
            assert laid_out["datasets"] == spec["datasets"]  # the same data, laid out anew


def test_print_figures_are_the_same_bytes_when_drawn_again(site_dir: Path) -> None:
    figures = site_dir / "downloads" / "figures"
    specs = page_specs(site_dir / "index.html") + page_specs(site_dir / "unified.html")[:1]
    figure_exports._render_print.cache_clear()
    for spec in specs:
        figure = Figure("x", "", "", "index.html", spec)
        first = render_print(figure, "column")
        figure_exports._render_print.cache_clear()
        assert render_print(figure, "column") == first
        exported = {p.read_bytes() for p in (figures / "column").glob("*.svg")}
        assert first["svg"] in exported


def test_downloads_page_titles_name_each_figure_and_its_detector(site_dir: Path) -> None:
    page = (site_dir / "downloads.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="figures">') :]
    section = section[: section.index("</section>")]
    rows = re.findall(r"<tr><td><strong>(.*?)</strong>.*?</td>.*?figures/([^/\"]+)\.svg", section)
    titles = [title for title, _ in rows]
    assert len(rows) >= 14 and len(set(titles)) == len(titles), titles
    for title, name in rows:
        for label in ("padim", "patchcore"):
            if f"-{label}-" in name:  # a detector's own chart
                assert label in title, (title, name)
    assert "\\includegraphics[width=\\columnwidth]{figures/column/NAME.pdf}" in section


PDF_FONTS = (
    "Liberation Sans",
    "Liberation Serif",
    "Liberation Mono",
    "DejaVu Sans",
    "DejaVu Serif",
)


def test_a_pdf_with_many_fonts_is_the_same_bytes_on_every_call() -> None:
    lines = [(font, weight) for font in PDF_FONTS for weight in ("normal", "bold")]
    texts = "".join(
        f'<text x="10" y="{20 + 20 * i}" font-family="{font}" font-weight="{weight}">'
        f"{font} {weight} 0.93</text>"
        for i, (font, weight) in enumerate(lines)
    )
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="240">{texts}</svg>'
    drawn = {pdf_of(svg) for _ in range(8)}  # vl-convert orders these 10 fonts anew each call
    assert len(drawn) == 1
    with pikepdf.open(io.BytesIO(drawn.pop())) as document:
        fonts = document.pages[0].Resources.Font.values()
        assert len({str(font.BaseFont) for font in fonts}) == len(lines)  # every font embedded
        assert str(document.docinfo.Producer) == "svg2pdf"


# --- the bundle and --anonymous ------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.targets += [v for k, v in attrs if k in ("href", "src") and v]


EVIDENCE = "supplement/downloads/records/artifacts/"


def unzip(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("source", ["results_dir", "real_results"])
def test_bundle_is_one_portable_zip_whose_links_all_resolve(
    source: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Of the tiny study, and of the tiny study with real conditions (whose site has the page
    "Synthetic vs real shift", its downloads and figures)."""
    results_dir: Path = request.getfixturevalue(source)
    bundle = tmp_path / "supplement.zip"
    arguments = ["site", "--results", str(results_dir), "--out", str(tmp_path / "site")]
    result = CliRunner().invoke(main, [*arguments, "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "bundle written to" in result.output
    members = unzip(bundle)
    assert "supplement/index.html" in members and "supplement/README.txt" in members
    assert all(PORTABLE.fullmatch(name) and name.startswith("supplement/") for name in members)
    site_files = {p for p in (tmp_path / "site").rglob("*") if p.is_file()}
    site_files = {p for p in site_files if not p.name.startswith(".")}  # not the build's ledger
    beside = [n for n in members if n.startswith(("supplement/reproduce/", EVIDENCE))]
    assert len(members) == len(site_files) + 1 + len(beside)  # the whole site, README, and...
    assert {n for n in beside if n.startswith(EVIDENCE)}  # ...the records' evidence.npz
    assert any("coreset_ratio-0.5" in name for name in members)  # `=` renamed...
    real = source == "real_results"
    assert ("supplement/real_shift.html" in members) == real
    assert any("shift.conditions-overexposed" in name for name in members) == real
    checked = thumbnails = 0
    for name, content in members.items():
        here = PurePosixPath(name).parent
        if name.endswith(".html"):
            links = Links()
            links.feed(content.decode("utf-8"))
            for target in links.targets:
                path = unquote(urlsplit(target).path)
                if path:  # ...and every link follows
                    resolved = PurePosixPath(*_normalise(here / path))
                    assert str(resolved) in members, (name, target)
                    checked += 1
            for target in re.findall(r'url\("([^"]+)"\)', content.decode("utf-8")):
                assert str(PurePosixPath(*_normalise(here / target))) in members, (name, target)
                thumbnails += 1
        if name.endswith(".csv"):
            for row in read_csv_text(content.decode("utf-8")):
                for column in ("path", "record"):
                    if row.get(column):
                        assert f"supplement/{row[column]}" in members, (name, row[column])
                        checked += 1
                if "/real_shift_" in name:  # the page's paths_clean, paths_shifted, ...
                    paths = [p for k, v in row.items() if k.startswith("paths_") for p in v.split()]
                    assert paths and all(f"supplement/{p}" in members for p in paths), name
    assert checked > 1000
    index = re.search(
        r'<script type="application/json" id="compare-index">(.*?)</script>',
        members["supplement/compare.html"].decode("utf-8"),
    )
    assert index is not None
    scripts = {cell[4] for cell in json.loads(index.group(1))["cells"]}
    assert len(scripts) == 2 and all(f"supplement/{s}" in members for s in scripts)
    pages = {cell[5] for cell in json.loads(index.group(1))["cells"]}
    assert pages and all(f"supplement/{p}" in members for p in pages)
    assert thumbnails > 90  # every explorer's thumbnails (sprites its style names) follow
    assert any(n.startswith("supplement/explorer/") for n in members)
    shipped = members["supplement/downloads/records/cells/" + FAILED_CELL]
    assert shipped == (results_dir / "cells" / FAILED_CELL).read_bytes()  # no `=` in it
    rebuilt = tmp_path / "again" / "supplement.zip"
    assert CliRunner().invoke(main, [*arguments, "--bundle", str(rebuilt)]).exit_code == 0
    assert rebuilt.read_bytes() == bundle.read_bytes()  # deterministic, byte for byte


def _normalise(path: PurePosixPath) -> list[str]:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return parts


def test_bundle_path_is_checked(results_dir: Path, tmp_path: Path) -> None:
    site = ["site", "--results", str(results_dir), "--out", str(tmp_path / "site")]
    for bundle, says in (
        (tmp_path / "supplement.tar", ".zip"),
        (results_dir / "supplement.zip", "--results"),
        (tmp_path / "site" / "supplement.zip", "--out"),
    ):
        result = CliRunner().invoke(main, [*site, "--bundle", str(bundle)])
        assert result.exit_code == 2 and says in result.output, result.output
        assert "Traceback" not in result.output and not bundle.exists()


FAKE_USER, FAKE_HOST = "qzuserkx", "qzhostkx"
FAKE_HOME = f"/home/{FAKE_USER}"


@pytest.fixture
def identifying_results(results_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results copy that names a (fake) machine: its home, user and host are this process's."""
    monkeypatch.setenv("HOME", FAKE_HOME)
    monkeypatch.setenv("LOGNAME", FAKE_USER)
    monkeypatch.setattr(socket, "gethostname", lambda: FAKE_HOST)
    return identifying_copy(
        results_dir, tmp_path / "out", FAKE_HOME, FAKE_USER, FAKE_HOST, "data/x.png"
    )


def test_anonymous_bundle_names_no_machine(identifying_results: Path, tmp_path: Path) -> None:
    root = identifying_results
    needles = [FAKE_HOME, FAKE_USER, FAKE_HOST, str(root.resolve())]
    plain = tmp_path / "plain.zip"
    build_site(root, tmp_path / "plain", bundle=plain)
    everything = b"".join(unzip(plain).values())
    assert all(n.encode() in everything for n in needles)  # the test can fail
    anonymous = tmp_path / "anonymous.zip"
    build_site(root, tmp_path / "site", anonymous=True, bundle=anonymous)
    members = unzip(anonymous)
    outputs = [*members.items()]
    outputs += [(str(p), p.read_bytes()) for p in (tmp_path / "site").rglob("*") if p.is_file()]
    outputs.append(("anonymous.zip", anonymous.read_bytes()))
    for name, content in outputs:
        for needle in needles:
            assert needle.encode() not in content, (name, needle)
    record = json.loads(members["anonymous/downloads/records/cells/" + FAILED_CELL])
    assert record["error"]["message"] == "cannot read <path>/x.png on <host> as <user>"
    assert record["provenance"]["weights"]["path"] == "<path>/lite0.safetensors"
    assert record["provenance"]["git_commit"] is None


def test_anonymous_build_names_not_this_machine(results_dir: Path, tmp_path: Path) -> None:
    """The real identity: the results path and the home folder in every text byte (in binary
    files too when long enough not to occur by chance); the user and host names in every string
    value of the JSON and CSV files, and in the pages wherever they would sit in a path or an
    address (`/root/`, `pytest-of-root`, `user@host`); a user named `root` shares its name with
    the manifest's `root` fields and Vega's SVG classes, which are no leak."""
    bundle = tmp_path / "anonymous.zip"
    build_site(results_dir, tmp_path / "site", anonymous=True, bundle=bundle)
    long = [str(results_dir.resolve()), str(Path.home())]
    words = [getpass.getuser(), socket.gethostname()]
    for name, content in unzip(bundle).items():
        if name.endswith(".tar"):  # the source archive: code says `shift/root/` (no home) and
            continue  # is checked member by member by the build's leak check (test_supplement)
        binary = name.endswith((".png", ".jpg", ".pdf", ".npz")) or "/assets/" in name
        for needle in long:
            if len(needle) >= 8 or not binary:
                assert needle.encode() not in content, (name, needle)
        if binary:
            continue
        text = content.decode("utf-8")
        if name.endswith(".json"):
            values = list(_strings(json.loads(text)))
        elif name.endswith(".csv"):
            values = [v for row in read_csv_text(text) for v in row.values()]
        else:
            values = []
        for word in words:
            whole = re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])")
            assert not any(whole.search(v) for v in values), (name, word)
            address = re.compile(rf"[/\\@]{re.escape(word)}\b|\b{re.escape(word)}[/\\@]|-of-{word}")
            assert not address.search(text), (name, word)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
