"""Small-cell suppression (privacy.md §3): property-based tests that no suppressed cell can be
recovered from what is published — in the complete table and by combining two partners' slices."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from teilhabe.publish.suppression import TableSpec, determined_cells, published, suppress


@st.composite
def regional_tables(draw):
    """Kreise in two Landschaftsverbände, their LV totals and the NRW total, with a count, a rate
    (numerator/denominator) and a mean; small numbers are frequent on purpose."""
    sizes = [draw(st.integers(1, 6)), draw(st.integers(1, 6))]
    small = st.one_of(st.integers(0, 4), st.integers(0, 60))
    rows, groups, lv_rows = [], [], []
    for size in sizes:
        start = len(rows)
        for _ in range(size):
            den = draw(small)
            rows.append(
                {
                    "count": draw(small),
                    "den": den,
                    "num": draw(st.integers(0, max(den, 0))),
                    "cases": draw(small),
                }
            )
        total = {k: sum(r[k] for r in rows[start:]) for k in ("count", "den", "num", "cases")}
        rows.append(total)
        groups.append(tuple(range(start, len(rows))))
        lv_rows.append(len(rows) - 1)
    nrw = {k: rows[lv_rows[0]][k] + rows[lv_rows[1]][k] for k in ("count", "den", "num", "cases")}
    rows.append(nrw)
    groups.append((*lv_rows, len(rows) - 1))
    frame = pl.DataFrame(rows).with_columns(
        (pl.col("num") * 100 / pl.col("den")).alias("rate"), (pl.col("count") * 1.5).alias("mean")
    )
    spec = TableSpec(
        counts=("count", "num", "den", "cases"),
        rates={"rate": ("num", "den")},
        means={"mean": "cases"},
        groups=tuple(groups),
    )
    return frame, spec


@settings(max_examples=300, deadline=None)
@given(regional_tables())
def test_primary_rules(table):
    frame, spec = table
    mask = suppress(frame, spec)
    for column in spec.counts:
        values = frame[column].to_numpy()
        assert not ((values >= 1) & (values <= 2) & ~mask[column].to_numpy()).any(), "a 1 or 2 is published"
    shown = ~mask["rate"].to_numpy()
    assert (frame["den"].to_numpy()[shown] >= 10).all(), "a rate over fewer than 10 is published"
    assert not (mask["rate"].to_numpy() & ~mask["num"].to_numpy()).any(), (
        "a suppressed rate's numerator is published"
    )
    assert (frame["cases"].to_numpy()[~mask["mean"].to_numpy()] >= 3).all(), "a mean over fewer than 3 cases"


def recoverable(mask: np.ndarray, groups) -> list[int]:
    """Independently of the implementation: a hidden cell is recoverable from the published cells
    and the group sums when every solution of the group equations agrees on it, i.e. when its
    coordinate vanishes in every vector of the equations' null space (computed by SVD)."""
    hidden = np.flatnonzero(mask)
    if not len(hidden):
        return []
    equations = []
    for *parts, total in groups:
        row = np.zeros(len(mask))
        row[list(parts)] += 1
        row[total] -= 1
        equations.append(row[hidden])
    matrix = np.array(equations) if equations else np.zeros((1, len(hidden)))
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    return [int(cell) for k, cell in enumerate(hidden) if np.all(np.abs(null_space[:, k]) < 1e-9)]


@settings(max_examples=300, deadline=None)
@given(regional_tables())
def test_no_suppressed_count_can_be_recomputed(table):
    frame, spec = table
    mask = suppress(frame, spec)
    for column in spec.counts:
        assert recoverable(mask[column].to_numpy(), spec.groups) == [], column
        assert determined_cells(mask[column].to_numpy(), spec.groups) == [], column


@settings(max_examples=200, deadline=None)
@given(regional_tables(), st.data())
def test_two_partners_together_learn_nothing_more(table, data):
    """Decided once on the whole table, then sliced: any two slices together are a subset of the
    published table, so no suppressed cell becomes computable from them."""
    frame, spec = table
    mask = suppress(frame, spec)
    rows = list(range(frame.height))
    first = set(data.draw(st.lists(st.sampled_from(rows), unique=True)))
    second = set(data.draw(st.lists(st.sampled_from(rows), unique=True)))
    seen = first | second
    for column in spec.counts:
        hidden = mask[column].to_numpy() | ~np.isin(np.arange(frame.height), list(seen))
        for cell in recoverable(hidden, spec.groups):
            assert not mask[column].to_numpy()[cell] or cell not in seen or False, (column, cell)
            assert not mask[column].to_numpy()[cell], (
                f"suppressed {column} in row {cell} recoverable from two slices"
            )


def test_published_shows_stars_and_keeps_zeros():
    # Row 0 stands alone; rows 1-3 are the parts of the total in row 4.
    frame = pl.DataFrame({"count": [0, 1, 5, 7, 13]})
    spec = TableSpec(counts=("count",), groups=((1, 2, 3, 4),))
    out = published(frame, suppress(frame, spec))["count"].to_list()
    assert out == ["0", "*", "*", "7", "13"], (
        "0 is published; the 1 is suppressed, and the next smallest part with it"
    )
