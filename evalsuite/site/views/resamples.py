"""How many bootstrap resamples every paired difference of a site gets: one count for the whole
study, so that the same two cells get the same interval and p-value on every page (the shift
table and "What the shift does").

With B resamples no bootstrap p-value is below 2 / (B + 1), so a Holm family of m tests can
reach a corrected p < 0.05 only with B >= 40 m (`significance.resamples_needed`). A cell's own
intervals use `evaluation.bootstrap` (200 in the demo), far too few for the site's families;
the paired differences therefore use `significance.family_resamples` of the largest family of
the difference tables (twice what it needs; at most `MAX_RESAMPLES`), or the records' count when
that is more. The
families are counted first on `PROBE_RESAMPLES` resamples (their size does not depend on the
count). The other pages' paired differences ("What the shift does", ...) are drawn with the same
count, so they give the tables' very intervals; their own Holm families are not counted (at
paper scale they would multiply every page's cost), and a page whose family these resamples
cannot bring to significance says so.
"""

from __future__ import annotations

from evalsuite.evaluation.significance import family_resamples
from evalsuite.site.read.records import Results
from evalsuite.site.views.differences import difference_tables
from evalsuite.site.views.tables import Grid

PROBE_RESAMPLES = 10
"""Resamples of the pass that only counts each family's tests."""
MAX_RESAMPLES = 20_000
"""At most this many (a family of up to 500 tests can still reach a corrected p < 0.05): the
cost of the site's differences grows with the count, and at the paper preset's size (families of
up to 480 tests) more would multiply its build time."""


def paired_resamples(results: Results, grid: Grid) -> int | None:
    """The resamples of every paired difference of the study's site; None when its records ask
    for none (`evaluation.bootstrap` 0: no intervals, no differences) or it has no cell."""
    asked = [int(c.record["config"]["evaluation"]["bootstrap"]) for c in results.cells if c.ok]
    if not asked or max(asked) < 1:
        return None
    sizes = [t.n_comparisons for t in difference_tables(results, grid, PROBE_RESAMPLES)]
    wanted = min(family_resamples(max(sizes, default=1)), MAX_RESAMPLES)
    return max(max(asked), wanted)
