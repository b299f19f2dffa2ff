"""The page "What the shift does" (issue 23): an `AttributionView` as a page, and its place
in the navigation, beside the other topic pages (after "Shift & regimes").

The page and its entry exist only when the view is not empty: a study without shift variants
builds the same site, byte for byte, as before the page existed.
"""

from __future__ import annotations

from evalsuite.site.pages.study import Page
from evalsuite.site.read.records import METRIC_NAMES
from evalsuite.site.views.attribution_blocks import drop_blocks, mean_rows, rates_blocks
from evalsuite.site.views.attribution_curves import dependence_blocks, share_blocks
from evalsuite.site.views.attribution_findings import NOTHING, findings, sentences
from evalsuite.site.views.attribution_rows import AttributionView

PATH = "attribution.html"
TITLE = "What the shift does"
AFTER = "shift.html"
"""The navigation entry the page's entry follows."""


def attribution_page(view: AttributionView) -> Page:
    """The page of a non-empty view: its blocks (`views.attribution_blocks`,
    `views.attribution_curves`) by the names the template uses."""
    columns, means = mean_rows(view.means)
    data = {
        "findings": sentences(findings(view.drops)),
        "nothing": NOTHING,
        "drops": drop_blocks(view.drops),
        "mean_columns": columns,
        "mean_rows": means,
        "shares": share_blocks(view.shares),
        "dependence": dependence_blocks(view.dependence),
        "rates": rates_blocks(view.rates),
        "metric_titles": METRIC_NAMES,
    }
    return Page(PATH, "attribution.html.j2", TITLE, PATH, data, charts=True)


def with_attribution(nav: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The navigation with the page's entry after "Shift & regimes" (at the end without it)."""
    hrefs = [href for href, _ in nav]
    at = hrefs.index(AFTER) + 1 if AFTER in hrefs else len(nav)
    return (*nav[:at], (PATH, TITLE), *nav[at:])
