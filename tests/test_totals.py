"""The Landschaftsverband, NRW and peer-group totals come from dbt (kpi.<table>_totals, macro
kpi_totals) and are what they claim to be: on the demo warehouse every total row the publish step works with, and
every total cell a partner receives, equals the sum of its parts computed here, independently, from
the KPI rows; a rate equals the summed numerator over the summed denominator rounded half away from
zero (exact fractions here, not the SQL macro), a mean the summed subsidies over the summed cases."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from math import floor

import duckdb
import polars as pl
import pytest
from extract_files import csv_rows

from publish.extracts import EXTRACTS, KpiExtract, complete_table
from teilhabe.reference import nrw_kreise

TOTALS = [kpi for kpi, extract in EXTRACTS.items() if extract.totals]
NAME = {"werkstatt": "werkstatt_name", "kreis": "kreis_name", "jobcenter": "jobcenter_name"}


def half_up(value: Fraction) -> float:
    """Rounded half away from zero to 2 decimals (the values are not negative)."""
    return float(Fraction(floor(value * 100 + Fraction(1, 2)), 100))


def exact(value: float | int) -> Fraction:
    """A number of the warehouse (integer, or a decimal with 2 places read as float) exactly."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


# A count that is a mean of stocks (K07's SB/GL over twelve months): a total's is the mean of the
# parts' summed stocks, not the sum of their means rounded to cents (kpis.md rounds for display).
MEAN_OF_SUMMED = {"k07": ("denominator", "sb_gl_stock_months", 12)}


def lacks_rate(extract: KpiExtract, part: dict, rate: str, den: str) -> bool:
    """A part lacks its rate where it has none and its counts would give one (withheld), or a count
    is missing, or (a Landschaftsverband total under NRW) parts below it lack it. A part of 0 of 0,
    its counts all there, has no rate to lack (an audit: LWL's K04 total of 2024 was withheld for a
    workshop without transitions)."""
    if part[rate] is not None:
        return False
    undefined = all(part[c] is not None for c in extract.counts) and exact(part[den]) == 0
    below = "parts without a value" in (part.get("missing_reason") or "")
    return below or not undefined


def total_of(extract: KpiExtract, parts: list[dict]) -> dict:
    """What a total of ``parts`` (rows of the KPI, or Landschaftsverband totals for NRW) must hold."""
    row: dict = {"is_provisional": any(p["is_provisional"] for p in parts), "missing_reason": None}
    for column in extract.counts:
        values = [exact(p[column]) for p in parts if p[column] is not None]
        row[column] = sum(values) if values else None
    exact_count = {}
    if extract.kpi in MEAN_OF_SUMMED:
        mean, summed, months = MEAN_OF_SUMMED[extract.kpi]
        stocks = [Fraction(p[summed]) for p in parts if p[summed] is not None]
        row[summed] = sum(stocks) if stocks else None
        exact_count[mean] = row[summed] / months if stocks else None
        row[mean] = half_up(exact_count[mean]) if stocks else None
    if missing := [c for c in extract.counts if row[c] is None]:
        row["missing_reason"] = f"no part has a value for {', '.join(missing)}"
    for rate, (num, den, per) in extract.rates.items():
        without = sum(lacks_rate(extract, p, rate, den) for p in parts)
        row[rate] = None
        denominator = exact_count.get(den, row[den])
        if without:
            row["missing_reason"] = f"{without} of {len(parts)} parts without a value"
        elif denominator:
            row[rate] = half_up(row[num] * per / denominator)
        elif not row["missing_reason"]:
            row["missing_reason"] = "no rate: its denominator is 0"
    for mean, (cases, total) in extract.means.items():
        sums = [exact(p[total]) for p in parts if p[total] is not None]
        row[total] = None if row[cases] is None else sum(sums, Fraction(0))
        row[mean] = half_up(row[total] / row[cases]) if row[cases] else None
    return row


def note_of(extract: KpiExtract, rows: list[dict]) -> str | None:
    """A total's note: each count that sums only some of the KPI's own rows below it (NRW: all of
    them), because the others have no value; and, for each note those rows carry ("; " between a
    row's notes: K11, a Kreis whose own Jobcenter sends nothing; K10 and K11, record pairs waiting
    for review), how many of them carry it, which a total would otherwise hide."""
    missing = {column: sum(r[column] is None for r in rows) for column in extract.counts}
    notes = [
        f"{column}: {without} of {len(rows)} parts without a value"
        for column, without in missing.items()
        if 0 < without < len(rows)
    ]
    if len(missing) > 1 and len(set(missing.values())) == 1 and notes:  # all alike: said once
        notes = [f"every count: {next(iter(missing.values()))} of {len(rows)} parts without a value"]
    noted = Counter(note for r in rows if r.get("note") for note in r["note"].split("; "))
    notes += [f"{noted[note]} of {len(rows)} parts: {note}" for note in sorted(noted)]
    return "; ".join(notes) or None


def jobcenters_of_regions() -> Counter:
    """How many Jobcenters each Landschaftsverband, peer group and NRW has: one per Kreis of the
    reference list, its peer group its form in Kreise of its type."""
    regions: Counter = Counter()
    for kreis in nrw_kreise().iter_rows(named=True):
        kind = "kreisfreien Städten" if kreis["typ"] == "kreisfreie Stadt" else "Kreisen"
        regions[("landschaftsverband", kreis["landschaftsverband"])] += 1
        regions[("vergleichsgruppe", f"Jobcenter {kreis['jobcenter_form']} in {kind}")] += 1
        regions[("nrw", "NRW")] += 1
    return regions


COVERAGE = (
    "Jobcenters in the sum: the others have no figures for the period (no data sent, or a figure missing)"
)


def with_coverage(note: str | None, summed: int, of: int) -> str | None:
    """A Jobcenters' total summing fewer Jobcenters than its region has says how many it sums."""
    if not 0 < summed < of:  # all, or none: then the total has no value and says why
        return note
    return "; ".join(
        filter(
            None,
            (note, f"{summed} of {of} {COVERAGE}"),
        )
    )


def note_coverage(extract: KpiExtract, found: dict[tuple, dict], rows: list[dict], period: str) -> None:
    """The notes of a period's Jobcenter totals, with how many Jobcenters each sums."""
    jobcenters = jobcenters_of_regions()
    for (level, region, when), total in found.items():
        if when == period:
            summed = sum(  # rows below the total with a count (a month whose file is overdue has none)
                (level == "nrw" or r[f"_{level}"] == region) and any(r[c] is not None for c in extract.counts)
                for r in rows
            )
            total["note"] = with_coverage(total["note"], summed, jobcenters[(level, region)])


def total_levels(extract: KpiExtract) -> tuple[str, ...]:
    """The levels of total rows (K10's rows are Landschaftsverband rows themselves: its only total
    is NRW; a table of Jobcenters also has its peer groups')."""
    if extract.grain == "landschaftsverband":
        return ("nrw",)
    return (
        ("landschaftsverband", "nrw", "vergleichsgruppe")
        if extract.grain == "jobcenter"
        else ("landschaftsverband", "nrw")
    )


def is_total(extract: KpiExtract) -> pl.Expr:
    return pl.col("level").is_in(total_levels(extract))


def expected_totals(extract: KpiExtract, table: pl.DataFrame) -> dict[tuple, dict]:
    """(level, region, period) -> the total's figures, from the KPI's own rows of ``table``."""
    base = table.filter(~is_total(extract))
    found: dict[tuple, dict] = {}
    for period in base["_period"].unique(maintain_order=True):
        rows = base.filter(pl.col("_period") == period).to_dicts()
        if extract.grain == "landschaftsverband":
            found[("nrw", "NRW", period)] = total_of(extract, rows) | {"note": note_of(extract, rows)}
            continue
        lvs = {}
        for lv in dict.fromkeys(r["_landschaftsverband"] for r in rows):
            members = [r for r in rows if r["_landschaftsverband"] == lv]
            lvs[lv] = total_of(extract, members)
            found[("landschaftsverband", lv, period)] = lvs[lv] | {"note": note_of(extract, members)}
        found[("nrw", "NRW", period)] = total_of(extract, list(lvs.values())) | {
            "note": note_of(extract, rows)
        }
        if extract.grain == "jobcenter":
            for group in dict.fromkeys(r["_vergleichsgruppe"] for r in rows):
                members = [r for r in rows if r["_vergleichsgruppe"] == group]
                found[("vergleichsgruppe", group, period)] = total_of(extract, members) | {
                    "note": note_of(extract, members)
                }
            note_coverage(extract, found, rows, period)
    if "value_prev_year" in table.columns:  # K01: the total's year before, or why it is missing
        own = {key: (row["value"], row["missing_reason"]) for key, row in found.items()}
        for (level, region, period), row in found.items():
            value, reason = own.get((level, region, str(int(period) - 1)), (None, None))
            row["value_prev_year"] = value
            last = str(int(period) - 1)
            if (level, region, last) in own:
                why = reason if value is None else None
            elif any(key[2] == last for key in own):
                why = f"no workshop figures for {last}"
            else:  # no workshop sent anything for that year
                why = f"no workshop deliveries for {last}"
            if why:
                row["missing_reason"] = "; ".join(
                    filter(None, (row["missing_reason"], f"previous year: {why}"))
                )
    return found


def comparable(value):
    return float(value) if isinstance(value, Fraction) else value


@pytest.fixture(scope="module")
def tables(demo_home) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        return {kpi: complete_table(con, EXTRACTS[kpi])[0] for kpi in TOTALS}


def test_every_kpi_with_totals_has_its_dbt_model(demo_home):
    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        models = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'kpi' and table_name like '%_totals'"
            ).fetchall()
        }
    assert models == {f"{EXTRACTS[kpi].table}_totals" for kpi in TOTALS}


@pytest.mark.parametrize("kpi", TOTALS)
def test_total_rows_are_the_sums_of_their_parts(tables, kpi):
    extract, table = EXTRACTS[kpi], tables[kpi]
    expected = expected_totals(extract, table)
    totals = table.filter(is_total(extract))
    found = {(r["level"], r["_region"], r["_period"]): r for r in totals.to_dicts()}
    assert set(found) == set(expected)
    figures = [*extract.counts, *extract.rates, *extract.means, "is_provisional", "missing_reason", "note"]
    figures += ["value_prev_year"] if "value_prev_year" in table.columns else []
    for key, row in found.items():
        assert {c: row[c] for c in figures} == {c: comparable(expected[key][c]) for c in figures}, key
        level, region, _ = key
        assert row["_tier"] == level
        assert row["_landschaftsverband"] == (region if level == "landschaftsverband" else None)
        if level == "vergleichsgruppe":
            assert row[NAME[extract.grain]] == f"Vergleichsgruppe: {region}"
        elif extract.grain in NAME:
            assert row[NAME[extract.grain]] == f"{region} insgesamt"
        else:
            assert row["landschaftsverband"] == region
    assert any(row[extract.counts[0]] for row in found.values()), "the demo has totals with figures"
    if kpi in ("k02", "k14"):  # the demo's LVR-0205 sent no December 2023, most Jobcenters nothing
        assert any(row["note"] for row in found.values()), "the demo has totals of only some rows"
    if extract.grain == "jobcenter":  # the demo's three Jobcenters: NRW's total is not NRW's
        nrw = [
            row
            for (level, _, _), row in found.items()
            if level == "nrw" and any(row[column] is not None for column in extract.counts)
        ]
        assert all(COVERAGE in (row["note"] or "") for row in nrw)
    if kpi == "k11":  # most of the demo's Kreise have no Jobcenter of their own that delivers
        assert any(
            "parts: no data from the Kreis's own Jobcenter" in (row["note"] or "") for row in found.values()
        )


def _text(value: Fraction | float | None, decimals: bool) -> str:
    """As publish.files writes a number: two decimals with a comma, or an integer."""
    if value is None:
        return "x"
    return f"{float(value):.2f}".replace(".", ",") if decimals else str(int(value))


def test_published_totals_are_the_sums_of_their_parts(demo_home, tables):
    """Every total cell a partner received is suppressed ('*') or the independently computed sum."""
    checked = 0
    for path in sorted((demo_home["root"] / "outbox").glob("*/*/latest/k*.csv")):
        kpi = path.stem
        if kpi not in TOTALS:
            continue
        extract = EXTRACTS[kpi]
        expected = expected_totals(extract, tables[kpi])
        for row in csv_rows(path):
            if row["level"] not in total_levels(extract):
                continue
            region = {
                "nrw": "NRW",
                "landschaftsverband": row["landschaftsverband"],
                "vergleichsgruppe": (row.get("jobcenter_name") or "").removeprefix("Vergleichsgruppe: "),
            }[row["level"]]
            period = row["year"] if extract.period == "year" else row["month"]
            total = expected[(row["level"], region, period)]
            for column in [*extract.counts, *extract.rates, *extract.means]:
                text = _text(total[column], tables[kpi].schema[column].is_float())
                assert row[column] in ("*", text), (path, region, period, column)
                checked += row[column] != "*"
    assert checked > 20
