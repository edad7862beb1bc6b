"""Small-cell suppression as the Statistik der Bundesagentur für Arbeit practises it (privacy.md §3),
decided once on a complete table (all regions with their Landschaftsverband and NRW totals) before
any partner's slice is cut from it.

- Primary: a count of 1 or 2 is suppressed (0 is published).
- Rates: suppressed when the denominator is below 10 (and not 0: then there is no rate and the
  numerator is 0 too) or the numerator or denominator is suppressed;
  a suppressed rate suppresses its numerator too (else the rate could be recomputed).
- Means: suppressed when computed over fewer than 3 cases or when their number of cases is
  suppressed. A mean shown with its case count publishes the group's sum (mean × cases), so sums
  are protected against the totals exactly like counts: a hidden mean is a hidden sum.
- Together: cells of one row that reveal each other (a figure, its rank; two figures, their
  difference and a status saying whether they are equal) are suppressed all or none.
- Secondary: where rows are parts of a total (the groups), a group never has exactly one suppressed
  count: the next smallest cell of the group is suppressed too (not a 0 while another is left: a
  reader often knows a 0 from elsewhere). As a safety net the table is then
  checked exactly: while any suppressed count can be computed from the published counts and the
  group equations (linear algebra), or is 0 or 1 because its group's published total leaves the
  hidden parts no room (each hidden count is at least 1 unless it is 0), the next smallest cell of
  one of its groups is suppressed.
  A cell without a value (no delivery: "x", left out of its total) hides nothing and never counts
  as one of a group's suppressed cells.
- Versions: cells suppressed in an earlier version stay suppressed, and a reader of that version
  knows their sum per group and every cell published then, which mostly still holds. So a group
  never has exactly one cell suppressed anew beside them, and every total above a cell suppressed
  anew is suppressed too: else, the other cells unchanged, the new cell follows from the change of
  the total.
Everything is repeated until nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

SUPPRESSED = "*"


@dataclass(frozen=True)
class TableSpec:
    counts: tuple[str, ...]  # additive count columns
    rates: dict[str, tuple[str, str]] = field(default_factory=dict)  # rate -> (numerator, denominator)
    means: dict[str, tuple[str, str]] = field(default_factory=dict)  # mean -> (its cases, its sum)
    groups: tuple[tuple[int, ...], ...] = ()  # row indexes: parts..., then the total row last
    together: tuple[tuple[str, ...], ...] = ()  # columns suppressed all or none, row by row

    def columns(self) -> set[str]:
        """Every column the decision covers."""
        named = {*self.counts, *self.rates, *self.means, *(c for cs in self.together for c in cs)}
        return named | {c for pair in self.rates.values() for c in pair} | {c for c, _ in self.means.values()}


def suppress(
    frame: pl.DataFrame,
    spec: TableSpec,
    forced: dict[str, np.ndarray] | None = None,
    earlier: dict[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """A boolean frame, True where the cell must not be published (same columns as decided).
    ``forced`` marks cells suppressed from outside (the same figure suppressed in another table or
    in an earlier version); ``earlier`` those of them suppressed in an earlier version, whose sum
    per group a reader of that version knows (privacy.md §3, versions)."""
    columns = spec.columns()
    numeric = {
        *spec.counts,
        *(c for pair in spec.means.values() for c in pair),
        *(c for pair in spec.rates.values() for c in pair),
    }
    values = {c: frame[c].fill_null(0).to_numpy().astype(float) for c in numeric}
    # A cell without a value is published as "x" and left out of its total: it hides nothing, so
    # it never stands in for a suppressed cell, nor is it a denominator below 10.
    missing = {c: frame[c].is_null().to_numpy() for c in numeric}
    mask = {c: np.zeros(frame.height, dtype=bool) for c in columns}
    for c, cells in (forced or {}).items():
        mask[c] |= cells
    changed = True
    while changed:
        before = {c: m.copy() for c, m in mask.items()}
        for c in spec.counts:
            mask[c] |= (values[c] >= 1) & (values[c] <= 2)
        for rate, (numerator, denominator) in spec.rates.items():
            # (over 0 there is no rate, and its numerator is 0 too: nothing to hide)
            small = (values[denominator] < 10) & (values[denominator] > 0) & ~missing[denominator]
            mask[rate] |= small | mask[numerator] | mask[denominator]
            mask[numerator] |= mask[rate]
        for mean, (cases, total) in spec.means.items():
            # (over 0 cases there is no mean: "x", not "*"; a partners' review read it as a secret)
            mask[mean] |= ((values[cases] > 0) & (values[cases] < 3)) | mask[cases]
            _secondary(values[total], mask[mean], spec.groups, missing[total])
            if earlier is not None and mean in earlier:  # a revision: as for counts, on the sums
                _secondary(values[total], mask[mean], spec.groups, missing[total] | earlier[mean])
                _totals_above(mask[mean], spec.groups, mask[mean] & ~earlier[mean] & ~missing[total])
            _until_not_determined(values[total], mask[mean], spec.groups, missing[total])
        for linked in spec.together:
            anywhere = np.logical_or.reduce([mask[c] for c in linked])
            for c in linked:
                mask[c] |= anywhere
        for c in spec.counts:
            _secondary(values[c], mask[c], spec.groups, missing[c])
            if earlier is not None and c in earlier:  # a revision of a published table
                _secondary(values[c], mask[c], spec.groups, missing[c] | earlier[c])
                _totals_above(mask[c], spec.groups, mask[c] & ~earlier[c] & ~missing[c])
            _until_not_determined(values[c], mask[c], spec.groups, missing[c])
        changed = any((mask[c] != before[c]).any() for c in columns)
    return pl.DataFrame({c: mask[c] for c in sorted(columns)})


def _next_smallest(values: np.ndarray, taken: np.ndarray, group: tuple[int, ...]) -> int | None:
    """The smallest published cell of a group (ties: the first) that is not 0; a 0 only where no
    other is left. A suppressed 0 protects little: a reader often knows it is 0 (a Kreis without a
    workshop has no Budget für Arbeit from one; "kein laufender Fall" beside it; another table)."""
    candidates = [i for i in group if not taken[i]]
    return min(candidates, key=lambda i: (values[i] == 0, values[i], i)) if candidates else None


def _secondary(
    values: np.ndarray, mask: np.ndarray, groups: tuple[tuple[int, ...], ...], missing: np.ndarray
) -> None:
    hidden = mask & ~missing
    changed = True
    while changed:
        changed = False
        for group in groups:
            if missing[group[-1]]:  # a total without a value: nothing to subtract from
                continue
            if hidden[list(group)].sum() == 1:
                pick = _next_smallest(values, mask | missing, group)
                if pick is not None:
                    mask[pick] = hidden[pick] = True
                    changed = True


def _totals_above(mask: np.ndarray, groups: tuple[tuple[int, ...], ...], anew: np.ndarray) -> None:
    """Every total above a cell suppressed anew in a revision is suppressed too. A reader of the
    earlier version knows the cells published then, and the unchanged ones still hold: any total
    would give the new cell (its old value plus the change of the total)."""
    above = anew.copy()
    changed = True
    while changed:
        changed = False
        for *parts, total in groups:
            if above[list(parts)].any() and not above[total]:
                above[total] = mask[total] = changed = True


def determined_cells(
    mask: np.ndarray,
    groups: tuple[tuple[int, ...], ...],
    values: np.ndarray | None = None,
    missing: np.ndarray | None = None,
) -> list[int]:
    """Suppressed cells whose value follows from the published cells and the group sums: x_i is
    determined when the unit vector e_i lies in the row space of the equations over the unknowns.
    With the ``values``, also the hidden parts of a group whose published total leaves them no
    room (_at_their_least). A cell without a value (``missing``) is known to be outside its total,
    not hidden."""
    missing = np.zeros(len(mask), dtype=bool) if missing is None else missing
    hidden = mask & ~missing
    groups = tuple(g for g in groups if not missing[g[-1]])  # a total without a value: no equation
    found = set(_by_equations(hidden, groups))
    if values is not None:
        found.update(_at_their_least(hidden, values, groups))
    return sorted(found)


def _by_equations(hidden: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> list[int]:
    unknown = np.flatnonzero(hidden)
    if not len(unknown) or not groups:
        return []
    position = {cell: k for k, cell in enumerate(unknown)}
    rows = []
    for group in groups:
        *parts, total = group
        row = np.zeros(len(unknown))
        for cell in parts:
            if cell in position:
                row[position[cell]] += 1
        if total in position:
            row[position[total]] -= 1
        if row.any():
            rows.append(row)
    if not rows:
        return []
    equations = np.array(rows)
    rank = np.linalg.matrix_rank(equations)
    found = []
    for k, cell in enumerate(unknown):
        unit = np.zeros(len(unknown))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([equations, unit])) == rank:
            found.append(int(cell))
    return found


def _at_their_least(hidden: np.ndarray, values: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> list[int]:
    """The hidden parts of a group whose published total leaves them no room. A reader knows that
    a hidden count is at least 1 unless it is 0 (a suppressed count is 1 or 2, and a complement is
    never a 0 while another cell is left): where the total minus the published parts equals the
    number of hidden parts that are not 0, each is exactly its least, 1 or 0. That is the case
    exactly when every hidden part is at most 1 (a total the published parts already make: all 0).
    One file gave eight hidden 1s so (K14, a Landschaftsverband's transitions by residence: 35 in
    all, 32 in published Kreise, three Kreise hidden)."""
    found = []
    for *parts, total in groups:
        unknown_parts = [i for i in parts if hidden[i]]
        if unknown_parts and not hidden[total] and all(values[i] <= 1 for i in unknown_parts):
            found += unknown_parts
    return found


def _until_not_determined(
    values: np.ndarray, mask: np.ndarray, groups: tuple[tuple[int, ...], ...], missing: np.ndarray
) -> None:
    while determined := determined_cells(mask, groups, values, missing):
        for cell in determined:
            picks = [
                pick
                for group in groups
                if cell in group and not missing[group[-1]]
                and (pick := _next_smallest(values, mask | missing, group)) is not None
            ]  # fmt: skip
            if picks:
                mask[picks[0]] = True
                break
        else:
            return


def published(frame: pl.DataFrame, mask: pl.DataFrame) -> pl.DataFrame:
    """The table as it may leave: suppressed cells become "*", everything else its text."""
    return frame.with_columns(
        pl.when(mask[c]).then(pl.lit(SUPPRESSED)).otherwise(pl.col(c).cast(pl.String)).alias(c)
        for c in mask.columns
    )
