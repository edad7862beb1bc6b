"""What leaves the house (privacy.md §3-4, kpis.md): every KPI as one complete table — all of NRW,
with Landschaftsverband and NRW totals where the figures add up — whose small cells are decided
once, for all partners together, and only then cut into a partner's scope and period.

A figure that appears in two tables (SB+GL in K06 and K14, K07 for December in K14, Budget für
Arbeit in K05 and K14, last year's K01 beside this year's, a workshop's transitions in K02, K03, K04
and K12, its persons in AB and on BiAp in K01, K02 and K12) is suppressed in both if in one; so are
a Kreis's figure and the workshop figures that make it (new Budgets für Arbeit: K05 and K12), and
K05's cases of unknown Kreis and K14's Landschaftsverband total, which leaves them out.

A cell once published as suppressed stays suppressed (privacy.md §3, versions): the suppressed cells
of every KPI table and period a partner received are remembered in ops.suppression_history (KPI,
the row's period, tier, region, column) and forced in every later decision, whose secondary
suppression then protects them again. The row's period is the KPI's year or month, so the months of
a year-to-date table are covered too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from publish.periods import shown_months
from publish.suppression import TableSpec, suppress


@dataclass(frozen=True)
class KpiExtract:
    """How one KPI table leaves: its grain, which columns are counts, rates and means, and whether
    its rows add up to Landschaftsverband and NRW totals (then the dbt model kpi.<table>_totals
    computes them, macro kpi_totals)."""

    kpi: str
    table: str  # the dbt model in schema kpi
    title: str
    grain: str  # werkstatt | kreis | jobcenter | landschaftsverband
    period: str  # year | month
    counts: tuple[str, ...] = ()
    rates: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # rate -> (num, den, per)
    means: dict[str, tuple[str, str]] = field(default_factory=dict)  # mean -> (cases, sum)
    together: tuple[tuple[str, ...], ...] = ()
    totals: bool = True
    hidden: tuple[str, ...] = ()  # internal columns that never leave
    row_key: str | None = None  # a column telling apart several rows of one region and period

    def spec(self, groups: tuple[tuple[int, ...], ...]) -> TableSpec:
        return TableSpec(
            counts=self.counts,
            rates={rate: (num, den) for rate, (num, den, _) in self.rates.items()},
            means=dict(self.means),
            groups=groups,
            together=self.together,
        )

    @property
    def decided(self) -> tuple[str, ...]:
        """The columns a suppression decision covers."""
        return tuple(sorted(self.spec(()).columns()))


_RATE = {"value": ("numerator", "denominator", 100)}
PEER_GROUP = "vergleichsgruppe"  # the level of a peer group's total (tables of Jobcenters)
TOTAL_LEVELS = ("landschaftsverband", "nrw", PEER_GROUP)
RANKS = ("rank", "rank_prev_year")  # K01's
# A total a Jobcenter compares itself with (its peer group, NRW) is shown to it only where it sums
# at least this many other Jobcenters with figures: else its own figures subtracted from the total
# would show another Jobcenter's (privacy.md §4).
MIN_OTHERS_IN_COMPARISON = 2
EXTRACTS = {
    e.kpi: e
    for e in (
        KpiExtract("k01", "k01_biap_quote", "BiAp-Quote", "werkstatt", "year", ("numerator", "denominator"), _RATE,
                   together=(("value", "rank"), ("value_prev_year", "rank_prev_year"))),
        KpiExtract("k02", "k02_uebergangsquote", "Übergangsquote", "werkstatt", "year", ("numerator", "denominator"), _RATE),
        KpiExtract("k03", "k03_uebergaenge_je_1000", "Übergänge je 1.000", "werkstatt", "year", ("numerator", "denominator"),
                   {"value": ("numerator", "denominator", 1000)}),
        KpiExtract("k04", "k04_rueckkehrquote", "Rückkehrquote", "werkstatt", "year", ("numerator", "denominator"), _RATE),
        KpiExtract("k05", "k05_budget_fuer_arbeit", "Budget für Arbeit", "kreis", "year", ("active_cases", "new_cases"),
                   means={"mean_monthly_subsidy_eur": ("active_cases", "subsidy_sum_eur")}, hidden=("subsidy_sum_eur",)),
        KpiExtract("k06", "k06_zielgruppenbestand", "Zielgruppenbestand", "jobcenter", "month",
                   ("sb", "gl", "rehabilitanden", "any_target")),
        KpiExtract("k07", "k07_integrationsquote_sb", "Integrationsquote SB/GL", "jobcenter", "month",
                   ("numerator", "denominator"), _RATE, hidden=("sb_gl_stock_months",)),
        KpiExtract("k08", "k08_werkakademie_integrationsquote", "Werkakademie-Integrationsquote", "jobcenter", "year",
                   ("numerator", "denominator"), _RATE),
        KpiExtract("k09", "k09_uebernahmequote_praktikum", "Übernahmequote Praktikum", "jobcenter", "year",
                   ("numerator", "denominator"), _RATE),
        KpiExtract("k10", "k10_uebergang_dann_arbeitslos", "Übergang, dann arbeitslos", "landschaftsverband", "year",
                   ("numerator", "denominator"), _RATE),
        KpiExtract("k11", "k11_jobcenter_in_werkstatt", "Vom Jobcenter in die Werkstatt", "kreis", "year",
                   ("entrants", "from_jobcenter")),
        # K12 compares the Landschaftsverband's figure with ours: suppressing one reveals it through
        # the other, the difference and the status, so the four go together. Measures do not add up.
        KpiExtract("k12", "k12_abgleich_leistungsdokumentation", "Abgleich Leistungsdokumentation", "werkstatt", "year",
                   ("reported", "computed"), together=(("reported", "computed", "difference", "status"),), totals=False,
                   row_key="measure"),
        # Distinct employers do not add up across Kreise (one employer, several Kreise): no totals.
        KpiExtract("k13", "k13_arbeitgeber_engagement", "Arbeitgeber-Engagement", "kreis", "year",
                   ("employers", "numerator", "denominator"), _RATE, together=(("employers", "denominator"),), totals=False),
        KpiExtract("k14", "k14_regionaluebersicht", "Regionalübersicht NRW inklusiv", "kreis", "year",
                   ("ab_persons", "biap_persons", "transitions", "budget_fuer_arbeit_active",
                    "sb_gl_customers_december", "sb_gl_integration_months"),
                   together=(("k07_december",),)),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Link:
    """The same figure in two tables: suppressed in one, suppressed in both. Each side maps its
    row's period to a common key (None: the row does not carry the figure)."""

    a: str
    a_columns: tuple[str, ...]
    b: str
    b_columns: tuple[str, ...]
    b_period: Callable[[str], str | None] = str
    a_period: Callable[[str], str | None] = str
    tiers: tuple[str, ...] = ("kreis", "landschaftsverband", "nrw")
    a_row: str | None = None  # only rows of this row key carry the figure (K12's measures)
    # A's workshop rows are parts of B's Kreis figure (K12's Budget für Arbeit per workshop, K05's
    # new cases by the Kreis of the workshop they came from): any of them suppressed suppresses the
    # Kreis, and the Kreis suppressed suppresses them all.
    a_by_kreis: bool = False
    # How A's rows are keyed, where neither of the above says it (None: by tier, region, period).
    a_keys: Callable[[pl.DataFrame], list] | None = None


def _december(month: str) -> str | None:
    return month[:4] if month.endswith("-12") else None


def _next_year(year: str) -> str:
    return str(int(year) + 1)


WORKSHOP_TIERS = ("werkstatt", "landschaftsverband", "nrw")
UNKNOWN_KREIS = "unbekannt"  # K05's Kreis of a case whose origin workshop is not known (marts)


def _unknown_kreis_as_its_total(table: pl.DataFrame) -> list:
    """K05's cases of unknown Kreis, keyed as their Landschaftsverband's total: K14's total leaves
    them out, so K05's total minus K14's is exactly them."""
    return [
        ("landschaftsverband", lv, period) if tier == "kreis" and region == UNKNOWN_KREIS else None
        for tier, region, lv, period in table.select(
            "_tier", "_region", "_landschaftsverband", "_period"
        ).iter_rows()
    ]


LINKS = (
    Link("k14", ("sb_gl_customers_december",), "k06", ("sb", "gl"), _december),
    Link("k14", ("sb_gl_integration_months",), "k07", ("numerator",), _december),
    Link("k14", ("k07_december",), "k07", ("value",), _december),
    # K14 counts Budget für Arbeit by Kreis without 'unbekannt': equal to K05 per Kreis only.
    Link("k14", ("budget_fuer_arbeit_active",), "k05", ("active_cases",), tiers=("kreis",)),
    Link("k01", ("value_prev_year",), "k01", ("value",), a_period=str, b_period=_next_year,
         tiers=("werkstatt", "landschaftsverband", "nrw")),
    # A workshop's transitions of a year are K02's and K03's numerator and K04's denominator; its
    # persons in AB on 31.12. are K01's denominator, and K02's of the year after. K12 shows the
    # workshop's own figures beside the Landschaftsverband's.
    Link("k02", ("numerator",), "k03", ("numerator",), tiers=WORKSHOP_TIERS),
    Link("k02", ("numerator",), "k04", ("denominator",), tiers=WORKSHOP_TIERS),
    Link("k02", ("denominator",), "k01", ("denominator",), b_period=_next_year, tiers=WORKSHOP_TIERS),
    Link("k12", ("computed",), "k01", ("numerator",), a_row="biap", tiers=("werkstatt",)),
    Link("k12", ("computed",), "k01", ("denominator",), a_row="ab", tiers=("werkstatt",)),
    Link("k12", ("computed",), "k02", ("numerator",), a_row="transitions", tiers=("werkstatt",)),
    Link("k12", ("computed",), "k05", ("new_cases",), a_row="bfa", tiers=("kreis",), a_by_kreis=True),
    # K10's denominator: a Landschaftsverband's transitions of the year, K02's total.
    Link("k10", ("denominator",), "k02", ("numerator",), tiers=("landschaftsverband", "nrw")),
    # K14 counts its persons by residence, K01 by workshop; summed over NRW (every residence lies in
    # NRW) they are the same persons, and over a Landschaftsverband whenever nobody lives in the
    # other's Kreise (an attack found them equal and subtracted one from the other).
    Link("k14", ("ab_persons",), "k01", ("denominator",), tiers=("landschaftsverband", "nrw")),
    Link("k14", ("biap_persons",), "k01", ("numerator",), tiers=("landschaftsverband", "nrw")),
    # K14's transitions of a Kreis are the K02 numerators of the workshops seated there (kpis.md
    # "Which Kreis"): a workshop's suppressed, its Kreis' too (a Kreis of one workshop shows it),
    # and the Kreis' suppressed, all of its workshops'; their totals are K02's.
    Link("k02", ("numerator",), "k14", ("transitions",), tiers=("kreis",), a_by_kreis=True),
    Link("k14", ("transitions",), "k02", ("numerator",), tiers=("landschaftsverband", "nrw")),
    Link("k05", ("active_cases",), "k14", ("budget_fuer_arbeit_active",), tiers=("landschaftsverband",),
         a_keys=_unknown_kreis_as_its_total),
)  # fmt: skip


# Rows in the order a reader follows them, where that is not the order of their columns: K12's
# measures AB, BiAp, transitions and "of them Budget für Arbeit" under the transitions (a partners'
# review read "davon Budget für Arbeit" right under AB as "of the persons in AB").
ROW_ORDER = {"k12": "werkstatt_nr, year, list_position(['ab', 'biap', 'transitions', 'bfa'], measure)"}


# The reasons that say a count is 0 (the warehouse's words): beside a suppressed count they would
# give it away, and are left out there.
ZERO_COUNT_REASONS = r"^no (persons in AB on|transitions in the year|active cases on|Werkakademie entries in|MAG spells ending in)"


def _load(con: duckdb.DuckDBPyConnection, extract: KpiExtract) -> pl.DataFrame:
    """The KPI table with a readable name per row and the internal columns _tier, _region,
    _kreisschluessel and _landschaftsverband that scope and link rows."""
    table = f"kpi.{extract.table}"
    if extract.grain == "werkstatt":
        sql = f"""select k.*, w.workshop_name as werkstatt_name, w.kreisschluessel as _kreisschluessel,
                         w.landschaftsverband as _landschaftsverband, k.werkstatt_nr as _region
                  from {table} k left join marts.dim_workshops w on w.werkstatt_nr = k.werkstatt_nr and w.is_current"""
    elif extract.grain == "kreis":
        lv = "k.landschaftsverband" if extract.kpi == "k05" else "r.landschaftsverband"
        # K05's cases without a known origin: "unbekannt" is their Kreis, not a Kreisschlüssel (a
        # partners' review read it in the column of five-digit keys); scoped and linked by it as before
        sql = f"""select k.* replace (nullif(k.kreisschluessel, '{UNKNOWN_KREIS}') as kreisschluessel),
                         case when k.kreisschluessel = '{UNKNOWN_KREIS}' then '{UNKNOWN_KREIS}' else r.kreis_name end
                             as kreis_name,
                         k.kreisschluessel as _kreisschluessel, {lv} as _landschaftsverband, k.kreisschluessel as _region
                  from {table} k left join marts.dim_regions r on r.kreisschluessel = k.kreisschluessel"""
    elif extract.grain == "jobcenter":
        sql = f"""select k.*, 'Jobcenter ' || r.kreis_name as jobcenter_name, k.jobcenter as _kreisschluessel,
                         r.landschaftsverband as _landschaftsverband, k.jobcenter as _region,
                         r.vergleichsgruppe as _vergleichsgruppe
                  from {table} k left join marts.dim_regions r on r.kreisschluessel = k.jobcenter"""
    else:
        sql = f"""select k.*, null::varchar as _kreisschluessel, k.landschaftsverband as _landschaftsverband,
                         k.landschaftsverband as _region from {table} k"""
    frame = con.execute(f"select * from ({sql}) order by {ROW_ORDER.get(extract.kpi, 'all')}").pl()
    tier = "landschaftsverband" if extract.grain == "landschaftsverband" else extract.grain
    if "landschaftsverband" not in frame.columns:  # every row says whose it is, totals too
        frame = frame.with_columns(pl.col("_landschaftsverband").alias("landschaftsverband"))
    frame = frame.with_columns(
        pl.lit(tier).alias("level"),
        pl.lit("kreis" if tier == "jobcenter" else tier).alias("_tier"),
        pl.col(extract.period).cast(pl.String).alias("_period"),
        (pl.col(extract.row_key).cast(pl.String) if extract.row_key else pl.lit("")).alias("_row"),
    )
    # Decimals become floats (suppression and validation compare numbers; the files write two
    # decimals), whole-number sums integers.
    return frame.with_columns(
        pl.col(c).cast(pl.Int64 if getattr(t, "scale", None) == 0 or t == pl.Int128 else pl.Float64)
        for c, t in frame.schema.items()
        if isinstance(t, pl.Decimal) or t == pl.Int128
    )


_NAME = {"werkstatt": "werkstatt_name", "kreis": "kreis_name", "jobcenter": "jobcenter_name"}


def _load_totals(con: duckdb.DuckDBPyConnection, extract: KpiExtract, frame: pl.DataFrame) -> pl.DataFrame:
    """The KPI's Landschaftsverband, NRW and peer-group totals, computed by dbt (model kpi.<table>_totals, macro
    kpi_totals), as rows of the loaded KPI table: its columns and types, the total's name in the
    grain's name column, the internal columns set, every column a total has no figure for null."""
    totals = con.execute(f"select * from kpi.{extract.table}_totals order by all").pl()
    figures = {
        extract.period, *extract.counts, *extract.rates, *extract.means, "is_provisional", "missing_reason",
        "note", *(total for _, total in extract.means.values()), "value_prev_year",  # K01's
        *extract.hidden,  # K07's summed stocks, from which its totals' mean is exact
    }  # fmt: skip
    lv = pl.when(pl.col("level") == "landschaftsverband").then(pl.col("region"))  # null on NRW
    named = {
        "_vergleichsgruppe": pl.when(pl.col("level") == PEER_GROUP).then(pl.col("region")),
        "level": pl.col("level"),
        "_tier": pl.col("level"),
        "_region": pl.col("region"),
        "_landschaftsverband": lv,
        "_period": pl.col(extract.period).cast(pl.String),
        # a table of Landschaftsverband rows names the total's region (NRW) in its landschaftsverband column
        "landschaftsverband": pl.col("region") if extract.grain == "landschaftsverband" else lv,
    }
    if extract.grain in _NAME:
        named[_NAME[extract.grain]] = pl.col("region_name")
    return totals.select(
        (named[c] if c in named else pl.col(c) if c in figures else pl.lit(None)).cast(dtype).alias(c)
        for c, dtype in frame.schema.items()
    )


def complete_table(con: duckdb.DuckDBPyConnection, extract: KpiExtract) -> tuple[pl.DataFrame, dict]:
    """All rows of a KPI with its Landschaftsverband and NRW totals (computed by dbt; a table of
    Jobcenters also its peer groups'), and per period the groups of parts and their total (row
    indexes) that secondary suppression protects."""
    frame = _load(con, extract)
    if not extract.totals or frame.is_empty():
        return frame, {}
    if (
        "note" not in frame.columns
    ):  # the totals' notes: a count summing only some rows (K10, K11, K14 have their own)
        frame = frame.with_columns(pl.lit(None, pl.String).alias("note"))
    table = pl.concat([frame, _load_totals(con, extract, frame)], how="vertical")
    order = pl.col("level").replace_strict({"landschaftsverband": 1, PEER_GROUP: 2, "nrw": 3}, default=0)
    table = table.sort(["_period", "_landschaftsverband", order], nulls_last=True, maintain_order=True)
    groups: dict[str, list[tuple[int, ...]]] = {}
    indexed = table.with_row_index("_i")
    for (period,), block in indexed.group_by("_period", maintain_order=True):
        base = block.filter(~pl.col("level").is_in(TOTAL_LEVELS))
        lv_rows = block.filter(pl.col("level") == "landschaftsverband")
        nrw = block.filter(pl.col("level") == "nrw")["_i"][0]
        found = []
        if extract.grain == "landschaftsverband":
            found.append((*block.filter(pl.col("level") == "landschaftsverband")["_i"], nrw))
        else:
            for lv, total in lv_rows.select("_landschaftsverband", "_i").iter_rows():
                found.append((*base.filter(pl.col("_landschaftsverband") == lv)["_i"], total))
            found.append((*lv_rows["_i"], nrw))
        if extract.grain == "jobcenter":
            peer_totals = block.filter(pl.col("level") == PEER_GROUP).select("_vergleichsgruppe", "_i")
            for group, total in peer_totals.iter_rows():
                found.append((*base.filter(pl.col("_vergleichsgruppe") == group)["_i"], total))
        groups[period] = found
    return table, groups


@dataclass
class Decision:
    """The complete tables and, per table, which cells may not leave."""

    tables: dict[str, pl.DataFrame]
    masks: dict[str, pl.DataFrame]
    _cuts: dict = field(default_factory=dict, repr=False, compare=False)

    def of_periods(self, kpi: str, periods: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The table's and its mask's rows of these periods, cut once for all partners that show
        them (the 53 Jobcenters show the same 24 months)."""
        if (kpi, periods) not in self._cuts:
            keep = self.tables[kpi]["_period"].is_in(list(periods))
            self._cuts[kpi, periods] = (self.tables[kpi].filter(keep), self.masks[kpi].filter(keep))
        return self._cuts[kpi, periods]


def _decide_table(
    table: pl.DataFrame, groups: dict, extract: KpiExtract, forced: dict, earlier: dict, delivered: set
) -> pl.DataFrame:
    """Per period: the cells suppressed, with ``forced`` (linked or published suppressed before)
    cells; a period ``delivered`` before is decided as a revision of what was published then
    (``earlier``: the cells suppressed in it)."""
    masks = {c: np.zeros(table.height, dtype=bool) for c in extract.decided}
    periods = table["_period"].to_numpy()
    for period in dict.fromkeys(periods):
        rows = np.flatnonzero(periods == period)
        local = {int(r): k for k, r in enumerate(rows)}
        local_groups = tuple(tuple(local[i] for i in g) for g in groups.get(period, ()))
        piece = suppress(
            table[rows],
            extract.spec(local_groups),
            {c: m[rows] for c, m in forced.items()},
            {c: m[rows] for c, m in earlier.items()} if period in delivered else None,
        )
        for c in piece.columns:
            masks[c][rows] = piece[c].to_numpy()
    return pl.DataFrame(masks)


def _link_keys(
    table: pl.DataFrame,
    period: Callable[[str], str | None],
    tiers: tuple[str, ...],
    row: str | None = None,
    by_kreis: bool = False,
) -> list:
    if by_kreis:  # a workshop's row stands for its Kreis
        workshop = pl.col("_tier") == "werkstatt"
        table = table.with_columns(
            pl.when(workshop).then(pl.lit("kreis")).otherwise(pl.col("_tier")).alias("_tier"),
            pl.when(workshop).then(pl.col("_kreisschluessel")).otherwise(pl.col("_region")).alias("_region"),
        )
    return [
        (tier, region, period(p)) if tier in tiers and (row is None or key == row) else None
        for tier, region, p, key in table.select("_tier", "_region", "_period", "_row").iter_rows()
    ]


def link_keys(link: Link, tables: dict[str, pl.DataFrame]) -> tuple[list, list]:
    """Each row's key of the linked figure in A's and in B's table (None: the row has it not)."""
    keys_a = (
        link.a_keys(tables[link.a])
        if link.a_keys
        else _link_keys(tables[link.a], link.a_period, link.tiers, link.a_row, link.a_by_kreis)
    )
    return keys_a, _link_keys(tables[link.b], link.b_period, link.tiers)


_CELL = ("_period", "_tier", "_region", "_landschaftsverband", "_row")  # a row's identity across runs
_KEYS = ["period", "tier", "region", "landschaftsverband", "row_key"]


def _cell_keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col("_period").alias("period"),
        pl.col("_tier").alias("tier"),
        pl.col("_region").fill_null("").alias("region"),
        pl.col("_landschaftsverband").fill_null("").alias("landschaftsverband"),
        pl.col("_row").fill_null("").alias("row_key"),
    )


def _suppressed_before(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'ops' and table_name = 'suppression_history'"
    ).fetchone()[0]
    if not found:
        return None
    has_value = con.execute(
        "select count(*) from duckdb_columns() where schema_name = 'ops' "
        "and table_name = 'suppression_history' and column_name = 'value'"
    ).fetchone()[0]
    value = "value" if has_value else "null::double as value"  # a home not published since
    return con.execute(
        f"select distinct kpi, {', '.join(_KEYS)}, column_name, {value} from ops.suppression_history"
    ).pl()


def _forced_by_history(
    kpi: str, table: pl.DataFrame, history: pl.DataFrame | None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The cells published as suppressed before, and of them those whose value has changed since
    (a reader of both versions learns the change from any total above: to the decision they are
    suppressed anew)."""
    forced = {c: np.zeros(table.height, dtype=bool) for c in EXTRACTS[kpi].decided}
    changed = {c: np.zeros(table.height, dtype=bool) for c in EXTRACTS[kpi].decided}
    if history is None or table.is_empty():
        return forced, changed
    earlier = history.filter(pl.col("kpi") == kpi).drop("kpi")
    hits = _cell_keys(table).with_row_index("_i").join(earlier, on=_KEYS)
    for (column,), cells in hits.group_by("column_name"):
        if column in forced:
            forced[column][cells["_i"].to_numpy()] = True
            now = table[column].cast(pl.Float64, strict=False).gather(cells["_i"])
            changed[column][cells.filter(_moved(now, cells["value"]))["_i"].to_numpy()] = True
    return forced, changed


def _moved(now: pl.Series, recorded: pl.Series) -> pl.Series:
    """Where a value recorded in the history (none before 2026-12-05) differs from today's."""
    return recorded.is_not_null() & ~(now - recorded).abs().lt(1e-9).fill_null(False)


DELIVERED = "(delivered)"  # ops.suppression_history: a period of a table a partner holds
CASES = "(cases) "  # ... and the cases each mean was published over (the count in row_key)


def _cases_of_means(decision: Decision, held: set, columns: list[str]) -> list[pl.DataFrame]:
    """For each mean a partner holds (a Kreis's, a total's): the cases it was published over, and
    the mean itself."""
    found = []
    for kpi in {kpi for kpi, _ in held if EXTRACTS[kpi].means}:
        table = decision.tables[kpi]
        periods = [period for k, period in held if k == kpi]
        for mean, (cases, _) in EXTRACTS[kpi].means.items():
            rows = pl.concat(
                [_cell_keys(table), table.select(pl.col(cases).alias("_cases"), pl.col(mean).alias("_mean"))],
                how="horizontal",
            )
            rows = rows.filter(pl.col("period").is_in(periods) & pl.col("_cases").is_not_null())
            found.append(
                rows.with_columns(
                    pl.col("_cases").cast(pl.Int64).cast(pl.String).alias("row_key"),
                    pl.lit(CASES + mean).alias("column_name"),
                    pl.lit(kpi).alias("kpi"),
                    pl.col("_mean").cast(pl.Float64).alias("value"),
                ).select(columns)
            )
    return found


def _forced_by_changed_cases(kpi: str, table: pl.DataFrame, history: pl.DataFrame | None) -> dict:
    """A mean published before over other cases: shown again over 1 or 2 cases more or less, the
    two would give those cases' own mean (their sum: the one version's mean × cases minus the
    other's; an attack found one person's Budget für Arbeit so). Over as many cases but another
    mean, the two give the difference of the cases that were exchanged (an attack recovered four
    persons' subsidies from four versions whose three cases rotated). Such a mean is suppressed."""
    forced = {}
    if history is None or table.is_empty():
        return forced
    for mean, (cases, _) in EXTRACTS[kpi].means.items():
        before = history.filter((pl.col("kpi") == kpi) & (pl.col("column_name") == CASES + mean))
        now = (
            _cell_keys(table)
            .drop("row_key")
            .with_row_index("_i")
            .with_columns(table[cases].alias("_cases"), table[mean].cast(pl.Float64).alias("_mean"))
        )
        pairs = now.join(before, on=["period", "tier", "region", "landschaftsverband"])
        change = (pairs["_cases"] - pairs["row_key"].cast(pl.Int64)).abs()
        moved = _moved(pairs["_mean"], pairs["value"])
        cells = np.zeros(table.height, dtype=bool)
        cells[pairs.filter(((change >= 1) & (change <= 2)) | ((change == 0) & moved))["_i"].to_numpy()] = True
        forced[mean] = cells
    return forced


def remember_suppressed(con: duckdb.DuckDBPyConnection, decision: Decision, published: list) -> None:
    """Record the decision's suppressed cells of every KPI and period a partner holds (``published``:
    the sheets delivered or confirmed), of the whole table — the rows of other scopes too, whose
    suppression protects these — so that a later decision starts from them: on unchanged figures it
    then arrives at the same cells, on changed figures at these and more."""
    from ingest.ops_tables import PUBLISH_DDL  # here, not on top: it loads the contracts (pandera)

    held = {
        (sheet.kpi, period)
        for sheet in published
        if sheet.keys is not None
        for period in sheet.keys["_period"]
    }
    frames = []
    for kpi in {kpi for kpi, _ in held}:
        table, mask = decision.tables[kpi], decision.masks[kpi]
        periods = [period for k, period in held if k == kpi]
        keys = _cell_keys(table).with_row_index("_i")
        cells = pl.concat([keys, mask], how="horizontal").filter(pl.col("period").is_in(periods))
        cells = cells.unpivot(index=["_i", *_KEYS], variable_name="column_name", value_name="hidden")
        values = pl.concat(
            [keys.select("_i"), table.select(pl.col(c).cast(pl.Float64, strict=False) for c in mask.columns)],
            how="horizontal",
        ).unpivot(index="_i", variable_name="column_name", value_name="_value")  # K01 has a column "value"
        cells = cells.filter(pl.col("hidden")).join(values, on=["_i", "column_name"], how="left")
        cells = cells.rename({"_value": "value"})
        frames.append(cells.drop("_i", "hidden").with_columns(pl.lit(kpi).alias("kpi")))
    if not frames:
        return
    # And which periods of a table were delivered at all (a later version is a revision of them).
    marks = [{"kpi": kpi, "period": period, **dict.fromkeys(_KEYS[1:], ""), "column_name": DELIVERED, "value": None}
             for kpi, period in held]  # fmt: skip
    frames.append(pl.DataFrame(marks).select(frames[0].columns))
    frames += _cases_of_means(decision, held, frames[0].columns)
    suppressed_now = pl.concat(frames).unique().to_arrow()  # noqa: F841 (read by DuckDB by name)
    con.execute(PUBLISH_DDL)
    con.execute(
        """insert into ops.suppression_history
             (kpi, period, tier, region, landschaftsverband, row_key, column_name, recorded_at, value)
           select kpi, period, tier, region, landschaftsverband, row_key, column_name, now()::timestamp, value
           from suppressed_now n
           where not exists (select 1 from ops.suppression_history h
                             where (h.kpi, h.period, h.tier, h.region, h.landschaftsverband, h.row_key, h.column_name)
                                 = (n.kpi, n.period, n.tier, n.region, n.landschaftsverband, n.row_key, n.column_name))"""
    )


def _from_history(tables: dict[str, pl.DataFrame], history: pl.DataFrame | None) -> tuple[dict, dict, dict]:
    """Per KPI, what the earlier versions fix: the cells forced (suppressed before, and means
    shown before over 1 or 2 cases more or less), the cells suppressed before whose value a
    reader of those versions still knows the sum of (``earlier``), and the periods delivered."""
    earlier, changed_since = {}, {}
    for kpi, table in tables.items():
        earlier[kpi], changed_since[kpi] = _forced_by_history(kpi, table, history)
    forced = {kpi: {c: m.copy() for c, m in cells.items()} for kpi, cells in earlier.items()}
    for kpi, table in tables.items():
        for mean, cells in _forced_by_changed_cases(kpi, table, history).items():
            forced[kpi][mean] |= cells
    # A cell suppressed before whose value changed: still suppressed, but decided as suppressed
    # anew (the totals above it go with it, privacy.md §3 versions; an attack recovered a
    # workshop's 2 -> 1 -> 0 transitions from totals that stayed published).
    earlier = {
        kpi: {c: m & ~changed_since[kpi][c] for c, m in cells.items()} for kpi, cells in earlier.items()
    }
    # A period delivered: marked so, or (delivered before the marks) with a cell suppressed in it.
    delivered = {
        kpi: set() if history is None else set(history.filter(pl.col("kpi") == kpi)["period"])
        for kpi in tables
    }
    return forced, earlier, delivered


def decide(con: duckdb.DuckDBPyConnection) -> Decision:
    """Suppression decided once on every complete table, with every cell published as suppressed
    before forced again, then made consistent across tables: repeated until no linked figure is
    suppressed in one table and shown in another."""
    tables, groups = {}, {}
    for kpi, extract in EXTRACTS.items():
        tables[kpi], groups[kpi] = complete_table(con, extract)
    forced, earlier, delivered = _from_history(tables, _suppressed_before(con))

    def decided(kpi: str) -> pl.DataFrame:
        return _decide_table(
            tables[kpi], groups[kpi], EXTRACTS[kpi], forced[kpi], earlier[kpi], delivered[kpi]
        )

    masks = {kpi: decided(kpi) for kpi in tables}
    changed = set(tables)
    while changed:
        pushed: set[str] = set()
        for link in LINKS:
            keys_a, keys_b = link_keys(link, tables)
            hidden_a = {
                k for k, m in zip(keys_a, _any(masks[link.a], link.a_columns), strict=True) if k and m
            }
            hidden_b = {
                k for k, m in zip(keys_b, _any(masks[link.b], link.b_columns), strict=True) if k and m
            }
            for kpi, keys, columns, hidden in (
                (link.a, keys_a, link.a_columns, hidden_b),
                (link.b, keys_b, link.b_columns, hidden_a),
            ):
                cells = np.array([k in hidden for k in keys], dtype=bool)
                for c in columns:
                    if (cells & ~masks[kpi][c].to_numpy()).any():
                        forced[kpi][c] |= cells
                        pushed.add(kpi)
        for kpi in pushed:
            masks[kpi] = decided(kpi)
        changed = pushed
    if "k01" in tables:
        tables["k01"] = _published_ranks(tables["k01"], masks["k01"])
    return Decision(tables, masks)


def _published_ranks(table: pl.DataFrame, mask: pl.DataFrame) -> pl.DataFrame:
    """K01's ranks among the rates that are published. A rank among all workshops would place the
    suppressed ones: the ranks missing beside the published ones, each between two published rates,
    with the total give their counts back (a rate of x of 20 between 9.70 % and 10.55 %: x = 2).
    Ranked on the exact rate (kpis.md), 1 = highest, ties sharing a rank; last year's rank among
    last year's rates published beside it (they are suppressed as last year's delivery did)."""
    exact = pl.col("numerator") / pl.col("denominator")
    rates = table.filter(pl.col("level") == "werkstatt").select(
        pl.col("werkstatt_nr"), (pl.col("_period").cast(pl.Int64) + 1).cast(pl.String).alias("_period"),
        exact.alias("_exact_prev_year"),
    )  # fmt: skip
    ranked = table.with_columns(
        exact.alias("_exact"),
        ~mask["value"].alias("_shown"),
        ~mask["value_prev_year"].alias("_shown_prev_year"),
    ).join(rates, on=["werkstatt_nr", "_period"], how="left", maintain_order="left")
    group, workshop = ["_period", "_landschaftsverband"], pl.col("level") == "werkstatt"  # totals: no rank
    for rank, value, rate, shown in (
        ("rank", "value", "_exact", "_shown"),
        ("rank_prev_year", "value_prev_year", "_exact_prev_year", "_shown_prev_year"),
    ):
        ranks = pl.when(workshop & pl.col(shown) & pl.col(value).is_not_null()).then(pl.col(rate))
        ranked = ranked.with_columns(
            pl.when(workshop)
            .then(ranks.rank(method="min", descending=True).over(group))
            .otherwise(pl.col(rank))
            .cast(table.schema[rank])
            .alias(rank)
        )
    return ranked.select(table.columns)


def _any(mask: pl.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    return np.logical_or.reduce([mask[c].to_numpy() for c in columns])


# --- a partner's slice ----------------------------------------------------------------------------


class UnprotectedColumn(ValueError):
    """A figure would leave that no suppression decision covers: a developer's mistake, refused."""


def public_columns(extract: KpiExtract, table: pl.DataFrame) -> list[str]:
    """What a partner sees, in order: level (when there are totals), the key, its name, the
    Landschaftsverband, the rest. Only the columns the partners' Erläuterungen describe
    (publish/labels.py) leave: a column added to a KPI's model reaches the analysts' copy, and a
    partner only once it is described; a described number must be under the suppression decision
    (counts, rates, means, ``together``), else the step refuses to publish it (an onboarding
    review: a new column blocked LWL and LVR in Great Expectations, and its obvious fix, a label,
    would have published a difference of a suppressed rate)."""
    from publish.labels import described

    columns = [
        c
        for c in table.columns
        if not c.startswith("_") and c not in extract.hidden and c != "level" and described(extract.kpi, c)
    ]
    decided = {*extract.decided, extract.period}
    if unprotected := [c for c in columns if table.schema[c].is_numeric() and c not in decided]:
        raise UnprotectedColumn(
            f"{extract.kpi}: {', '.join(unprotected)} would leave without a suppression decision: add "
            f"it to the counts, rates, means or together of EXTRACTS['{extract.kpi}'] (publish/extracts.py)"
        )
    first = [columns[0], *(c for c in columns[1:] if c.endswith("_name")), "landschaftsverband"]
    first = list(dict.fromkeys(first))
    return (["level"] if extract.totals else []) + first + [c for c in columns if c not in first]


def in_scope(table: pl.DataFrame, partner, extract: KpiExtract) -> pl.Series:
    """Rows a partner may see (privacy.md §4): a Landschaftsverband its own rows and total, a
    Jobcenter or Kreis list its own Kreise' rows — in a table of Jobcenters with the totals they
    compare themselves with (``comparisons``) — the statewide initiative everything."""
    if partner.statewide:
        return pl.repeat(True, table.height, dtype=pl.Boolean, eager=True)  # typed also when empty
    if partner.landschaftsverband:
        return table["_landschaftsverband"] == partner.landschaftsverband
    own = table.select(
        ~pl.col("level").is_in(TOTAL_LEVELS) & pl.col("_kreisschluessel").is_in(list(partner.kreise))
    ).to_series()
    return own | comparisons(table, own, extract) if extract.grain == "jobcenter" else own


def comparisons(table: pl.DataFrame, own: pl.Series, extract: KpiExtract) -> pl.Series:
    """The NRW total and the own peer groups' totals of a table of Jobcenters, per period, where no
    other Jobcenter's figures follow from them and the partner's own rows (``own``): each sums at
    least MIN_OTHERS_IN_COMPARISON other Jobcenters with figures, and so does NRW without the peer
    group (else NRW minus the peer group would show one Jobcenter). A total without figures is
    shown: nothing follows from it. A Jobcenter with only some figures (K08 where an integrationen
    file is overdue: its entrants, not its numerator) is not one with figures: the total's missing
    figure sums the others without it."""
    has_figures = pl.any_horizontal(pl.col(c).is_not_null() for c in extract.counts)
    has_every_figure = pl.all_horizontal(pl.col(c).is_not_null() for c in extract.counts)
    rows = table.with_columns(
        own.alias("_own"), has_figures.alias("_figures"), has_every_figure.alias("_every")
    )
    base = rows.filter(~pl.col("level").is_in(TOTAL_LEVELS) & pl.col("_every"))
    own_groups = [g for g in rows.filter(pl.col("_own"))["_vergleichsgruppe"].unique() if g is not None]
    others = base.filter(~pl.col("_own")).group_by("_period", "_vergleichsgruppe").len("_in_group")
    in_all = others.group_by("_period").agg(pl.col("_in_group").sum().alias("_in_all"))
    counted = rows.join(others, on=["_period", "_vergleichsgruppe"], how="left", maintain_order="left").join(
        in_all, on="_period", how="left", maintain_order="left"
    )
    in_group, everyone = pl.col("_in_group").fill_null(0), pl.col("_in_all").fill_null(0)
    outside = everyone - in_group
    compared = (pl.col("level") == "nrw") | (
        (pl.col("level") == PEER_GROUP) & pl.col("_vergleichsgruppe").is_in(own_groups)
    )
    return counted.select(
        # a total without figures tells nothing: shown with its "x" and why, as the own rows of
        # those months are (a partners' review found K07's first year without NRW's rows)
        pl.when(compared & ~pl.col("_figures"))
        .then(True)
        .when(pl.col("level") == "nrw")
        .then(everyone >= MIN_OTHERS_IN_COMPARISON)
        .when((pl.col("level") == PEER_GROUP) & pl.col("_vergleichsgruppe").is_in(own_groups))
        .then(
            (in_group >= MIN_OTHERS_IN_COMPARISON) & ((outside == 0) | (outside >= MIN_OTHERS_IN_COMPARISON))
        )
        .otherwise(False)
    ).to_series()


def partner_sheets(decision: Decision, partner, period: str) -> list:
    """The partner's KPIs for the period, cut from the decided complete tables."""
    from publish.files import Sheet

    months = shown_months(period, partner.history_months)
    sheets = []
    for kpi in partner.kpis:
        extract = EXTRACTS[kpi]
        table, mask = decision.of_periods(kpi, tuple(months) if extract.period == "month" else (period[:4],))
        keep = in_scope(table, partner, extract)
        frame, hidden = table.filter(keep), mask.filter(keep)
        # A row without figures (no delivery) shows "x" and why; in a row with figures, a figure
        # without a value whose count is suppressed shows "*", and no reason says the count is 0
        # ("kein laufender Fall" beside a suppressed count of cases would give it away). Its other
        # reasons stay (a Jobcenter's missing data beside a workshop's suppressed count: a
        # partners' review found "x" without a reason).
        has_figures = frame.select(
            pl.any_horizontal(pl.col(c).is_not_null() for c in extract.counts)
        ).to_series()
        count_hidden = hidden.select(pl.any_horizontal(pl.col(c) for c in extract.counts)).to_series()
        # K01's year before is another year's figure: "*" only where it has a value (a missing one
        # says why); a total has no rank ("x", never "*")
        ranked_row = ~frame["level"].is_in(TOTAL_LEVELS)
        last_year = frame["value_prev_year"].is_not_null() if "value_prev_year" in frame.columns else None
        hidden = hidden.with_columns(
            pl.col(c)
            & (
                last_year
                if c in ("value_prev_year", "rank_prev_year")
                else frame[c].is_not_null() | has_figures
            )
            & (ranked_row if c in RANKS else True)
            for c in hidden.columns
        )
        if "missing_reason" in frame.columns:
            silent = count_hidden & has_figures
            told = (
                pl.col("missing_reason")
                .str.split("; ")
                .list.eval(pl.element().filter(~pl.element().str.contains(ZERO_COUNT_REASONS)))
            )
            frame = frame.with_columns(
                pl.when(silent)
                .then(pl.when(told.list.len() > 0).then(told.list.join("; ")))
                .otherwise(pl.col("missing_reason"))
                .alias("missing_reason")
            )
        keys = frame.select(_CELL)
        frame = frame.select(public_columns(extract, table)).with_columns(
            pl.when(hidden[c]).then(None).otherwise(pl.col(c)).alias(c) for c in hidden.columns
        )
        sheets.append(Sheet(kpi, extract.title, frame, hidden, keys))
    return sheets
