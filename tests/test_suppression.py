"""Small-cell suppression (privacy.md §3): property-based tests that no suppressed cell can be
recovered from what is published — in the complete table, by combining two partners' slices, from
means and counts, and by comparing two versions of a table."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from publish.suppression import TableSpec, determined_cells, published, suppress

COLUMNS = ("count", "den", "num", "cases", "money")


def _summed(parts: list[dict]) -> dict:
    """A total as SQL sums: over the parts with a value, none where no part has one."""
    present = [part for part in parts if part["count"] is not None]
    return {k: sum(part[k] for part in present) if present else None for k in COLUMNS}


@st.composite
def regional_tables(draw, missing_parts: bool = False):
    """Kreise in two Landschaftsverbände, their LV totals and the NRW total, with a count, a rate
    (numerator/denominator) and a mean of money over cases (its sum adds up like a count); small
    numbers are frequent on purpose. With ``missing_parts``, some Kreise have no value at all (no
    delivery: published as "x", left out of the totals)."""
    sizes = [draw(st.integers(1, 6)), draw(st.integers(1, 6))]
    small = st.one_of(st.integers(0, 4), st.integers(0, 60))
    rows, groups, lv_rows = [], [], []
    for size in sizes:
        start = len(rows)
        for _ in range(size):
            den = draw(small)
            if missing_parts and draw(st.integers(0, 3)) == 0:
                rows.append(dict.fromkeys(COLUMNS))
                continue
            rows.append(
                {
                    "count": draw(small),
                    "den": den,
                    "num": draw(st.integers(0, max(den, 0))),
                    "cases": draw(small),
                    "money": draw(st.integers(0, 40_000)),
                }
            )
        rows.append(_summed(rows[start:]))
        groups.append(tuple(range(start, len(rows))))
        lv_rows.append(len(rows) - 1)
    rows.append(_summed([rows[lv_rows[0]], rows[lv_rows[1]]]))
    groups.append((*lv_rows, len(rows) - 1))
    frame = pl.DataFrame(rows).with_columns(
        (pl.col("num") * 100 / pl.col("den")).alias("rate"),
        pl.when(pl.col("cases") > 0).then(pl.col("money") / pl.col("cases")).alias("mean"),
    )
    spec = TableSpec(
        counts=("count", "num", "den", "cases"),
        rates={"rate": ("num", "den")},
        means={"mean": ("cases", "money")},
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
    shown = ~mask["rate"].to_numpy() & (frame["den"].to_numpy() != 0)  # over 0 there is no rate ("x")
    assert (frame["den"].to_numpy()[shown] >= 10).all(), "a rate over fewer than 10 is published"
    assert not (mask["rate"].to_numpy() & ~mask["num"].to_numpy()).any(), (
        "a suppressed rate's numerator is published"
    )
    shown = ~mask["mean"].to_numpy() & (frame["cases"].to_numpy() != 0)  # over 0 cases there is no mean ("x")
    assert (frame["cases"].to_numpy()[shown] >= 3).all(), "a mean over fewer than 3 cases"


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


@settings(max_examples=300, deadline=None)
@given(regional_tables())
def test_no_sum_can_be_recovered_from_means_and_counts(table):
    """A mean shown beside its case count publishes the sum (mean × cases): hidden means are hidden
    sums, and none may follow from the other groups' sums and the total."""
    frame, spec = table
    mask = suppress(frame, spec)
    hidden_mean = mask["mean"].to_numpy()
    assert not (mask["cases"].to_numpy() & ~hidden_mean).any(), "a mean shown where its cases are not"
    assert recoverable(hidden_mean, spec.groups) == [], "a hidden group's sum follows from the others"


def _corrected(frame: pl.DataFrame, spec: TableSpec, data) -> pl.DataFrame:
    """A re-delivery: one unit moves between two parts of a group (the totals stay) and, sometimes,
    one part changes by a few units (its totals with it)."""
    values = {c: frame[c].to_list() for c in COLUMNS}
    group = data.draw(st.sampled_from(spec.groups[:-1]))  # Kreise of one LV and its total
    parts = list(group[:-1])
    column = data.draw(st.sampled_from(["count", "den", "cases"]))
    donors = [i for i in parts if values[column][i] > 0]
    if donors and len(parts) > 1:
        source = data.draw(st.sampled_from(donors))
        target = data.draw(st.sampled_from([i for i in parts if i != source]))
        values[column][source] -= 1
        values[column][target] += 1
    if data.draw(st.booleans()):
        cell, change = data.draw(st.sampled_from(parts)), data.draw(st.integers(0, 3))
        for row in (cell, group[-1], spec.groups[-1][-1]):  # the Kreis, its LV total, the NRW total
            values["count"][row] += change
    values["num"] = [min(n, d) for n, d in zip(values["num"], values["den"], strict=True)]
    return pl.DataFrame(values).with_columns(
        (pl.col("num") * 100 / pl.col("den")).alias("rate"),
        pl.when(pl.col("cases") > 0).then(pl.col("money") / pl.col("cases")).alias("mean"),
    )


def joint_recoverable(first: np.ndarray, second: np.ndarray, groups) -> list[int]:
    """Cells hidden in the first version that an attacker holding both versions can compute, even
    assuming that every cell hidden in both versions did not change (the differencing attack):
    unknowns are both versions' hidden cells, equations both versions' group sums and the links."""
    n = len(first)
    hidden = [(0, i) for i in np.flatnonzero(first)] + [(1, i) for i in np.flatnonzero(second)]
    position = {cell: k for k, cell in enumerate(hidden)}
    equations = []
    for version in (0, 1):
        for *parts, total in groups:
            row = np.zeros(len(hidden))
            for i in parts:
                if (version, i) in position:
                    row[position[(version, i)]] += 1
            if (version, total) in position:
                row[position[(version, total)]] -= 1
            equations.append(row)
    for i in range(n):
        if first[i] and second[i]:
            row = np.zeros(len(hidden))
            row[position[(0, i)]], row[position[(1, i)]] = 1, -1
            equations.append(row)
    if not hidden:
        return []
    matrix = np.array(equations)
    _, singular, vt = np.linalg.svd(matrix)
    null_space = vt[int((singular > 1e-9).sum()) :]
    return [
        i for (version, i), k in position.items() if version == 0 and np.all(np.abs(null_space[:, k]) < 1e-9)
    ]


@settings(max_examples=200, deadline=None)
@given(regional_tables(), st.data())
def test_an_attacker_with_every_version_recovers_nothing(table, data):
    """Version 1 published; a correction moves a person between parts; version 2 is decided with
    version 1's suppressed cells forced. Each version alone and both together reveal no cell that
    version 1 suppressed."""
    frame, spec = table
    first = suppress(frame, spec)
    second_frame = _corrected(frame, spec, data)
    forced = {c: first[c].to_numpy() for c in first.columns}
    second = suppress(second_frame, spec, forced, earlier=forced)
    for column in (*spec.counts, "mean"):
        before, after = first[column].to_numpy(), second[column].to_numpy()
        assert not (before & ~after).any(), f"{column}: a cell suppressed in version 1 is shown in version 2"
        assert recoverable(after, spec.groups) == [], column
        assert joint_recoverable(before, after, spec.groups) == [], column


def known_to_an_attacker(mask: np.ndarray, missing: np.ndarray, values: np.ndarray, groups) -> list[int]:
    """Independently of the implementation: the hidden cells (suppressed, with a value) an
    attacker computes from the published cells, knowing that a cell without a value ("x") is
    outside its total and that a hidden count is at least 1 unless it is 0 (primaries are 1 or 2,
    a complement is not a 0 while another cell is left): by the group equations (null space), and
    as their least values in a group whose published total minus its published parts is no more
    than the number of its hidden parts that are not 0."""
    hidden = mask & ~missing
    found = set(recoverable(hidden, groups))
    for *parts, total in groups:
        if hidden[total]:
            continue
        rest = values[total] - sum(values[i] for i in parts if not hidden[i] and not missing[i])
        if rest == sum(min(values[i], 1) for i in parts if hidden[i]):
            found.update(i for i in parts if hidden[i])
    return sorted(found)


@settings(max_examples=300, deadline=None)
@given(regional_tables(missing_parts=True))
def test_a_part_without_a_value_protects_nothing(table):
    """A Kreis or workshop without a delivery is published as "x" and its total sums the others:
    it hides nothing, so a suppressed cell beside it needs another suppressed cell in its group
    (as in a Landschaftsverband's K01 where one workshop's December file was overdue)."""
    frame, spec = table
    mask = suppress(frame, spec)
    for column in spec.counts:
        missing = frame[column].is_null().to_numpy()
        values = frame[column].fill_null(0).to_numpy()
        hidden = mask[column].to_numpy()
        assert known_to_an_attacker(hidden, missing, values, spec.groups) == [], column
        assert not ((values >= 1) & (values <= 2) & ~hidden).any(), f"{column}: a 1 or 2 is published"


def test_a_zero_total_does_not_reveal_its_hidden_parts():
    """Rates over fewer than 10 hide their numerators, also a numerator of 0; a published total of 0
    (or one its published parts already make) would show that every hidden part is 0."""
    frame = pl.DataFrame({"num": [0, 0, 0, 0], "den": [8, 9, 30, 47]}).with_columns(
        (pl.col("num") * 100 / pl.col("den")).alias("rate")
    )
    spec = TableSpec(counts=("num", "den"), rates={"rate": ("num", "den")}, groups=((0, 1, 2, 3),))
    hidden = suppress(frame, spec)["num"].to_list()
    assert hidden[:2] == [True, True], "the rates over 8 and 9 and their numerators"
    assert hidden[2] or hidden[3], "the total 0 or another part is hidden with them"


def test_a_zero_is_not_the_complement_while_another_cell_is_left():
    """A 0 hidden beside a suppressed 1 protects little: a reader often knows it is 0 (a Kreis
    without a workshop, "kein laufender Fall", another table), and then the 1 follows."""
    frame = pl.DataFrame({"count": [1, 0, 0, 7, 8]})
    spec = TableSpec(counts=("count",), groups=((0, 1, 2, 3, 4),))
    assert suppress(frame, spec)["count"].to_list() == [True, False, False, True, False]


def test_hidden_ones_are_not_left_at_their_least():
    """A reader knows a hidden count is at least 1 unless it is 0: K14's LVR transitions, 35 in
    all, 32 in published Kreise and three hidden Kreise gave three 1s (a privacy attack). Another
    cell of the group is hidden with them, so each hidden part keeps a range."""
    frame = pl.DataFrame({"count": [1, 1, 1, 3, 5, 7, 8, 0, 0, 9, 35]})
    spec = TableSpec(counts=("count",), groups=(tuple(range(11)),))
    hidden = suppress(frame, spec)["count"].to_numpy()
    assert hidden.tolist()[:4] == [True, True, True, True] and not hidden[10]
    values = frame["count"].to_numpy()
    assert known_to_an_attacker(hidden, np.zeros(11, dtype=bool), values, spec.groups) == []


def test_a_cell_suppressed_anew_beside_earlier_ones_is_not_alone():
    """Version 1 hides two workshops' transitions (1 and 3): their sum, 4, follows from its total.
    A correction makes a third workshop's 5 a 2: version 2 hides it beside the two. Were it alone,
    a reader of both versions would get it as 38 - 23 - 4 = 2 (found by an attack on the demo)."""
    spec = TableSpec(counts=("count",), groups=((0, 1, 2, 3, 4, 5, 6),))
    first = suppress(pl.DataFrame({"count": [11, 12, 9, 5, 1, 3, 41]}), spec)
    assert first["count"].to_list() == [False] * 4 + [True, True, False]
    earlier = {"count": first["count"].to_numpy()}
    second = suppress(pl.DataFrame({"count": [11, 12, 9, 2, 1, 3, 38]}), spec, earlier, earlier)
    hidden = second["count"].to_numpy()
    assert hidden[3] and hidden[4] and hidden[5]
    assert joint_recoverable(first["count"].to_numpy(), hidden, spec.groups) == []


def test_a_revision_hides_every_total_above_a_cell_suppressed_anew():
    """A reader of version 1 knows every cell published then, and most still hold in version 2. A
    workshop's 5 that a correction made a 2 would follow from any total above it (its old value plus
    the change of the total): its Landschaftsverband's and the NRW total are suppressed with it,
    and no other workshop's figure gives the totals back."""
    # Two Landschaftsverbände (rows 0-6 with total 7, rows 8-9 with total 10) and NRW (row 11).
    spec = TableSpec(counts=("count",), groups=((0, 1, 2, 3, 4, 5, 6, 7), (8, 9, 10), (7, 10, 11)))
    before = [11, 12, 9, 5, 1, 3, 0, 41, 20, 30, 50, 91]
    first = suppress(pl.DataFrame({"count": before}), spec)
    earlier = {"count": first["count"].to_numpy()}
    after = [11, 12, 9, 2, 1, 3, 0, 38, 20, 30, 50, 88]
    hidden = suppress(pl.DataFrame({"count": after}), spec, earlier, earlier)["count"].to_numpy()
    assert hidden[3] and hidden[7] and hidden[11], "the new 2, its Landschaftsverband's total, NRW"
    # The strongest reader: every cell published in version 1 and not changed still holds.
    known = {i: before[i] for i in range(len(before)) if not first["count"][i] and before[i] == after[i]}
    unknown = [i for i in range(len(after)) if hidden[i] and i not in known]
    for *parts, total in spec.groups:
        if not hidden[total]:
            assert sum(1 for i in parts if i in unknown) != 1, "a total gives the one cell it lacks"


def test_a_revision_hides_the_totals_mean_above_a_mean_hidden_anew():
    """The attack on K05 (2026-12-05): a Kreis's cases went from 5 to 4, so its mean is hidden in
    the revision (and another Kreis's beside it). Had the Landschaftsverband's mean stayed, its
    sum's change minus the published Kreise's changes would be the one case's subsidy; a reader of
    version 1 knows the complement's sum, unchanged. The total's mean is hidden with it, and NRW's."""
    # Kreise 0-3 of one Landschaftsverband (total 4), one Kreis of the other (5, total 6), NRW (7).
    spec = TableSpec(counts=("cases",), means={"mean": ("cases", "money")},
                     groups=((0, 1, 2, 3, 4), (5, 6), (4, 6, 7)))  # fmt: skip
    cases_before = [7, 5, 9, 13, 34, 20, 20, 54]
    money_before = [10487.12, 6500.0, 15000.0, 23000.0, 54987.12, 30000.0, 30000.0, 84987.12]
    cases_after = [11, 4, 9, 13, 37, 20, 20, 57]
    money_after = [16687.11, 5001.19, 15000.0, 23000.0, 59688.30, 30000.0, 30000.0, 89688.30]

    def decided(cases, money, forced=None, earlier=None):
        frame = pl.DataFrame(
            {"cases": cases, "money": money, "mean": [m / c for m, c in zip(money, cases, strict=True)]}
        )
        return suppress(frame, spec, forced, earlier)

    first = decided(cases_before, money_before)
    assert not first["mean"].any(), "version 1 hides no mean"
    earlier = {c: first[c].to_numpy() for c in first.columns}
    forced = {c: m.copy() for c, m in earlier.items()}
    forced["mean"][1] = True  # its cases changed by 1 (publish/extracts.py _forced_by_changed_cases)
    hidden = decided(cases_after, money_after, forced, earlier)["mean"].to_numpy()
    assert hidden[1] and hidden[4] and hidden[7], "the Kreis, its Landschaftsverband's mean, NRW's"
    assert hidden[[0, 2, 3]].sum() >= 1, "and a complement among the Kreise"


def test_k01_ranks_are_among_the_published_rates_only():
    """The attack's table (LVR 2024): with LVR-0203 (24 of 330) and LVR-0206 (2 of 20) suppressed,
    ranks among all workshops showed 5, 1, 2, 4 beside them: the missing 3 and 6, each between two
    published rates, and the total gave 2 and 24 back. Ranked among the published rates only, the
    suppressed ones leave no gap; last year's rank likewise among last year's published rates."""
    from publish.extracts import _published_ranks

    workshops = ["LVR-0201", "LVR-0202", "LVR-0203", "LVR-0204", "LVR-0205", "LVR-0206"]
    this_year = pl.DataFrame({
        "level": ["werkstatt"] * 6 + ["landschaftsverband"], "werkstatt_nr": [*workshops, None],
        "_period": ["2024"] * 7, "_landschaftsverband": ["LVR"] * 7,
        "numerator": [35, 60, 24, 40, 29, 2, 190], "denominator": [444, 523, 330, 379, 299, 20, 1995],
        "value": [7.88, 11.47, 7.27, 10.55, 9.70, 10.0, 9.52], "rank": [5, 1, 4, 2, 3, 3, None],
        "value_prev_year": [7.24, 11.70, 8.87, 10.76, None, None, None], "rank_prev_year": [4, 1, 3, 2, None, None, None],
    })  # fmt: skip
    last_year = this_year.with_columns(
        pl.lit("2023").alias("_period"),
        pl.Series("numerator", [32, 61, 29, 40, None, None, 162]),
        pl.Series("denominator", [442, 521, 327, 372, None, None, 1662]),
    )
    table = pl.concat([last_year, this_year])
    hidden = [False, False, True, False, False, True, False]
    shown_last_year = [False] * 7
    mask = pl.DataFrame({
        "value": shown_last_year + hidden,
        "value_prev_year": [*shown_last_year, False, False, True, False, False, False, False],
    })  # fmt: skip
    ranked = _published_ranks(table, mask).filter(pl.col("_period") == "2024")
    assert ranked["rank"].to_list() == [4, 1, None, 2, 3, None, None]
    assert ranked["rank_prev_year"].to_list() == [3, 1, None, 2, None, None, None], (
        "29/327 suppressed last year"
    )


def test_published_shows_stars_and_keeps_zeros():
    # Row 0 stands alone; rows 1-3 are the parts of the total in row 4.
    frame = pl.DataFrame({"count": [0, 1, 5, 7, 13]})
    spec = TableSpec(counts=("count",), groups=((1, 2, 3, 4),))
    out = published(frame, suppress(frame, spec))["count"].to_list()
    assert out == ["0", "*", "*", "7", "13"], (
        "0 is published; the 1 is suppressed, and the next smallest part with it"
    )
