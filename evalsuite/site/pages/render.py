"""The Jinja environment: templates from `templates/`, autoescape on for every template,
`StrictUndefined`, and the filters that turn numbers into text (never into HTML).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from evalsuite.errors import EvalsuiteError
from evalsuite.site.pages.links import CellLinks
from evalsuite.site.pages.study import Page
from evalsuite.site.views.stats import Delta, Summary


def _templates_folder() -> Path:
    """`templates/` beside the package (source tree, editable install), else the copy an
    installed evalsuite carries under `<prefix>/share/evalsuite/templates`."""
    source = Path(__file__).resolve().parents[3] / "templates"
    installed = Path(sys.prefix) / "share" / "evalsuite" / "templates"
    return source if (source / "base.html.j2").is_file() or not installed.is_dir() else installed


TEMPLATES = _templates_folder()
"""The Jinja templates and the site's own CSS and JS."""
DASH = "—"


@dataclass(frozen=True)
class SiteInfo:
    """What every page shows: the study, the banners, the navigation, the footer.

    Attributes:
        study: the study's name.
        synthetic: the data is synthetic (a banner on every page).
        finished: the results folder has a manifest (else a partial-results banner, also shown
            when a cell failed or is missing).
        nav: (page, title) of the navigation bar.
        counts: (ok, failed, missing) cells.
        evalsuite: the evalsuite version that built the site.
        vega: (library, version) of the vendored chart libraries.
        links: the cells behind each table row (every row links to its cell pages).
    """

    study: str
    synthetic: bool
    finished: bool
    nav: tuple[tuple[str, str], ...]
    counts: tuple[int, int, int]
    evalsuite: str
    vega: tuple[tuple[str, str], ...]
    links: CellLinks


def pct(summary: Summary) -> str:
    """A summary's mean in percent with one decimal, or why it has none."""
    if summary.mean is None:
        return {"missing": "missing", "failed": "failed"}.get(summary.reason or "", "n/a")
    return f"{100 * summary.mean:.1f}"


def ci(summary: Summary) -> str:
    """A summary's 95% interval in percent, "[low, high]", or ""."""
    if summary.ci is None:
        return ""
    low, high = summary.ci
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def spread(summary: Summary) -> str:
    """What a summary's interval is, for a tooltip."""
    if summary.mean is None:
        return summary.reason or ""
    if summary.interval == "seeds":
        sd = 100 * (summary.sd or 0.0)
        return f"mean of {summary.n} seeds, sd {sd:.2f}; 95% t-interval over seeds"
    if summary.interval == "categories":
        return (
            f"mean over {summary.n} categories; 95% bootstrap interval resampling test images "
            "within each category"
        )
    if summary.interval == "bootstrap":
        return "one seed; 95% bootstrap interval over test images"
    return "one seed; no interval recorded"


def pp(delta: Delta) -> str:
    """A difference in percentage points with its sign (± sd over seeds), or a dash; a
    difference that rounds to zero has no sign."""
    if delta.mean is None:
        return DASH
    points = round(100 * delta.mean, 1)
    text = "0.0" if points == 0 else f"{points:+.1f}".replace("-", "−")
    return text if delta.sd is None else f"{text} ± {100 * delta.sd:.1f}"


def num(value: float | None, digits: int = 1) -> str:
    """A number with `digits` decimals, or a dash."""
    return DASH if value is None else f"{value:.{digits}f}"


def environment(templates: Path = TEMPLATES) -> Environment:
    """The site's Jinja environment.

    Raises:
        EvalsuiteError: the templates folder is not there (evalsuite must run from its source
            tree or an editable install, which holds `templates/`).
    """
    if not (templates / "base.html.j2").is_file():
        raise EvalsuiteError(
            f"site templates not found at {templates}; reinstall evalsuite (pip install .) so "
            "that share/evalsuite/templates is installed, or run it from its source tree"
        )
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=pct, ci=ci, spread=spread, pp=pp, num=num)
    return env


def render(env: Environment, page: Page, site: SiteInfo) -> str:
    """The HTML of one page."""
    template = env.get_template(page.template)
    return template.render(page=page, site=site, **page.data)
