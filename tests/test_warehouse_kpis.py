"""simulate -> ingest -> dbt on the demo profile, compared exactly with the simulator's independent
oracle (K01, K02, K04 so far), through the real Dagster job."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import duckdb
import polars as pl
import pytest


@pytest.fixture(scope="module")
def warehouse(demo_home):
    con = duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def _compare(con, truth, name: str, keys: list[str]) -> None:
    mine = con.execute(f"select * from kpi.{name}").pl()
    expected = pl.read_csv(truth / "oracle" / f"{name}.csv", infer_schema_length=0)
    assert mine.height == expected.height, name
    columns = [c for c in expected.columns if c not in keys]
    mine = mine.select(*keys, *[pl.col(c).cast(pl.String) for c in columns]).with_columns(
        pl.col(*keys).cast(pl.String)
    )
    joined = expected.join(mine, on=keys, how="left", suffix="_warehouse")
    for column in columns:
        left, right = joined[column], joined[f"{column}_warehouse"]
        if column.startswith("value") or (column == "denominator" and "k07" in name):  # "8.80" == "8.8"
            left = left.map_elements(lambda v: str(Decimal(v)), return_dtype=pl.String)
            right = right.map_elements(lambda v: str(Decimal(v)), return_dtype=pl.String)
        if column == "is_provisional":
            right = right.str.to_lowercase()
        differ = joined.filter(~left.eq_missing(right))
        assert differ.is_empty(), f"{name}.{column}:\n{differ.select(*keys, column, f'{column}_warehouse')}"


def test_k01_equals_the_oracle(warehouse, demo):
    _compare(warehouse, demo.with_name(demo.name + ".truth"), "k01_biap_quote", ["werkstatt_nr", "year"])


def test_k02_equals_the_oracle(warehouse, demo):
    _compare(warehouse, demo.with_name(demo.name + ".truth"), "k02_uebergangsquote", ["werkstatt_nr", "year"])


def test_k04_equals_the_oracle(warehouse, demo):
    _compare(warehouse, demo.with_name(demo.name + ".truth"), "k04_rueckkehrquote", ["werkstatt_nr", "year"])


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("k06_zielgruppenbestand", ["jobcenter", "month"]),
        ("k07_integrationsquote_sb", ["jobcenter", "month"]),
        ("k08_werkakademie_integrationsquote", ["jobcenter", "year"]),
        ("k09_uebernahmequote_praktikum", ["jobcenter", "year"]),
        ("k10_uebergang_dann_arbeitslos", ["landschaftsverband", "year"]),
        ("k11_jobcenter_in_werkstatt", ["kreisschluessel", "year"]),
        ("k14_regionaluebersicht", ["kreisschluessel", "year"]),
        ("k12_abgleich_leistungsdokumentation", ["werkstatt_nr", "year", "measure"]),
    ],
)
def test_jobcenter_and_cross_agency_kpis_equal_the_oracle(warehouse, demo, name, keys):
    _compare(warehouse, demo.with_name(demo.name + ".truth"), name, keys)


def test_k14_counts_transitions_at_the_workshops_seat_as_k02_does(warehouse):
    """kpis.md "Which Kreis": a person's residence only where a KPI says "by Kreis of residence",
    and K14 says it of the persons in AB and on BiAp, not of the transitions (an audit: K14 counted
    them by residence, and a Kreis' transitions differed from its workshops' K02 numerators in 20
    Kreis-years, while Kreise without a workshop got some)."""
    differ = warehouse.execute(
        """select k14.kreisschluessel, k14.year, k14.transitions, coalesce(sum(k02.numerator), 0) as k02
           from kpi.k14_regionaluebersicht as k14
           left join kpi.k02_uebergangsquote as k02 using (kreisschluessel, year)
           group by all having k14.transitions is distinct from coalesce(sum(k02.numerator), 0)"""
    ).fetchall()
    assert differ == []
    seats = warehouse.execute(
        "select count(distinct kreisschluessel) from kpi.k02_uebergangsquote"
    ).fetchone()[0]
    counted = warehouse.execute(
        "select count(distinct kreisschluessel) from kpi.k14_regionaluebersicht where transitions > 0"
    ).fetchone()[0]
    assert 0 < counted <= seats


def test_k11_names_a_workshop_whose_personen_files_are_overdue(warehouse):
    """Missing, not zero: a workshop of the Kreis that sent no Personenmeldung for months of the year
    (the demo's workshop recognised but silent) has no entrants in the count, and K11's note says
    whose files are overdue (an audit: K02 and K14 said so, K11 counted without a word)."""
    overdue = warehouse.execute(
        """select w.kreisschluessel, cast(left(e.period, 4) as integer) as year, e.sender
           from ops.expected_deliveries e join marts.dim_workshops w on e.sender = w.werkstatt_nr and w.is_current
           where e.part = 'personen' and e.status = 'overdue' group by all"""
    ).fetchall()
    assert overdue, "the demo has a workshop whose personen files are overdue"
    for kreis, year, sender in overdue:
        (note,) = warehouse.execute(
            "select note from kpi.k11_jobcenter_in_werkstatt where kreisschluessel = ? and year = ?",
            [kreis, year],
        ).fetchone()
        assert f"of {sender} for " in (note or "") and "its entrants are missing" in note, (kreis, year, note)


def test_hagen_in_the_warehouse(warehouse):
    sb_gl = warehouse.execute(
        "select avg(sb + gl), avg(rehabilitanden) from kpi.k06_zielgruppenbestand where jobcenter = '05914'"
    ).fetchone()
    assert 1000 <= sb_gl[0] <= 1200 and 250 <= sb_gl[1] <= 350
    quotes = [
        r[0]
        for r in warehouse.execute(
            "select value from kpi.k08_werkakademie_integrationsquote where jobcenter = '05914'"
        ).fetchall()
    ]
    assert quotes and all(35 <= q <= 40 for q in quotes)


def test_emscher_werkstatt_story(warehouse):
    rows = warehouse.execute(
        "select year, numerator, denominator, value, rank from kpi.k01_biap_quote where werkstatt_nr = 'LWL-0101' order by year"
    ).fetchall()
    assert rows == [(2023, 78, 552, Decimal("14.13"), 3), (2024, 114, 576, Decimal("19.79"), 1)]


def test_missing_december_is_missing_with_a_reason(warehouse):
    missing = warehouse.execute(
        "select werkstatt_nr, year, missing_reason from kpi.k01_biap_quote where value is null order by all"
    ).fetchall()
    # the workshop whose December 2023 personen file never came, and the one registered that never
    # sent, recognised in October 2024: missing for 2024, no row for 2023 (it was no workshop then)
    assert [(nr, year) for nr, year, _ in missing] == [("LVR-0205", 2023), ("LVR-0206", 2024)]
    assert not warehouse.execute(
        "select count(*) from kpi.k01_biap_quote where werkstatt_nr = 'LVR-0206' and year = 2023"
    ).fetchone()[0]
    assert all(reason.startswith(f"no personen snapshot for December {year}") for _, year, reason in missing)


def test_last_years_value_missing_says_whether_nothing_was_delivered_or_the_workshop_was_new(warehouse):
    """K01's "Vorjahr" in the demo's first year (2023) is missing because no workshop delivered for
    2022, and the workshop recognised in October 2024 had no 2023 row: each row says which (before,
    every row of the first year read „keine Werkstattzahlen“, as if each workshop had not sent)."""
    from publish.labels import reason

    before = dict(
        warehouse.execute(
            """select werkstatt_nr || ' ' || year, regexp_extract(missing_reason, 'previous year: (.*)$', 1)
               from kpi.k01_biap_quote where value_prev_year is null"""
        ).fetchall()
    )
    first_year = [key for key in before if key.endswith(" 2023")]
    assert first_year and all(before[key] == "no workshop deliveries for 2022" for key in first_year)
    assert before["LVR-0206 2024"] == "recognised as a workshop only in 2024"
    assert reason("k01", "previous year: no workshop deliveries for 2022") == (
        "Vorjahr: für 2022 liegen keine Werkstattlieferungen vor"
    )
    # K02 of the first year divides by the December before, which nobody sent: it says so, not
    # that each workshop owed its December file (an analysts' review)
    k02 = warehouse.execute(
        "select distinct missing_reason from kpi.k02_uebergangsquote where year = 2023 and denominator is null"
    ).fetchall()
    assert k02 == [("no workshop deliveries for 2022",)]
    assert (
        reason("k02", "no workshop deliveries for 2022") == "für 2022 liegen keine Werkstattlieferungen vor"
    )


def test_a_total_says_whether_its_counts_sum_every_part(warehouse):
    """counts_complete: each count of a total sums every row below it; else at least one is only a
    lower bound (an analysts' review read K14's "LVR insgesamt" of 4 of 26 Kreise as LVR's)."""
    cases = {
        # KPI, its totals, the part's region (Landschaftsverband) and period, its counts
        "k01": ("k01_biap_quote", "w.landschaftsverband", "year", ["numerator", "denominator"],
                "join marts.dim_workshops w on w.werkstatt_nr = k.werkstatt_nr and w.is_current"),
        "k14": ("k14_regionaluebersicht", "r.landschaftsverband", "year",
                ["ab_persons", "biap_persons", "transitions", "budget_fuer_arbeit_active",
                 "sb_gl_customers_december", "sb_gl_integration_months"],
                "join marts.dim_regions r on r.kreisschluessel = k.kreisschluessel"),
    }  # fmt: skip
    seen = set()
    for table, region, period, counts, join in cases.values():
        complete = " and ".join(f"count(*) = count(k.{c})" for c in counts)
        expected = {
            (r, p): flag
            for r, p, flag in warehouse.execute(
                f"""select {region}, k.{period}, {complete} from kpi.{table} k {join} group by all
                    union all select 'NRW', k.{period}, {complete} from kpi.{table} k group by all"""
            ).fetchall()
        }
        found = {
            (r, p): flag
            for r, p, flag in warehouse.execute(
                f"select region, {period}, counts_complete from kpi.{table}_totals"
            ).fetchall()
        }
        assert found == expected, table
        seen |= set(found.values())
    assert seen == {True, False}, "the demo has complete totals and lower bounds"
    assert not warehouse.execute(
        "select counts_complete from kpi.k14_regionaluebersicht_totals where region = 'LVR' and year = 2023"
    ).fetchone()[0]


def test_lineage_from_landing_to_kpi():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string() for k in graph.get(dg.AssetKey(["staging", "stg_wfbm__persons"])).parent_keys
    }
    assert "landing/wfbm_personen" in parents, "dbt sources reuse the ingest assets' keys"
    upstream = {
        k.to_user_string() for k in graph.upstream_key_iterator(dg.AssetKey(["kpi", "k01_biap_quote"]))
    }
    assert {
        "landing/wfbm_personen",
        "landing/wfbm_aussenarbeitsplaetze",
        "landing/lv_werkstaetten",
    } <= upstream


def test_k12_flags_every_status(warehouse):
    statuses = dict(
        warehouse.execute(
            "select status, count(*) from kpi.k12_abgleich_leistungsdokumentation group by all"
        ).fetchall()
    )
    assert set(statuses) == {"ok", "abweichung", "fehlt"}


def test_every_missing_kpi_value_says_why(warehouse):
    """Missing, not zero — and never unexplained: a null figure has its missing_reason (last year's
    K01 beside this year's is null where the workshop has no row for Y-1)."""
    unexplained = []
    for (table,) in warehouse.execute(
        "select table_name from duckdb_columns() where schema_name = 'kpi' and column_name = 'missing_reason'"
    ).fetchall():
        columns = [r[0] for r in warehouse.execute(f"describe kpi.{table}").fetchall()]
        for column in columns:
            if column in ("missing_reason", "note", "value_prev_year", "rank_prev_year"):
                continue
            count = warehouse.execute(
                f'select count(*) from kpi.{table} where "{column}" is null and missing_reason is null'
            ).fetchone()[0]
            if count:
                unexplained.append((table, column, count))
    assert unexplained == []


def test_k11_says_where_the_kreiss_own_jobcenter_sent_nothing(warehouse, demo):
    """Only customers of Jobcenters that deliver can count: a Kreis whose own Jobcenter sent no file
    reads "0 from the Jobcenter" with a note saying so, never as a finding about that Jobcenter."""
    delivering = {path.name.split("_")[1] for path in demo.glob("jc_*_kunden.csv")}
    rows = warehouse.execute(
        "select kreisschluessel, year, from_jobcenter, note from kpi.k11_jobcenter_in_werkstatt where entrants > 0"
    ).fetchall()
    own = "no data from the Kreis's own Jobcenter"
    noted = {kreis for kreis, _, _, note in rows if own in (note or "")}
    without_own = {kreis for kreis, _, _, _ in rows if kreis not in delivering}
    assert without_own, "the demo has workshops in a Kreis whose Jobcenter does not deliver"
    assert noted == without_own, "a note exactly where the Kreis's own Jobcenter sent nothing"
    assert all(note.startswith(own) for *_, note in rows if own in (note or ""))


def test_every_industry_in_the_warehouse_decodes_to_its_wz_section(warehouse):
    """An analyst reads an employer's industry through dim_industry_divisions: WZ 2008's 88
    divisions, each in its section; every WZ class the demo's facts carry finds its division, the
    84.* of K13's public administration in section O, and dim_employers names the section."""
    divisions = dict(
        warehouse.execute("select division, section from marts.dim_industry_divisions").fetchall()
    )
    assert (
        len(divisions) == 88 and divisions["84"] == "O" and divisions["01"] == "A" and divisions["99"] == "U"
    )
    assert not {"04", "34", "40", "44", "48", "54", "57", "67", "76", "83", "89"} & set(divisions)
    classes = {
        wz
        for table in ("fct_placement_spells", "fct_transitions", "fct_integrations")
        for (wz,) in warehouse.execute(
            f"select distinct industry_wz from marts.{table} where industry_wz is not null"
        ).fetchall()
    }
    assert classes and {wz[:2] for wz in classes} <= set(divisions)
    employers = warehouse.execute(
        "select industry_wz, industry_section from marts.dim_employers where industry_wz is not null"
    ).fetchall()
    assert employers and all(section == divisions[wz[:2]] for wz, section in employers)
