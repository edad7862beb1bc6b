"""Operating many senders (issue 17): the delivery calendar knows what should have arrived, the
Dagster checks and the daily digest name what is overdue, and a KPI missing for it says which file.
Checked on the demo run, whose simulator never sends one workshop's December personen file
(its ground truth names it) and sends everything else before the 15th."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil

import dagster as dg
import duckdb
import pytest

from publish.expected import data_status, digest


def _scenario(demo) -> dict:
    return json.loads((demo.with_name(demo.name + ".truth") / "simulation.json").read_text())["scenario"]


@pytest.fixture(scope="module")
def never_sent(demo) -> tuple[str, str]:
    """The workshop and month whose personen file never comes."""
    return tuple(_scenario(demo)["missing_snapshot"])


@pytest.fixture(scope="module")
def silent(demo) -> tuple[str, str]:
    """The workshop recognised in October of the last year that has sent nothing, and that month."""
    return tuple(_scenario(demo)["silent_workshop"])


@pytest.fixture(scope="module")
def calendar(demo_home) -> duckdb.DuckDBPyConnection:
    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        yield con


def test_the_calendar_lists_the_files_that_never_came(calendar, never_sent, silent):
    nr, month = never_sent
    quiet, recognised = silent
    overdue = calendar.execute(
        """select sender, part, period, due_on, days_late > 0 from ops.expected_deliveries
           where status = 'overdue' order by sender, period, part"""
    ).fetchall()
    year = recognised[:4]
    assert [row[:3] for row in overdue] == [
        (nr, "personen", month),
        *((quiet, part, f"{year}-{m}") for m in ("10", "11", "12")
          for part in ("aussenarbeitsplaetze", "personen", "uebergaenge")),
    ], "the missing December file, and every file of the workshop recognised in October that never sent"  # fmt: skip
    assert str(overdue[0][3]) == f"{int(month[:4]) + 1}-01-15" and all(row[4] for row in overdue)
    not_expected = calendar.execute(
        "select distinct sender, period from ops.expected_deliveries where status = 'not_expected'"
    ).fetchall()
    assert {sender for sender, _ in not_expected} == {quiet} and max(p for _, p in not_expected) < recognised
    statuses = dict(
        calendar.execute("select status, count(*) from ops.expected_deliveries group by 1").fetchall()
    )
    assert set(statuses) == {"on_time", "overdue", "not_expected"}, "the simulator sends the rest by the 14th"
    # every registered workshop is expected in every month with its three parts, each Jobcenter
    # with its four, each Landschaftsverband with its two yearly files
    expected = calendar.execute(
        """select sender_kind, count(distinct sender), count(distinct period), count(distinct part), count(*)
           from ops.expected_deliveries group by 1 order by 1"""
    ).fetchall()
    workshops = calendar.execute("select count(distinct werkstatt_nr) from marts.dim_workshops").fetchone()[0]
    assert expected == [
        ("jobcenter", 3, 24, 4, 3 * 24 * 4),
        ("landschaftsverband", 2, 2, 2, 2 * 2 * 2),
        ("werkstatt", workshops, 24, 3, workshops * 24 * 3),
    ]


def test_k01_and_k02_say_which_file_is_overdue(calendar, never_sent, silent):
    quiet, recognised = silent
    year = int(recognised[:4])
    reasons = dict(
        calendar.execute(
            "select year, missing_reason from kpi.k01_biap_quote where werkstatt_nr = ?", [quiet]
        ).fetchall()
    )
    # no row for the year before it was recognised (an analysts' review: its missing figures had
    # left the Landschaftsverband's and NRW's totals of that year without a value)
    assert reasons == {
        year: f"no personen snapshot for December {year}: the personen file of {quiet} for {year}-12 is overdue "
        f"since {year + 1}-01-15; previous year: recognised as a workshop only in {year}",
    }
    nr, month = never_sent
    reason = calendar.execute(
        "select missing_reason from kpi.k01_biap_quote where werkstatt_nr = ? and year = ?",
        [nr, int(month[:4])],
    ).fetchone()[0]
    due = f"{int(month[:4]) + 1}-01-15"
    own = reason.partition("; previous year: ")[0]  # then why the year before's value is missing
    assert own == (
        f"no personen snapshot for December {month[:4]}: the personen file of {nr} for {month} is overdue since {due}"
    )
    # K02 of the next year divides by that December's count: it says the same, as K01's "Vorjahr"
    k02 = calendar.execute(
        "select missing_reason from kpi.k02_uebergangsquote where werkstatt_nr = ? and year = ?",
        [nr, int(month[:4]) + 1],
    ).fetchone()[0]
    next_k01 = calendar.execute(
        "select missing_reason from kpi.k01_biap_quote where werkstatt_nr = ? and year = ?",
        [nr, int(month[:4]) + 1],
    ).fetchone()[0]
    assert k02 == own and next_k01 == f"previous year: {own}"


def test_k12_says_which_side_is_missing_and_which_file_is_overdue(calendar, never_sent, silent):
    """The never-sent December leaves K12's computed AB and BiAp missing, with K01's reason; the
    silent workshop, which the Landschaftsverband does not report either, misses both sides."""
    nr, month = never_sent
    rows = dict(
        calendar.execute(
            "select measure, missing_reason from kpi.k12_abgleich_leistungsdokumentation "
            "where werkstatt_nr = ? and year = ?",
            [nr, int(month[:4])],
        ).fetchall()
    )
    k01 = calendar.execute(
        "select missing_reason from kpi.k01_biap_quote where werkstatt_nr = ? and year = ?",
        [nr, int(month[:4])],
    ).fetchone()[0]
    k01 = k01.partition("; previous year: ")[0]  # K01's reason for its own year
    assert rows == {"ab": k01, "biap": k01, "transitions": None, "bfa": None}
    quiet, recognised = silent
    year = int(recognised[:4])
    lv, reasons = calendar.execute(
        "select any_value(w.landschaftsverband), list(distinct k.missing_reason order by k.missing_reason) "
        "from kpi.k12_abgleich_leistungsdokumentation k join marts.dim_workshops w using (werkstatt_nr) "
        "where k.werkstatt_nr = ? and k.year = ? and k.measure = 'ab'",
        [quiet, year],
    ).fetchone()
    assert reasons == [
        f"the Leistungsdokumentation of {lv} for {year} has no row for the workshop; no personen snapshot for "
        f"December {year}: the personen file of {quiet} for {year}-12 is overdue since {year + 1}-01-15"
    ]


def test_the_check_of_that_part_fails_naming_the_sender(demo_home, never_sent, silent):
    nr, month = never_sent
    quiet, recognised = silent
    evaluations = [
        e
        for e in demo_home["result"].get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["ops", "expected_deliveries"])
    ]
    assert all(e.passed for e in evaluations if not e.check_name.startswith("on_time_")), "dbt's tests of it"
    checks = {e.check_name: e for e in evaluations if e.check_name.startswith("on_time_")}
    assert set(checks) == {
        f"on_time_{part}"
        for part in ("personen", "aussenarbeitsplaetze", "uebergaenge", "bestand", "kunden", "massnahmen",
                     "integrationen", "leistungsdokumentation", "budget_fuer_arbeit")
    }  # fmt: skip
    failed = {name for name, check in checks.items() if not check.passed}
    assert failed == {"on_time_personen", "on_time_aussenarbeitsplaetze", "on_time_uebergaenge"}
    listed = checks["on_time_personen"].metadata["overdue"].value
    assert f"{nr} {month} (due " in listed and f"{quiet} {recognised[:4]}-12 (due " in listed
    # a sender's lateness, not the pipeline's failure: a warning that says what to do
    assert checks["on_time_personen"].severity == dg.AssetCheckSeverity.WARN
    assert "teilhabe digest" in checks["on_time_personen"].metadata["how"].value
    assert any(f"{nr} personen {month}" in line for line in demo_home["events"]), "and on the run's console"


def test_the_daily_digest_names_it_and_reminds_the_senders(demo_home, never_sent, silent, tmp_path):
    """The digest job as its schedule runs it, on a copy of the demo's data home whose calendar was
    built before the files fell due (no run since: nothing arrived): it is rebuilt as of today. The
    senders are reminded of what they have not sent, also the workshop that never sent a file (it
    heard nothing, only the digest named it: a senders' review)."""
    from orchestration.definitions import defs
    from orchestration.defs.resources import DataHomeResource

    nr, month = never_sent
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(demo_home["root"] / "warehouse.duckdb", home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("update ops.expected_deliveries set status = 'pending' where status = 'overdue'")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("operations_digest").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(home))}
        )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["on_time_personen"] is False, "the UI's check is as of today too"
    written = sorted((home / "reports" / "operations").iterdir())
    assert [p.suffix for p in written] == [".csv", ".txt"]
    text = written[1].read_text("utf-8")
    assert (
        "overdue: 10 files from 2 senders" in text
        and nr in text
        and f"personen               {month}" in text
    )
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert digest(con).csv() == written[0].read_text("utf-8")
        newest, completed = con.execute(
            "select (select max(received_at) from ops.delivery_log), (select max(completed_at) from ops.run_state)"
        ).fetchone()
    # when anything last arrived, and whether the last files made it through a complete run (an
    # operator review: a drop folder nothing reached for 23 months, or a run failing every night,
    # left the digest as it was)
    lines = text.splitlines()
    days = (dt.date.today() - newest.date()).days
    assert lines[1] == f"last file received {newest:%Y-%m-%d} ({days} days ago)"
    assert lines[2] == f"last complete run {completed:%Y-%m-%d %H:%M} UTC"
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(
            "insert into ops.delivery_log select * replace ((select max(delivery_id) + 1 from ops.delivery_log) "
            "as delivery_id, now()::timestamp + interval 1 minute as ingested_at) from ops.delivery_log "
            "where status = 'loaded' limit 1"
        )  # a file a run took, which failed after its ingest
        failing = digest(con).text().splitlines()[2]
    assert failing.startswith(
        f"last complete run {completed:%Y-%m-%d %H:%M} UTC; 1 file loaded since, not yet built"
    )
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(
            "delete from ops.delivery_log where delivery_id = (select max(delivery_id) from ops.delivery_log)"
        )
    quiet, recognised = silent
    due = f"15.{int(recognised[5:]) % 12 + 1:02d}.{recognised[:4]}"
    folder = home / "outbox" / f"werkstatt_{quiet}" / "rueckmeldung"
    text = (folder / recognised / "latest" / "rueckmeldung.html").read_text("utf-8")
    assert f"Personenmeldung (überfällig, fällig am {due})" in text and "<h1>Erinnerung an" in text
    # a gap more than a year before the calendar's last due day is the operator's (the digest's)
    assert int(month[:4]) < int(recognised[:4]) and not (home / "outbox" / f"werkstatt_{nr}").exists()
    before = sorted(p.relative_to(home) for p in (home / "outbox").rglob("*") if p.is_file())
    with dg.instance_for_test() as instance:  # the next morning: nothing changed, nothing sent again
        assert (
            defs.resolve_job_def("operations_digest")
            .execute_in_process(instance=instance, resources={"data_home": DataHomeResource(root=str(home))})
            .success
        )
    assert sorted(p.relative_to(home) for p in (home / "outbox").rglob("*") if p.is_file()) == before


def _corrected_late_line(calendar, demo, landschaftsverband: str) -> str:
    """The line for the simulator's correction of a workbook that came on time, replaced after its
    due day (a partners' review read „kamen fristgerecht“ above it), from the simulator's truth."""
    with open(demo.with_name(demo.name + ".truth") / "deliveries.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["sender"].startswith(landschaftsverband)]
    first = next(r for r in rows if r["kind"] == "corrected_original" and r["part"] == "workbook")
    fixed = next(r for r in rows if r["kind"] == "correction" and r["sender"] == first["sender"])
    nr, period = first["sender"], first["period"]
    name, due = calendar.execute(
        """select w.workshop_name, e.due_on from marts.dim_workshops w join ops.expected_deliveries e
           on e.sender = w.werkstatt_nr where w.werkstatt_nr = ? and e.period = ? and e.part = 'personen'""",
        [nr, period],
    ).fetchone()
    assert fixed["received_at"][:10] > str(due) >= first["received_at"][:10], "the demo's correction is late"
    day = lambda stamp: f"{stamp[8:10]}.{stamp[5:7]}.{stamp[:4]}"  # noqa: E731
    return (
        f"Nach der Frist korrigiert: Arbeitsmappe (alle Teile) von {nr} ({name}) für {period[5:]}/{period[:4]}, "
        f"fristgerecht eingegangen am {day(first['received_at'])}, ersetzt am {day(fixed['received_at'])} "
        f"(fällig am {due:%d.%m.%Y}); diese Zahlen beruhen auf der Korrektur."
    )


def test_a_report_says_which_files_its_figures_miss(calendar, demo, demo_home, never_sent, silent):
    """The report's data status (issue 16): the overdue files in the scope and period of the partner
    whose figures rest on them, and no one else's; the LWL's 2024 report says all came on time."""
    from publish.extracts import decide, partner_sheets
    from publish.partners import load_partners
    from publish.periods import shown_months
    from publish.reports import partner_report

    nr, month = never_sent
    year = month[:4]
    partners = {p.id: p for p in load_partners(jobcenters=["05112", "05513", "05914"])}
    name = calendar.execute(
        "select workshop_name from marts.dim_workshops where werkstatt_nr = ?", [nr]
    ).fetchone()[0]
    line = f"Überfällig: Personenmeldung von {nr} ({name}) für 12/{year}, fällig am 15.01.{int(year) + 1}."
    assert data_status(calendar, partners[nr[:3].lower()], [*shown_months(year), year]) == [line]
    assert data_status(calendar, partners["nrw_inklusiv"], shown_months(f"{year}-Q4")) == [line]
    assert data_status(calendar, partners["lwl"], [*shown_months(year), year]) == []
    quiet, _ = silent
    later = data_status(calendar, partners["lvr"], [*shown_months(str(int(year) + 1)), str(int(year) + 1)])
    corrected = later.pop()  # the LVR workbook corrected after its due day, on which the figures rest
    assert corrected == _corrected_late_line(calendar, demo, "LVR"), later
    assert len(later) == 3 and all(f"von {quiet} (Werkstatt am Rheinufer)" in line for line in later)
    assert later[0].startswith("Überfällig: Personenmeldung, Außenarbeitsplätze und Übergänge von"), later
    assert data_status(calendar, partners["jobcenter_05914"], shown_months(month, 24)) == []
    # a Jobcenter's K14 row counts the persons of the workshops in its Kreis: their files count too
    seat = calendar.execute(
        "select kreisschluessel from marts.dim_workshops where werkstatt_nr = ?", [quiet]
    ).fetchone()[0]
    months = shown_months(f"{int(year) + 1}-12", 3)
    assert data_status(calendar, partners[f"jobcenter_{seat}"], months) == later
    assert data_status(calendar, partners["jobcenter_05513"], months) == []
    lvr = partners[nr[:3].lower()]
    pages = partner_report(lvr, year, partner_sheets(decide(calendar), lvr, year), month, [line])
    assert line in pages.html.decode("utf-8")
    lwl = demo_home["root"] / "outbox" / "lwl" / "2024" / "latest" / "bericht.html"
    assert "Datenstand" in (page := lwl.read_text("utf-8")) and "kamen fristgerecht" in page
    lvr_page = (
        demo_home["root"] / "outbox" / lvr.id / str(int(year) + 1) / "latest" / "bericht.html"
    ).read_text()
    assert later[0] in lvr_page, "the LVR's 2024 report names the overdue files of its new workshop"
    assert line in lvr_page, "and the December before, on which its K02 and K03 rest"


def test_k10_and_k14_say_whose_transitions_are_overdue(calendar, silent, demo):
    """The silent workshop's transitions are missing from its Landschaftsverband's K10 and from K14,
    whose rows counted them (a partners' review: both looked complete while K02 said "1 von 6
    Zeilen ohne Wert"); K14's persons in AB at its seat are missing, as for a missing December."""
    from publish.labels import reason

    quiet, recognised = silent
    year = int(recognised[:4])
    months = ", ".join(f"{year}-{m:02d}" for m in range(int(recognised[5:]), 13))
    note = f"the uebergaenge files of {quiet} for {months} are overdue: its transitions are missing"
    lv, seat = calendar.execute(
        "select landschaftsverband, kreisschluessel from marts.dim_workshops where werkstatt_nr = ?", [quiet]
    ).fetchone()
    k10 = dict(
        calendar.execute(
            "select year, note from kpi.k10_uebergang_dann_arbeitslos where landschaftsverband = ?", [lv]
        ).fetchall()
    )
    assert note in k10[year].split("; ") and not any(note in (k10[y] or "") for y in k10 if y != year)
    ab, missing, noted = calendar.execute(
        "select ab_persons, missing_reason, note from kpi.k14_regionaluebersicht where kreisschluessel = ? "
        "and year = ?",
        [seat, year],
    ).fetchone()
    assert ab is None and quiet in missing and note in noted.split("; ")
    total = calendar.execute(
        "select note from kpi.k10_uebergang_dann_arbeitslos_totals where year = ?", [year]
    ).fetchone()[0]
    assert f"1 of 2 parts: {note}" in total.split("; ")
    # kpis.md: missing, not zero: the silent workshop's transitions are unknown, so is the rate
    value, missing = calendar.execute(
        "select value, missing_reason from kpi.k10_uebergang_dann_arbeitslos where landschaftsverband = ? "
        "and year = ?",
        [lv, year],
    ).fetchone()
    workshops = calendar.execute(
        "select kreisschluessel from marts.dim_workshops where is_current and landschaftsverband = ? "
        "and year(recognised_since) <= ?",
        [lv, year],
    ).fetchall()
    assert value is None and missing == f"1 of {len(workshops)} workshops sent no uebergaenge file for {year}"
    # only customers of delivering Jobcenters can count: the workshops in Kreise of silent ones are named
    delivering = {name.split("_")[1] for name in os.listdir(demo) if name.startswith("jc_")}
    outside = sum(kreis not in delivering for (kreis,) in workshops)
    assert 0 < outside < len(workshops), "the demo has workshops on both sides"
    assert (
        f"{outside} of {len(workshops)} workshops lie in a Kreis whose Jobcenter sent no data: only customers "
        "of delivering Jobcenters count" in k10[year].split("; ")
    )
    assert (
        f"die Übergangsmeldungen von {quiet} für {months} sind überfällig: ihre Übergänge fehlen"
        in reason("k10", k10[year])
    )


def test_k02_k03_and_k04_note_a_year_whose_transitions_files_are_partly_overdue(demo_home, tmp_path):
    """A workshop that sent its Übergänge for every month but one still has K02, K03 and K04 for
    the year (transitions count by their Datum, whatever file carried them), but the figures lack
    what that file alone held: a partners' review found them beside K10's and K14's notes with no
    word. K12's computed transitions say it too. The month's file is taken back here as a
    rejection leaves it."""
    from publish.labels import reason
    from tests.dbt_cli import dbt_build

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        nr, month, delivery, lv = con.execute(
            """select files.sender, files.period, files.delivery_id, w.landschaftsverband
               from ops.delivery_log as files join marts.dim_workshops as w on w.werkstatt_nr = files.sender
               where files.part = 'uebergaenge' and files.status = 'loaded' and files.rows_in > 0
                 and files.period like '%-06' and w.is_current
                 and exists (select 1 from kpi.k02_uebergangsquote as k02 where k02.werkstatt_nr = files.sender
                             and k02.year = cast(left(files.period, 4) as integer) and k02.value is not null)
               order by files.period desc, files.sender limit 1"""
        ).fetchone()
        year = int(month[:4])
        before = con.execute(
            "select numerator from kpi.k02_uebergangsquote where werkstatt_nr = ? and year = ?", [nr, year]
        ).fetchone()[0]
        con.execute("update ops.delivery_log set status = 'rejected' where delivery_id = ?", [delivery])
        con.execute("delete from landing.wfbm_uebergaenge where delivery_id = ?", [delivery])
        workshops = con.execute(
            "select count(*) from kpi.k02_uebergangsquote where landschaftsverband = ? and year = ?",
            [lv, year],
        ).fetchone()[0]
    dbt_build(
        warehouse,
        "--select",
        "stg_ops__deliveries+",
        "--full-refresh",
        "--exclude",
        "resource_type:test",
        "resource_type:seed",
        "resource_type:unit_test",
    )
    note = f"the uebergaenge file of {nr} for {month} is overdue: its transitions are missing"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = {
            kpi: con.execute(
                f"select numerator, value is not null, note from kpi.{table} where werkstatt_nr = ? and year = ?",
                [nr, year],
            ).fetchone()
            for kpi, table in (
                ("k02", "k02_uebergangsquote"),
                ("k03", "k03_uebergaenge_je_1000"),
                ("k04", "k04_rueckkehrquote"),
            )
        }
        k12 = dict(
            con.execute(
                "select measure, note from kpi.k12_abgleich_leistungsdokumentation where werkstatt_nr = ? "
                "and year = ?",
                [nr, year],
            ).fetchall()
        )
        others = con.execute(
            "select count(*) from kpi.k02_uebergangsquote where year = ? and note is not null and werkstatt_nr <> ?",
            [year, nr],
        ).fetchone()[0]
        totals = dict(
            con.execute(
                "select region, note from kpi.k02_uebergangsquote_totals where year = ?", [year]
            ).fetchall()
        )
    numerator, has_value, noted = rows["k02"]
    assert has_value and numerator <= before and noted == note, rows
    assert rows["k03"][1:] == (True, note) and rows["k04"][2] == note, rows
    assert others == 0, "only the workshop with the overdue file"
    # the Landschaftsverband's comparison: a difference in transitions may be that month
    assert k12 == {"ab": None, "biap": None, "transitions": note, "bfa": note}, k12
    assert f"1 of {workshops} parts: {note}" in totals[lv].split("; "), totals
    assert (
        reason("k02", note)
        == f"die Übergangsmeldung von {nr} für 06/{year} ist überfällig: ihre Übergänge fehlen"
    )


def test_a_jobcenter_month_whose_kunden_file_is_overdue_is_missing_not_left_out(demo_home, tmp_path):
    """K06 had no row for a month whose kunden file never came: a Jobcenter's table skipped it
    without a word, and the Landschaftsverband and NRW totals of that month summed one Jobcenter
    fewer as if complete. The month is now missing in K06 and K07 with the overdue file, and the
    totals say they lack a part; K10 of the month's year notes that its unemployed customers are
    not seen. (No simulated Jobcenter misses a month: the file is taken back here, as a rejected
    delivery leaves it.)"""
    from publish.labels import reason
    from tests.dbt_cli import dbt_build

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        jobcenter, month = con.execute(
            """select sender, period from ops.delivery_log where part = 'kunden' and status = 'loaded'
               and period < (select max(period) from ops.delivery_log where part = 'kunden')
                 and sender in (  -- a Jobcenter whose Landschaftsverband's total has another part
                     select kreisschluessel from marts.dim_regions where landschaftsverband in (
                         select r.landschaftsverband from marts.dim_regions r join marts.dim_jobcenters j
                             on j.jobcenter = r.kreisschluessel group by 1 having count(*) > 1))
               order by period desc, sender limit 1"""
        ).fetchone()
        con.execute(
            "update ops.delivery_log set status = 'rejected' where part = 'kunden' and sender = ? and period = ?",
            [jobcenter, month],
        )
        received = con.execute(
            "select max(cast(received_at as date)) from ops.delivery_log where part = 'kunden' and sender = ? "
            "and period = ?",
            [jobcenter, month],
        ).fetchone()[0]
        lv = con.execute(
            "select landschaftsverband from marts.dim_regions where kreisschluessel = ?", [jobcenter]
        ).fetchone()[0]
    dbt_build(
        warehouse,
        "--select",
        "stg_ops__deliveries+",
        "--exclude",
        "resource_type:test",
        "resource_type:seed",
        "resource_type:unit_test",
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        k06 = con.execute(
            "select sb, gl, any_target, missing_reason from kpi.k06_zielgruppenbestand where jobcenter = ? "
            "and month = ?",
            [jobcenter, month],
        ).fetchall()
        k07 = con.execute(
            "select value, missing_reason from kpi.k07_integrationsquote_sb where jobcenter = ? and month = ?",
            [jobcenter, month],
        ).fetchall()
        k10 = con.execute(
            "select landschaftsverband, year, note from kpi.k10_uebergang_dann_arbeitslos"
        ).fetchall()
        # the years with a transition whose 365 days after reach the month's Stichtag
        reaching = {
            (landschaftsverband, y)
            for landschaftsverband, y in con.execute(
                """select distinct landschaftsverband, transition_year from marts.fct_transitions
                   where transition_date <= last_day(cast(? || '-01' as date))
                     and transition_date + 365 >= last_day(cast(? || '-01' as date))""",
                [month, month],
            ).fetchall()
        }
        totals = dict(
            con.execute(
                "select region, note from kpi.k06_zielgruppenbestand_totals where month = ? and level <> ?",
                [month, "vergleichsgruppe"],
            ).fetchall()
        )
        parts_of = dict(
            con.execute(
                """select r.landschaftsverband, count(*) from marts.dim_jobcenters j
                   join marts.dim_regions r on j.jobcenter = r.kreisschluessel group by 1"""
            ).fetchall()
        )
        parts_of["NRW"] = sum(parts_of.values())
        jobcenters_of = dict(
            con.execute("select landschaftsverband, count(*) from marts.dim_regions group by 1").fetchall()
        )
        jobcenters_of["NRW"] = sum(jobcenters_of.values())
    year, number = month.split("-")
    due = f"{int(year) + int(number) // 12}-{int(number) % 12 + 1:02d}-15"
    expected = f"no kunden file for {month}: overdue since {due} (a file of {received} was rejected)"
    assert k06 == [(None, None, None, expected)]
    assert k07 == [(None, expected)]
    assert reason("k06", expected) == (
        f"keine Kundendatei für {number}/{year}: seit dem 15.{due[5:7]}.{due[:4]} überfällig "
        f"(eine Datei vom {received:%d.%m.%Y} wurde abgelehnt: siehe Rückmeldung)"
    )
    # K10: a customer registered unemployed in that month is not seen after a transition of its year
    note = f"the kunden file of {jobcenter} for {month} is overdue: its unemployed customers may be missing"
    assert {(lv_, int(year)) for lv_ in ("LWL", "LVR")} <= reaching
    for landschaftsverband, k10_year, k10_note in k10:
        noted = note in (k10_note or "").split("; ")
        assert noted == ((landschaftsverband, k10_year) in reaching), (landschaftsverband, k10_year, k10_note)
    assert reason("k10", note) == (
        f"die Kundendatei von {jobcenter} für {number}/{year} ist überfällig: arbeitslose Kundinnen und Kunden "
        "daraus können fehlen"
    )
    for region in (lv, "NRW"):
        assert f"every count: 1 of {parts_of[region]} parts without a value" in totals[region].split("; "), (
            totals
        )
        # the Jobcenter of that month is not in the sum (it was counted as if it were)
        summed = f"{parts_of[region] - 1} of {jobcenters_of[region]} Jobcenters in the sum"
        assert summed in totals[region], totals


def test_a_month_whose_integrationen_file_is_overdue_has_unknown_integrations_not_none(demo_home, tmp_path):
    """A KPI audit found K07 counting a month whose kunden file came and whose integrationen file
    never did as a month without integrations (`coalesce(..., 0)`), and K08, K09, K13 and K14 too:
    every figure looking at that month was too low and said nothing. The file is taken back here as
    a rejection leaves it. Now K07 is missing for each month whose window t-11 ... t holds it, K08
    and K09 where an entrant's or a spell's window touches it, K14's integration months of the year
    are missing, and K13 notes that employers may be missing; each names the file. Every other
    figure stays as it was."""
    from publish.labels import reason
    from tests.dbt_cli import dbt_build

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)

    def k07(con) -> dict:
        return {
            month: (value, why)
            for month, value, why in con.execute(
                "select month, value, missing_reason from kpi.k07_integrationsquote_sb where jobcenter = ?",
                [jobcenter],
            ).fetchall()
        }

    def yearly(con, table: str) -> dict:
        return {
            year: (numerator, denominator, value, why)
            for year, numerator, denominator, value, why in con.execute(
                f"select year, numerator, denominator, value, missing_reason from kpi.{table} where jobcenter = ?",
                [jobcenter],
            ).fetchall()
        }

    with duckdb.connect(str(warehouse)) as con:
        # the middle month of a Jobcenter's K07 values: its window ends in months with and without values
        jobcenter, month = con.execute(
            """with valued as (select jobcenter, month from kpi.k07_integrationsquote_sb where value is not null)
               select jobcenter, list_sort(list(month))[count(*) // 2 + 1] from valued
               group by jobcenter order by jobcenter limit 1"""
        ).fetchone()
        year = int(month[:4])
        before = {
            "k07": k07(con),
            **{
                t: yearly(con, t)
                for t in ("k08_werkakademie_integrationsquote", "k09_uebernahmequote_praktikum")
            },
        }
        k14_others = (
            "select year, sb_gl_integration_months from kpi.k14_regionaluebersicht where kreisschluessel = ? "
            "and year <> ? order by year"
        )
        k14_others_before = con.execute(k14_others, [jobcenter, int(month[:4])]).fetchall()
        k13_before = con.execute(
            "select year, employers, note from kpi.k13_arbeitgeber_engagement where kreisschluessel = ?",
            [jobcenter],
        ).fetchall()
        # the windows that touch the month: a Werkakademie entrant's 183 days, a MAG spell's 92 (kpis.md)
        first, last = con.execute(
            "select cast(? || '-01' as date), last_day(cast(? || '-01' as date))", [month, month]
        ).fetchone()
        touched = {
            "k08_werkakademie_integrationsquote": {
                y
                for (y,) in con.execute(
                    """select distinct year(entry) from (
                           select min(start_date) as entry from marts.fct_measure_spells
                           where jobcenter = ? and measure = 'werkakademie' group by kunde_key, year(start_date))
                       where entry <= ? and entry + 183 >= ?""",
                    [jobcenter, last, first],
                ).fetchall()
            },
            "k09_uebernahmequote_praktikum": {
                y
                for (y,) in con.execute(
                    """select distinct year(end_date) from marts.fct_measure_spells
                       where jobcenter = ? and measure = 'employer_measure' and end_date <= ? and end_date + 92 >= ?""",
                    [jobcenter, last, first],
                ).fetchall()
            },
        }
        # as a rejection leaves it: not loaded, and its rows not in the landing table
        con.execute(
            "delete from landing.jc_integrationen where delivery_id in (select delivery_id from ops.delivery_log "
            "where part = 'integrationen' and sender = ? and period = ?)",
            [jobcenter, month],
        )
        con.execute(
            "update ops.delivery_log set status = 'rejected' where part = 'integrationen' and sender = ? "
            "and period = ?",
            [jobcenter, month],
        )
    dbt_build(
        warehouse,
        "--select",
        "stg_ops__deliveries+",
        "stg_jc__integrations+",
        "--exclude",
        "resource_type:test",
        "resource_type:seed",
        "resource_type:unit_test",
    )
    said = f"the integrationen file of {jobcenter} for {month} is overdue"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = {"k07": k07(con), **{t: yearly(con, t) for t in touched}}
        k14 = con.execute(
            "select sb_gl_integration_months, missing_reason from kpi.k14_regionaluebersicht where kreisschluessel = ? "
            "and year = ?",
            [jobcenter, year],
        ).fetchall()
        k14_other_years = con.execute(k14_others, [jobcenter, year]).fetchall()
        k13_after = con.execute(
            "select year, employers, note from kpi.k13_arbeitgeber_engagement where kreisschluessel = ?",
            [jobcenter],
        ).fetchall()

    index = lambda m: int(m[:4]) * 12 + int(m[5:])  # noqa: E731
    window = [m for m in before["k07"] if 0 <= index(m) - index(month) <= 11]
    assert any(before["k07"][m][0] is not None for m in window)
    for m, (value, why) in after["k07"].items():
        if m in window and before["k07"][m][0] is not None:
            assert (value, why) == (None, f"needs the integrationen files of t-11 ... t: {said}"), m
        else:
            assert (value, why) == before["k07"][m], m
    assert reason("k07", after["k07"][month][1]) == (
        f"braucht die Integrationsdateien von 12 Monaten: die Integrationsdatei von {jobcenter} für "
        f"{month[5:]}/{month[:4]} ist überfällig"
    )
    # K08 and K09: missing (numerator and value, not the entrants or spells) only where a window touches it
    assert touched["k08_werkakademie_integrationsquote"], "the demo's Werkakademie entrants reach the month"
    for table, years in touched.items():
        for y, (numerator, denominator, value, why) in after[table].items():
            if y in years and before[table][y][1]:
                assert (numerator, denominator, value) == (None, before[table][y][1], None), (table, y)
                assert why == f"{said}: its integrations are missing", (table, y)
            else:
                assert (numerator, denominator, value, why) == before[table][y], (table, y)
    assert reason("k08", f"{said}: its integrations are missing") == (
        f"die Integrationsdatei von {jobcenter} für {month[5:]}/{month[:4]} ist überfällig: ihre Integrationen fehlen"
    )
    # K14: the year's integration months are missing, with the file; the other years have theirs
    [(integration_months, why)] = k14
    assert integration_months is None and f"{said}: its integrations are missing" in why.split("; "), why
    assert k14_other_years == k14_others_before
    # K13 counts the employers it has and says which file may hold more
    # K13 counts the employers it still has (the month's integrations are gone) and says which file may hold more
    counted_before = {y: n for y, n, _ in k13_before}
    for y, n, _ in k13_after:
        assert n == counted_before[y] if y != year else n <= counted_before[y], (y, n, counted_before)
    note = f"{said}: its employers may be missing"
    for y, _, text in k13_after:
        assert (note in (text or "").split("; ")) == (y == year), (y, text)
    assert reason("k13", note) == (
        f"die Integrationsdatei von {jobcenter} für {month[5:]}/{month[:4]} ist überfällig: Arbeitgeber "
        "daraus können fehlen"
    )


def test_a_workshop_whose_december_placements_were_rejected_has_no_biap_figures(demo_home, tmp_path):
    """Persons on BiAp come from the month's Außenarbeitsplätze: where that file was rejected (or
    never came) they are missing, not 0. A partners' review found a workshop's K01 published as
    0 % and ranked last, every other workshop's rank one off, and K12 reporting "weicht ab" against
    the Landschaftsverband's figure. The file is taken back here as a rejection leaves it: its rows
    are not in the landing table and its delivery is not loaded. The report's data status and the
    reasons say that a file came and was rejected: "overdue" alone read as if nothing was sent."""
    from publish.expected import data_status
    from publish.labels import reason
    from publish.partners import load_partners
    from tests.dbt_cli import dbt_build

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        nr, month, delivery = con.execute(
            """select sender, period, delivery_id from ops.delivery_log as files
               where part = 'aussenarbeitsplaetze' and status = 'loaded' and period like '%-12'
                 and rows_in > 0
                 and exists (select 1 from kpi.k01_biap_quote as k01 where k01.werkstatt_nr = files.sender
                             and k01.year = cast(left(files.period, 4) as integer) and k01.numerator > 0)
               order by period desc, sender limit 1"""
        ).fetchone()
        year = int(month[:4])
        received = con.execute(
            "select cast(received_at as date) from ops.delivery_log where delivery_id = ?", [delivery]
        ).fetchone()[0]
        ranked = con.execute(
            "select count(*) from kpi.k01_biap_quote where year = ? and rank is not null", [year]
        ).fetchone()[0]
        con.execute("update ops.delivery_log set status = 'rejected' where delivery_id = ?", [delivery])
        con.execute("delete from landing.wfbm_aussenarbeitsplaetze where delivery_id = ?", [delivery])
    dbt_build(
        warehouse,
        "--select",
        "stg_ops__deliveries+",
        "--full-refresh",  # the incremental models as a run without that file would have built them
        "--exclude",
        "resource_type:test",
        "resource_type:seed",
        "resource_type:unit_test",
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        k01 = con.execute(
            "select numerator, denominator > 0, value, rank, missing_reason from kpi.k01_biap_quote "
            "where werkstatt_nr = ? and year = ?",
            [nr, year],
        ).fetchone()
        still_ranked = con.execute(
            "select count(*) from kpi.k01_biap_quote where year = ? and rank is not null", [year]
        ).fetchone()[0]
        k12 = con.execute(
            "select computed, status, missing_reason from kpi.k12_abgleich_leistungsdokumentation "
            "where werkstatt_nr = ? and year = ? and measure = 'biap'",
            [nr, year],
        ).fetchone()
        k14 = con.execute(
            """select k14.biap_persons, k14.ab_persons is not null, k14.missing_reason
               from kpi.k14_regionaluebersicht as k14
               where k14.year = ? and k14.kreisschluessel in (
                   select residence_kreisschluessel from intermediate.int_work_area_persons
                   where werkstatt_nr = ? and month = ?)""",
            [year, nr, month],
        ).fetchall()
    expected = (
        f"no aussenarbeitsplaetze file for December {year}: the aussenarbeitsplaetze file of {nr} for {month} "
        f"is overdue since {year + 1}-01-15 (a file of {received} was rejected)"
    )
    assert k01 == (None, True, None, None, expected)
    assert still_ranked == ranked - 1, "the others are ranked among themselves"
    assert k12 == (None, "fehlt", expected)
    assert reason("k01", expected) == (
        f"keine Meldung der Außenarbeitsplätze für Dezember {year}: die Meldung von {nr} für 12/{year} ist seit "
        f"dem 15.01.{year + 1} überfällig (eine Datei vom {received:%d.%m.%Y} wurde abgelehnt: siehe Rückmeldung)"
    )
    partner = {p.id: p for p in load_partners(jobcenters=[])}[nr[:3].lower()]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        status = data_status(con, partner, [month, str(year)])
    said = f"für 12/{year}, fällig am 15.01.{year + 1}; eine Datei vom {received:%d.%m.%Y} wurde abgelehnt."
    assert any(
        line.startswith(f"Überfällig: Außenarbeitsplätze von {nr} ") and line.endswith(said)
        for line in status
    ), status
    assert k14, "its persons live somewhere"
    assert any(has_ab for _, has_ab, _ in k14), "persons in AB stand (unless a December snapshot is missing)"
    for biap, _, missing in k14:
        assert biap is None, "on BiAp they would lack the workshop's"
        said = f"no aussenarbeitsplaetze file of December {year} from {nr}, whose persons live here too"
        assert said in missing.split("; ")
