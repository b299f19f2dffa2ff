"""The site's assets, written once into `<site>/assets/`: Vega, Vega-Lite and Vega-Embed
vendored as one script, the site's own chart loader and stylesheet, and a notice.

The Vega bundle is `vl_convert.javascript_bundle()` of vl-convert-python (pinned in
pyproject.toml, so the libraries' versions are pinned too); it defines `window.vegaEmbed` and
needs no network. Building it takes seconds, so it is made once per process.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path

import altair as alt
import vl_convert

from evalsuite.errors import EvalsuiteError
from evalsuite.site.charts.palette import stylesheet

SNIPPET = "window.vegaEmbed = vegaEmbed;"
"""What the bundle runs: expose Vega-Embed (which carries Vega and Vega-Lite) to charts.js."""
OWN = ("charts.js", "tables.js", "compare.js", "site.css")
"""The site's own assets, copied from `templates/assets/`."""
NOTICE = """Vendored chart libraries (no network access is needed to view this site)

vega.js bundles, for file:// use:
  Vega {vega}, Vega-Lite {vegalite}, Vega-Embed {embed}
  made with vl-convert-python's javascript_bundle().
Vega, Vega-Lite and Vega-Embed are BSD-3-Clause licensed, copyright the University of
Washington Interactive Data Lab; vl-convert is BSD-3-Clause licensed, copyright Jon Mease.

charts.js, tables.js, compare.js, site.css and palette.css are evalsuite's own.
"""


def vegalite_version() -> str:
    """The Vega-Lite version Altair writes specs for, as "major.minor"."""
    major, minor, *_ = alt.VEGALITE_VERSION.split(".")
    return f"{major}.{minor}"


def versions() -> tuple[tuple[str, str], ...]:
    """(library, version) of the vendored libraries."""
    return (
        ("Vega", vl_convert.get_vega_version()),
        ("Vega-Lite", vegalite_version()),
        ("Vega-Embed", vl_convert.get_vega_embed_version()),
    )


@cache
def vega_bundle() -> str:
    """The Vega + Vega-Lite + Vega-Embed bundle (defines window.vegaEmbed)."""
    wanted = vegalite_version()
    if wanted not in vl_convert.get_vegalite_versions():
        raise EvalsuiteError(
            f"vl-convert-python {metadata.version('vl-convert-python')} has no Vega-Lite "
            f"{wanted} (the version Altair writes); install the versions pinned in "
            "constraints.txt"
        )
    return str(vl_convert.javascript_bundle(SNIPPET, vl_version=wanted))


def asset_files(templates: Path) -> dict[str, bytes]:
    """Path in the site -> content of every asset.

    Raises:
        EvalsuiteError: one of the site's own assets is missing from `templates/assets/`.
    """
    found = {"assets/vega.js": vega_bundle().encode("utf-8")}
    for name in OWN:
        source = templates / "assets" / name
        if not source.is_file():
            raise EvalsuiteError(f"site asset {source} is missing; restore templates/assets/")
        found[f"assets/{name}"] = source.read_bytes()
    vega, vegalite, embed = (version for _, version in versions())
    notice = NOTICE.format(vega=vega, vegalite=vegalite, embed=embed)
    found["assets/VENDORED.txt"] = notice.encode("utf-8")
    found["assets/palette.css"] = stylesheet().encode("utf-8")
    return found
