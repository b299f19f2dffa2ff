"""The site's colours, defined once: every chart's scales and the stylesheet's variables.

Colours come from the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2002), whose
eight colours stay distinguishable under the common colour-vision deficiencies. A condition and
a regime keep one colour on every page: clean is blue, shift (under regime none) vermillion, the
threshold regime orange and the retrain regime bluish green; the kinds `<condition>/<regime>`
take the colour of what distinguishes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalsuite.results.heatmap import COLORMAP_ANCHORS

BLUE = "#0072B2"
VERMILLION = "#D55E00"
ORANGE = "#E69F00"
GREEN = "#009E73"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
BLACK = "#000000"

CONDITION_COLORS: dict[str, str] = {"clean": BLUE, "shift": VERMILLION}
"""One colour per condition."""
REGIME_COLORS: dict[str, str] = {"none": VERMILLION, "threshold": ORANGE, "retrain": GREEN}
"""One colour per regime on shifted data (none is the shift's own colour)."""
KIND_COLORS: dict[str, str] = {
    "clean/none": CONDITION_COLORS["clean"],
    "shift/none": REGIME_COLORS["none"],
    "shift/threshold": REGIME_COLORS["threshold"],
    "shift/retrain": REGIME_COLORS["retrain"],
}
"""One colour per condition/regime pair (the cells' kinds)."""
LABEL_COLORS: dict[str, str] = {"normal": SKY, "defective": PURPLE}
"""Normal and defective test images (score distributions)."""
OTHER_COLORS: tuple[str, ...] = (SKY, PURPLE, BLACK, BLUE, VERMILLION, ORANGE, GREEN, YELLOW)
"""Colours for anything else (categories, detectors), in order: the ones no kind uses first."""


def colors_for(domain: Sequence[str]) -> list[str]:
    """The colour of each value of `domain`: a kind, condition or regime gets its own colour
    when every value is one of them; other domains cycle `OTHER_COLORS`."""
    for named in (KIND_COLORS, CONDITION_COLORS, REGIME_COLORS):
        if domain and all(value in named for value in domain):
            return [named[value] for value in domain]
    return [OTHER_COLORS[i % len(OTHER_COLORS)] for i in range(len(domain))]


def css_name(value: str) -> str:
    """The CSS custom-property suffix of a kind, condition or regime ("shift/none" ->
    "shift-none")."""
    return value.replace("/", "-").replace("_", "-")


def stylesheet() -> str:
    """`assets/palette.css`: the colours as CSS variables and the kind markers that use them.

    Every `[data-kind="<kind>"]` element (table cells naming a kind) gets a swatch in its colour;
    `.colorbar-ramp` is the heatmaps' colormap, the same anchors the strips are coloured with.
    """
    lines = ["/* evalsuite: the site's colours (generated from evalsuite.site.palette). */"]
    variables = [
        *(f"  --kind-{css_name(k)}: {c};" for k, c in KIND_COLORS.items()),
        *(f"  --condition-{css_name(k)}: {c};" for k, c in CONDITION_COLORS.items()),
        *(f"  --regime-{css_name(k)}: {c};" for k, c in REGIME_COLORS.items()),
    ]
    lines += [":root {", *variables, "}"]
    for kind in KIND_COLORS:
        lines.append(
            f'[data-kind="{kind}"]::before {{ background: var(--kind-{css_name(kind)}); }}'
        )
    stops = ", ".join(
        f"rgb({round(255 * r)}, {round(255 * g)}, {round(255 * b)}) "
        f"{100 * i / (len(COLORMAP_ANCHORS) - 1):g}%"
        for i, (r, g, b) in enumerate(COLORMAP_ANCHORS)
    )
    lines.append(f".colorbar-ramp {{ background: linear-gradient(to right, {stops}); }}")
    return "\n".join(lines) + "\n"


DROP_RANGE: tuple[str, str, str] = (VERMILLION, "#F7F7F7", BLUE)
"""The drop heatmaps' diverging ramp: a fall (negative, worse under the shift) in vermillion,
no change near white, a gain in blue (the condition colours: shift hurts, clean is the
reference)."""
STATUS_COLORS: dict[str, str] = {"normal": SKY, "anomalous": PURPLE}
"""Normal and anomalous test images (the per-image dependence curves), as `LABEL_COLORS`."""
