"""The Rückmeldung's configuration and notes (issue 17). senders.yaml: the shipped defaults give
every sender its folder and the name it is addressed by; an entry of one sender overrides its
template; a wrong entry is refused at load; the Rückmeldungen follow it. Plausibility: a transition
of a person no Personenmeldung names is pointed out by file and row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil

import duckdb
import pytest
import yaml

from publish.feedback import feedbacks, html, send_feedback
from publish.senders import SenderConfigError, load_senders


def test_every_kind_of_sender_gets_its_folder_and_name():
    senders = load_senders()
    lwl = senders.sender("LWL", "landschaftsverband")
    assert (lwl.folder, lwl.name) == ("lwl", "LWL-Inklusionsamt Arbeit")
    workshop = senders.sender("LWL-0101", "werkstatt", {"workshop_name": "Emscher-Werkstatt"})
    assert (workshop.folder, workshop.name) == ("werkstatt_LWL-0101", "Emscher-Werkstatt (LWL-0101)")
    held = senders.sender("LWL-9105", "werkstatt")  # not in a register yet: no name known
    assert (held.folder, held.name) == ("werkstatt_LWL-9105", "Werkstatt (LWL-9105)")
    hagen = senders.sender("05914", "jobcenter", {"kreis_name": "Hagen"})
    assert (hagen.folder, hagen.name) == ("jobcenter_05914", "Jobcenter Hagen")
    assert senders.sender("../../etc", "werkstatt") is None, "an id that is no folder name gets no folder"
    assert senders.sender("XYZ", "landschaftsverband") is None, "no entry, no template: no Rückmeldung"


def _directory(tmp_path, entries):
    path = tmp_path / "senders.yaml"
    path.write_text(yaml.safe_dump({"senders": entries}, allow_unicode=True))
    return load_senders(path)


TEMPLATE = {"template": "each_workshop", "name": "{workshop_name}", "folder": "werkstatt_{werkstatt_nr}"}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{**TEMPLATE, "contact": "x"}], "unknown field(s) contact"),
        ([{**TEMPLATE, "folder": "w_{workshop_name}"}], "folder uses {workshop_name}"),
        ([{**TEMPLATE, "name": "{kreis_name}"}], "name uses {kreis_name}"),
        ([{"template": "each_person", "name": "x", "folder": "x"}], "unknown template 'each_person'"),
        ([{"id": "LWL", "name": "LWL", "folder": "../lwl"}], "is not one plain folder name"),
        ([{"id": "LWL-0101", "feedback": "no"}], "feedback 'no' is not true or false"),
        (
            [{"id": "LWL", "name": "a", "folder": "a"}, {"id": "LWL", "name": "b", "folder": "b"}],
            "given twice",
        ),
        ([{"name": "x"}], "needs an id"),
        # every Jobcenter's Rückmeldung was silently not sent (an operator review)
        ([{**TEMPLATE, "folder": "werkstatt/{werkstatt_nr}"}], "not one plain folder name"),
    ],
)
def test_a_wrong_entry_is_refused_with_a_clear_message(tmp_path, entries, message):
    with pytest.raises(SenderConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _directory(tmp_path, entries)


def test_the_rueckmeldungen_follow_senders_yaml(demo_home, tmp_path):
    """One workshop asked for no Rückmeldung, the LWL's go to another folder, the others as their
    templates say, each addressed by its name."""
    root = tmp_path / "home"
    root.mkdir()
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", root / "warehouse.duckdb")
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        run_id, quiet = con.execute(
            """select log.run_id, log.sender from ops.delivery_log as log
               join marts.dim_workshops as w on w.werkstatt_nr = log.sender
               where log.status = 'loaded' order by log.delivery_id limit 1"""
        ).fetchone()
        directory = _directory(
            tmp_path,
            [
                {"id": "LWL", "name": "LWL-Inklusionsamt Arbeit", "folder": "lwl_eingang"},
                {
                    "template": "each_workshop",
                    "name": "Werkstatt {workshop_name}",
                    "folder": "w_{werkstatt_nr}",
                },
                {"id": quiet, "feedback": False},
            ],
        )
        con.execute("delete from ops.feedback_log")  # the pipeline's run logged its own
        outcomes = send_feedback(con, root / "outbox", run_id, directory)
        names = dict(con.execute("select werkstatt_nr, workshop_name from marts.dim_workshops").fetchall())
        logged = con.execute(
            "select sender, period, status, version is not null from ops.feedback_log"
        ).fetchall()
    # the log holds each outcome once, with the version a delivered Rückmeldung got
    assert sorted(logged) == sorted((*outcome, outcome[2] == "delivered") for outcome in outcomes)
    status = {(sender, period): s for sender, period, s in outcomes}
    assert {s for (sender, _), s in status.items() if sender == quiet} == {"not_sent"}
    assert not any((root / "outbox").glob(f"*{quiet}*")), "no folder for a sender without Rückmeldung"
    assert {s for (sender, _), s in status.items() if sender.startswith("LVR-") and sender != quiet} == {
        "delivered"
    }
    assert {s for (sender, _), s in status.items() if len(sender) == 5} == {"not_sent"}, (
        "no Jobcenter template"
    )
    lwl = [period for (sender, period) in status if sender == "LWL"]
    assert lwl and all(
        (root / "outbox" / "lwl_eingang" / "rueckmeldung" / p / "latest").is_dir() for p in lwl
    )
    other = next(s for s in status if s[0].startswith("LVR-") and s[0] != quiet)
    page = root / "outbox" / f"w_{other[0]}" / "rueckmeldung" / other[1] / "latest" / "rueckmeldung.html"
    assert f"<h1>Rückmeldung an Werkstatt {names[other[0]]} für" in page.read_text("utf-8")


def test_a_transition_of_an_unknown_person_is_pointed_out_by_file_and_row(demo_home, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        sender, period, row, file_name = con.execute(
            """select u.sender, u.period, u.source_row, log.file_name from landing.wfbm_uebergaenge as u
               join ops.delivery_log as log using (delivery_id) order by u.period desc, u.sender limit 1"""
        ).fetchone()
        clean = feedbacks(con, [(sender, period)])[0]
        assert not any("keiner Personenmeldung" in note for note in clean.notes)
        con.execute(
            "update landing.wfbm_uebergaenge set person_local_key = 'a number no register knows' "
            "where sender = ? and period = ? and source_row = ?",
            [sender, period, row],
        )
        mistyped = feedbacks(con, [(sender, period)])[0]
    [note] = [note for note in mistyped.notes if "keiner Personenmeldung" in note]
    assert note.startswith("Ein Übergang einer Person") and f"{file_name} Zeile {row}." in note
    assert "a number no register knows" not in note


def test_a_value_written_as_a_formula_stays_text_in_the_rueckmeldung(demo, demo_home, tmp_path):
    """A Jobcenter's file may hold a formula where a code belongs. The Rückmeldung shows an unknown
    code as sent where it is shaped like one (``=A1`` where the codes are WAK, MAG, AGH, FBW and
    REHA; a longer one, ``=HYPERLINK(...)``, is not shown at all), and Excel would run it as a
    formula when the sender opens the CSV."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    name = "jc_05112_202301_massnahmen.csv"
    lines = (demo / name).read_text("utf-8-sig").splitlines()
    fields = lines[1].split(";")
    fields[1] = "=A1"  # massnahme
    lines[1] = ";".join(fields)
    (inbox / name).write_text("\ufeff" + "\n".join(lines) + "\n", "utf-8")
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="formula")
        [item] = feedbacks(con, [("05112", "2023-01")])
    rows = list(csv.reader(item.csv().decode("utf-8-sig").splitlines(), delimiter=";"))
    [finding] = [row for row in rows[1:] if row[2] == "massnahme"]
    assert finding[1] == "2" and finding[6] == "'" + fields[1], finding
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # the workbook holds the value as sent, as text: no formula (its value would read 0), nothing to neutralise
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_filelike(io.BytesIO(item.xlsx())).get_sheet_by_index(0).to_python()
    assert sheet[0] == list(rows[0]) and len(sheet) == len(rows)
    [cells] = [row for row in sheet[1:] if row[2] == "massnahme"]
    assert cells[1] == 2 and cells[6] == fields[1], cells


def test_a_file_wrong_in_every_row_is_summed_up_for_its_sender(demo, demo_home, tmp_path):
    """A Jobcenter's new export writes every date as TT.MM.JJJJ: two findings in each of 1,840 rows.
    The page sums them up by file, column and rule (how many, the first rows) and lists only the
    first FINDINGS_LISTED; the CSV lists the first ROWS_PER_RULE_IN_CSV of each file, column and
    rule and says how many more (eight files of 50,000 such rows held 8 GB as Python findings)."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey
    from publish.feedback import FINDINGS_LISTED, ROWS_NAMED, ROWS_PER_RULE_IN_CSV, html

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    name = "jc_05112_202312_kunden.csv"
    header, *lines = (demo / name).read_text("utf-8-sig").splitlines()
    german = [re.sub(r"(\d{4})-(\d{2})-(\d{2})", r"\3.\2.\1", line) for line in lines]
    (inbox / name).write_text("\ufeff" + "\n".join([header, *german]) + "\n", "utf-8")
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="german dates")
        [item] = feedbacks(con, [("05112", "2023-12")])
    assert len(lines) > ROWS_PER_RULE_IN_CSV
    births = [f for f in item.findings if f["file_name"] == name and f["column_name"] == "geburtsdatum"]
    assert [f["source_row"] for f in births] == list(range(2, 2 + ROWS_PER_RULE_IN_CSV))
    [counted] = [s for s in item.summary if s["file_name"] == name and s["column_name"] == "geburtsdatum"]
    assert counted["count"] == len(lines) and item.found > FINDINGS_LISTED
    page = html(item, "Jobcenter Duisburg").decode("utf-8")
    first = ", ".join(str(row) for row in range(2, 2 + ROWS_NAMED))
    count = f"{len(lines):,}".replace(",", ".")
    assert re.search(
        rf"<th scope=\"row\">{name}</th><td>geburtsdatum</td>.*?<td class=\"num\">{count}</td><td>{first} …</td>",
        page,
        re.S,
    ), "the summed-up line of the birth dates"
    assert page.count('<th scope="row">') == FINDINGS_LISTED + len(
        {(f["file_name"], f["column_name"], f["rule"]) for f in item.findings}
    ) + len(item.files)
    rest = f"{item.found - FINDINGS_LISTED:,}".replace(",", ".")
    assert f"die übrigen {rest} in" in page
    rows = list(csv.reader(item.csv().decode("utf-8-sig").splitlines(), delimiter=";"))
    more = [row for row in rows if row[0] == name and row[1] == "" and row[2] == "geburtsdatum"]
    more_rows = f"{len(lines) - ROWS_PER_RULE_IN_CSV:,}".replace(",", ".")
    assert len(more) == 1 and f"in {more_rows} weiteren Zeilen" in more[0][5], more
    # the rule in words a clerk reads (it showed the code, date_format: a senders' review), the code last
    assert rows[0][4] == "Regel" and rows[0][-1] == "Regelcode"
    dates = {(row[4], row[7]) for row in rows[1:] if row[2] == "geburtsdatum"}
    assert dates == {("Datumsformat", "date_format")}, dates
    assert '<td title="date_format">Datumsformat</td>' in page and ">date_format<" not in page
    # a birth date is not shown, and the sender reads that it is not (an empty cell read as an empty field)
    assert {row[6] for row in rows[1:] if row[2] == "geburtsdatum" and row[1]} == {"(nicht angezeigt)"}
    assert "<td>(nicht angezeigt)</td>" in page and "„(nicht angezeigt)“ unter Wert" in page
    listed = sum(min(line["count"], ROWS_PER_RULE_IN_CSV) for line in item.summary)
    capped = sum(line["count"] > ROWS_PER_RULE_IN_CSV for line in item.summary)
    assert len(rows) == 1 + listed + capped == 1 + len(item.findings) + capped


def test_a_partner_reads_which_files_its_figures_miss_rows_of(demo, demo_home, tmp_path):
    """Quarantined rows are missing from the figures until a corrected file comes: the report's
    data status names each such file in force (part, sender, period, how many rows of how many)."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey
    from publish.expected import ON_TIME, data_status
    from publish.step import partners_in_warehouse

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    name = "jc_05112_202412_kunden.csv"
    header, *lines = (demo / name).read_text("utf-8-sig").splitlines()
    wrong = [re.sub(r";[MW];", ";X;", line, count=1) if i < 2 else line for i, line in enumerate(lines)]
    (inbox / name).write_text("\ufeff" + "\n".join([header, *wrong]) + "\n", "utf-8")
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        partners = {p.id: p for p in partners_in_warehouse(con)}
        months = ["2024-11", "2024-12"]
        before = data_status(con, partners["jobcenter_05112"], months)
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="two wrong rows")
        after = data_status(con, partners["jobcenter_05112"], months)
        elsewhere = data_status(con, partners["jobcenter_05914"], months)
    line = "Unvollständig: Kunden von 05112 für 12/2024: fehlerhafte Zeilen zurückgestellt"
    assert not any(line in text for text in before)
    assert any(text.startswith(line) for text in after), after
    assert not any(re.search(r"\d+ von [\d.]+ Zeilen", text) for text in after), (
        "no counts of rows: small cells"
    )
    assert (after[0] == ON_TIME) == (before == []), "punctuality is still stated"
    assert not any("05112" in text for text in elsewhere), "another Jobcenter's report does not name it"


def test_a_period_the_calendar_does_not_hold_is_not_called_complete(demo, demo_home, tmp_path):
    """A file for a month that has not begun is rejected; its Rückmeldung must not tell the sender
    that all parts expected for that month have arrived (the calendar expects nothing then) but
    that the calendar does not hold the month, and to check the period in the file name. A month
    the calendar holds, with every part in, still says so."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey
    from publish.feedback import html

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(demo / "jc_05112_202312_kunden.csv", inbox / "jc_05112_209912_kunden.csv")
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="a future month")
        complete = con.execute(
            """select period from ops.expected_deliveries where sender = '05112' group by period
               having bool_and(status in ('on_time', 'late')) order by period desc limit 1"""
        ).fetchone()[0]
        future, received = feedbacks(con, [("05112", "2099-12"), ("05112", complete)])
        unrecognised, period = con.execute(  # a workshop of the demo recognised only later
            "select sender, min(period) from ops.expected_deliveries where status = 'not_expected' "
            "and sender_kind = 'werkstatt' group by sender order by sender limit 1"
        ).fetchone()
        [before] = feedbacks(con, [(unrecognised, period)])
    assert [f["status"] for f in future.files] == ["rejected"]
    page = html(future, "Jobcenter Duisburg").decode("utf-8")
    assert "alle erwarteten Teile sind eingegangen" not in page
    assert "Der Lieferkalender führt diesen Zeitraum nicht" in page and "Zeitraum im Dateinamen" in page
    assert "nicht als anerkannt im Werkstättenverzeichnis" in html(before, unrecognised).decode("utf-8")
    assert received.nothing_expected is None and not received.expected
    complete_page = html(received, "Jobcenter Duisburg").decode("utf-8")
    assert "Nichts: alle erwarteten Teile sind eingegangen." in complete_page


def _ingested_on_demo(demo_home, tmp_path, run_id: str) -> tuple[duckdb.DuckDBPyConnection, list[tuple]]:
    """``tmp_path/inbox`` ingested into a copy of the demo warehouse: the open connection and the
    run's delivery log (file, status, sender, period)."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    load.ingest(con, tmp_path / "inbox", tmp_path / "archive", key, run_id=run_id)
    logged = con.execute(
        "select file_name, status, sender, period from ops.delivery_log where run_id = ? order by 1", [run_id]
    ).fetchall()
    return con, logged


def test_a_file_named_otherwise_is_answered_to_the_sender_its_name_names(demo, demo_home, tmp_path):
    """A copy saved as "Kopie von … (1).csv" matches no agreed name and is rejected; its name still
    names the workshop and the month plainly, so that workshop hears why (and the name it meant).
    A name that names no sender clearly reaches no one but the operator."""
    from publish.feedback import senders_to_answer

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    original = sorted(
        p.name for p in demo.iterdir() if p.name.startswith("wfbm_") and "_uebergaenge" in p.name
    )[0]
    copy = f"Kopie von {original.removesuffix('.csv')} (1).csv"
    (inbox / copy).write_bytes((demo / original).read_bytes())
    (inbox / "Meldung Dezember.csv").write_bytes((demo / original).read_bytes())
    workshop, period = original.split("_")[1], original.split("_")[2]
    con, logged = _ingested_on_demo(demo_home, tmp_path, "misnamed")
    with con:
        assert logged == [
            (copy, "rejected", workshop, period),
            ("Meldung Dezember.csv", "rejected", None, None),
        ], logged
        assert senders_to_answer(con, ["misnamed"]) == [(workshop, period)]
        [item] = feedbacks(con, [(workshop, period)])
    [answered] = [f for f in item.files if f["file_name"] == copy]
    assert answered["status"] == "rejected" and f"gemeint ist wohl {original}" in answered["message"]
    assert item.sender_kind == "werkstatt"
    assert "None" not in html(item, workshop).decode("utf-8"), "a file of no known part has none shown"


def test_a_workbook_rejected_before_its_title_block_is_answered_to_the_sender_its_name_names(
    demo_home, tmp_path
):
    """A workbook says who sent it in its title block; one that cannot be opened (empty, or not a
    workbook) was rejected without a sender, so its workshop heard nothing, or was even reminded
    that nothing had come (a senders' review). Where its name names the workshop and month plainly,
    that workshop's Rückmeldung now lists it; a name that names neither reaches only the operator."""
    from publish.feedback import senders_to_answer

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    empty, damaged, anonymous = (
        "LWL-0101 Werkstattmeldung 2024_11.xlsx",
        "LWL-0102 Meldung 2024-10.xlsx",
        "Meldung Hagener Werkstätten.xlsx",
    )
    (inbox / empty).write_bytes(b"")
    (inbox / damaged).write_bytes(b"Werkstatt;Monat\r\nLWL-0102;2024-10\r\n")
    (inbox / anonymous).write_bytes(b"")
    con, logged = _ingested_on_demo(demo_home, tmp_path, "unopened")
    with con:
        assert logged == [
            (empty, "rejected", "LWL-0101", "2024-11"),
            (damaged, "rejected", "LWL-0102", "2024-10"),
            (anonymous, "rejected", None, ""),
        ], logged
        assert senders_to_answer(con, ["unopened"]) == [("LWL-0101", "2024-11"), ("LWL-0102", "2024-10")]
        [item] = feedbacks(con, [("LWL-0101", "2024-11")])
    [answered] = [f for f in item.files if f["file_name"] == empty]
    assert answered["status"] == "rejected" and "leere Datei" in answered["message"]
    assert "noch keine Datei eingegangen" not in html(item, "LWL-0101").decode("utf-8")


def test_a_workbooks_sender_reads_its_findings_in_its_workbooks_terms(demo, demo_home, tmp_path):
    """A workshop that sends the monthly workbook knows its sheets, headers and list texts, not the
    CSV export's columns and codes: its Rückmeldung names the sheet and header ("Bereich (Blatt
    Beschäftigte)") and the texts its list offers, where the warehouse keeps the CSV's names."""
    import io
    import zipfile

    from ingest import load
    from ingest.pseudonymise import PseudonymKey
    from publish.expected import data_status
    from publish.step import partners_in_warehouse

    name = sorted(p.name for p in demo.iterdir() if p.suffix == ".xlsx")[0]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    changed = io.BytesIO()
    with (
        zipfile.ZipFile(demo / name) as source,
        zipfile.ZipFile(changed, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/sharedStrings.xml":  # every "Arbeitsbereich" cell: a text the list lacks
                data = data.replace(b">Arbeitsbereich<", b">Werkstattbereich<")
            target.writestr(entry, data)
    (inbox / name).write_bytes(changed.getvalue())
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="workbook")
        sender, period = con.execute(
            "select sender, period from ops.delivery_log where run_id = 'workbook'"
        ).fetchone()
        kept = con.execute("select distinct column_name from ops.quarantine where rule = 'code'").fetchall()
        [item] = feedbacks(con, [(sender, period)])
        landschaftsverband = next(p for p in partners_in_warehouse(con) if p.id == sender[:3].lower())
        status = data_status(con, landschaftsverband, [period])
    assert kept == [("Bereich",)], "the warehouse keeps the CSV's column"
    # its Landschaftsverband's report says the figures miss those rows (they had been left out: a
    # workbook's log part is "workbook", which the calendar does not know)
    assert any(
        line.startswith(f"Unvollständig: Arbeitsmappe (alle Teile) von {sender} (") for line in status
    ), status
    coded = [f for f in item.findings if f["rule"] == "code"]
    assert coded and {f["column_name"] for f in coded} == {"Bereich (Blatt Beschäftigte)"}
    assert {f["message"] for f in coded} == {
        "unbekannter Eintrag, erlaubt: Eingangsverfahren, Berufsbildungsbereich, Arbeitsbereich"
    }
    # a text written like a word could be a name that slipped into the column: it is not shown
    assert {f["value"] for f in coded} == {None}


def test_a_rejected_file_sent_again_corrected_is_no_longer_a_finding(demo, demo_home, tmp_path):
    """A workshop whose month was rejected (a wrong separator) sends it again, corrected, under the
    same name. Its next Rückmeldung lists the rejected file as corrected, with why it was rejected,
    and no longer counts that rejection among the findings to act on (a senders' review: the
    corrected month still read "Befunde (1) … Datei abgelehnt")."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    name = sorted(p.name for p in demo.iterdir() if p.name.startswith("wfbm_") and "_uebergaenge" in p.name)[
        -1
    ]
    workshop, period = name.split("_")[1], name.split("_")[2]
    original = (demo / name).read_bytes()
    lines = original.split(b"\r\n")
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        for run, content in (
            ("broken", original.replace(b";", b",")),
            ("corrected", b"\r\n".join([*lines[:-2], lines[-1]]) if len(lines) > 3 else original + b"\r\n"),
        ):
            inbox = tmp_path / run
            inbox.mkdir()
            (inbox / name).write_bytes(content)
            load.ingest(con, inbox, tmp_path / "archive", key, run_id=run)
        statuses = dict(
            con.execute(
                "select run_id, status from ops.delivery_log where run_id in ('broken', 'corrected')"
            ).fetchall()
        )
        assert statuses == {"broken": "rejected", "corrected": "loaded"}, statuses
        [item] = feedbacks(con, [(workshop, period)])
    [rejected] = [f for f in item.files if f["file_name"] == name and f["message"]]
    assert rejected["status"] == "corrected"
    assert not [f for f in item.findings if f["file_name"] == name and f["level"] == "file"]
    from markupsafe import escape

    page = html(item, workshop).decode("utf-8")
    assert "Ihre spätere Lieferung hat die Datei ersetzt" in page and str(escape(rejected["message"])) in page


def test_a_file_held_under_a_mistyped_number_is_pointed_out_to_the_workshop_it_may_be_from(
    demo, demo_home, tmp_path
):
    """A workshop's Übergänge under a number one digit off (LWL-9101 for LWL-0101) were held for a
    register, the workshop was told "überfällig" without a word why, and the held file's answer went
    to a number nobody reads (a senders' review). The workshop that misses that part of that period
    now gets a Rückmeldung asking about it, and the operator's digest names it; a number two
    keystrokes off, or a part the workshop has sent, gives no such note. The file stays held."""
    from ingest import load
    from ingest.pseudonymise import PseudonymKey
    from publish.expected import digest
    from publish.feedback import senders_to_answer

    name = sorted(
        p.name for p in demo.iterdir() if p.name.startswith("wfbm_LWL-0101") and "_uebergaenge" in p.name
    )[-1]
    period = name.split("_")[2]
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        # as if LWL-0101 had never sent this month's Übergänge
        con.execute(
            "update ops.expected_deliveries set status = 'overdue', received_at = null "
            "where sender = 'LWL-0101' and period = ? and part = 'uebergaenge'",
            [period],
        )
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        for number in ("LWL-9101", "LWL-9901"):  # one keystroke off, two
            (inbox / name.replace("LWL-0101", number)).write_bytes((demo / name).read_bytes())
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="typo")
        assert (
            con.execute(
                "select count(*) from ops.delivery_log where run_id = 'typo' and status = 'held'"
            ).fetchone()[0]
            == 2
        )
        answered = senders_to_answer(con, ["typo"])
        assert ("LWL-0101", period) in answered
        [item] = feedbacks(con, [("LWL-0101", period)])
        [note] = [n for n in item.notes if "vertippten Nummer" in n]
        assert (
            "LWL-9101" in note and "LWL-9901" not in note and name.replace("LWL-0101", "LWL-9101") not in note
        )
        rows = list(csv.reader(item.csv().decode("utf-8-sig").splitlines(), delimiter=";"))
        assert ["", "", "", "Plausibilität", "", note, "", "plausibility"] in rows, "the CSV says it too"
        assert any(row[3] == "Noch erwartet" and row[7] == "expected" for row in rows), rows
        [other] = feedbacks(con, [("LWL-0102", period)])
        assert not [n for n in other.notes if "vertippten Nummer" in n]
        held = {row["sender"]: row["similar_workshops"] for row in digest(con).held}
        assert held == {"LWL-9101": "LWL-0101", "LWL-9901": ""}
        assert "a mistyped number? LWL-0101" in digest(con).text()
        con.execute(  # the workshop sends its file after all: nothing left to ask
            "update ops.expected_deliveries set status = 'late' where sender = 'LWL-0101' and period = ?",
            [period],
        )
        [item] = feedbacks(con, [("LWL-0101", period)])
        assert not [n for n in item.notes if "vertippten Nummer" in n]


def test_a_workbook_cell_that_holds_text_where_a_date_belongs_is_called_so():
    """A workbook's date cells hold dates: one holding the text "1974-07-21" was told "Datum nicht
    im Format TT.MM.JJJJ", a CSV's rule its sender cannot act on in Excel (a senders' review)."""
    from ingest.formats import in_workbook_terms

    column, message = in_workbook_terms(
        "wfbm_personen", "Eintritt", "date_format", "Datum nicht im Format TT.MM.JJJJ"
    )
    assert column == "Aufnahme (Blatt Beschäftigte)"
    assert message.startswith("kein Datum: die Zelle enthält Text") and "TT.MM.JJJJ" not in message
    assert in_workbook_terms("jc_kunden", "Eintritt", "date_format", "Datum nicht im Format TT.MM.JJJJ") == (
        "Eintritt",
        "Datum nicht im Format TT.MM.JJJJ",
    ), "a CSV's sender keeps the format it must write"


def test_a_rueckmeldung_left_without_latest_by_a_crash_is_completed(tmp_path):
    """A run killed between a version's rename and the switch of `latest` left five Rückmeldungen
    without `latest` and half-written folders beside them, and the next run found them unchanged
    and left them so (an operator's review): it switches `latest` and removes the leftovers."""
    import os

    from publish.feedback import Feedback, deliver_feedback
    from publish.senders import Sender

    item = Feedback(
        "LWL-0103", "werkstatt", "2023-03", files=[], findings=[], summary=[], expected=[], notes=[]
    )
    sender = Sender("LWL-0103", "werkstatt", "Werkstatt LWL-0103", "werkstatt_LWL-0103")
    folder = tmp_path / "werkstatt_LWL-0103" / "rueckmeldung" / "2023-03"
    assert deliver_feedback(item, sender, tmp_path) == ("delivered", "v0001")
    (folder / "latest").unlink()
    (folder / ".v0002.tmp-1a2b3c4d").mkdir()
    (folder / ".v0002.tmp-1a2b3c4d" / "rueckmeldung.csv").write_text("halb")
    assert deliver_feedback(item, sender, tmp_path) == ("completed", "v0001")
    assert os.readlink(folder / "latest") == "v0001"
    assert sorted(p.name for p in folder.iterdir()) == ["latest", "v0001"]
    assert deliver_feedback(item, sender, tmp_path) == ("unchanged", "v0001")


def test_a_rueckmeldung_tells_the_time_of_receipt_by_the_senders_clock():
    """The warehouse keeps UTC; a sender's clock is German time (a file uploaded at 14:30 read as
    received at 13:30, beside a Prüfbericht in local time)."""
    from publish.feedback import Feedback

    def received(at: dt.datetime) -> dict:
        return {"file_name": f"wfbm_LWL-0101_{at:%Y-%m}_personen.csv", "format": "wfbm_csv", "part": "personen",
                "status": "loaded", "received_at": at, "rows_in": 3, "rows_loaded": 3, "rows_quarantined": 0,
                "message": None}  # fmt: skip

    winter, summer = dt.datetime(2024, 1, 15, 23, 30), dt.datetime(2024, 7, 1, 10, 0)
    item = Feedback("LWL-0101", "werkstatt", "2024-01", [received(winter), received(summer)], [], [], [], [])
    page = html(item, "Werkstatt Beispiel").decode("utf-8")
    assert "<td>16.01.2024 00:30 Uhr</td>" in page and "<td>01.07.2024 12:00 Uhr</td>" in page, page
