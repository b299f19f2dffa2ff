"""The image explorer's pages: the index (`explorer.html`: per category, its cells) and one page
per finished cell (`evalsuite.site.views.explorer`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalsuite.site.pages.study import Page
from evalsuite.site.views.explorer import Explorer

PATH = "explorer.html"
NAV_ENTRY = (PATH, "Images")


@dataclass(frozen=True)
class CategoryEntry:
    """A category (and seed) on the index: its first baseline cell's explorer, then the others.

    Attributes:
        title: the category (with its seed in a study of several).
        explorers: its cells' explorers, baseline cells first, in the site's order.
    """

    title: str
    explorers: tuple[Explorer, ...]


def with_explorer(nav: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The navigation with the explorer after the heatmap galleries."""
    at = next((i + 1 for i, (path, _) in enumerate(nav) if path == "galleries.html"), len(nav))
    return (*nav[:at], NAV_ENTRY, *nav[at:])


def explorer_pages(found: Sequence[Explorer], multi_seed: bool) -> list[Page]:
    """The index and one page per cell."""
    by_category: dict[tuple[str, int], list[Explorer]] = {}
    for item in found:
        key = (item.cell.key.group.category, item.cell.key.seed)
        by_category.setdefault(key, []).append(item)
    entries = [
        CategoryEntry(
            f"{category} · seed {seed}" if multi_seed else category,
            tuple(sorted(items, key=lambda e: e.cell.key.group.sweep is not None)),
        )
        for (category, seed), items in sorted(by_category.items())
    ]
    pages = [Page(PATH, "explorer_index.html.j2", "Image explorer", PATH, {"entries": entries})]
    for item in found:
        g = item.cell.key.group
        title = f"Images: {g.label} · {g.scope} · {g.kind} · {g.category}"
        if g.sweep:
            title += f" · {g.sweep[0]}={g.sweep[1]}"
        if multi_seed:
            title += f" · seed {item.cell.key.seed}"
        pages.append(Page(item.path, "explorer.html.j2", title, PATH, {"ex": item}))
    return pages
