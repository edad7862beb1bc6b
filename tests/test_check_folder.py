"""The inbox's check folder (pruefen/): a sender without the check program puts a file there and
gets a Prüfbericht back, in German, with row, column and rule and no identifier; the file is read
like a delivery, never loaded, never kept. Checked on a copy of the demo's data home."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil

import duckdb
import pytest

from ingest.inbox import CHECK_FOLDER, scan_inbox
from ingest.pseudonymise import PseudonymKey
from publish.check_reports import answer_checks
from publish.expected import digest
from teilhabe.settings import Limits

KEY = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")


def _faulty_snapshot(demo, target) -> tuple[str, list[list[str]]]:
    """A workshop's Personenmeldung of the demo with an impossible birth date in its second data
    row (file row 3) and an unknown Kreis in its third; its Werkstatt-Nr. and its rows."""
    source = sorted(p for p in demo.iterdir() if p.name.endswith("_personen.csv"))[0]
    rows = list(csv.reader(io.StringIO(source.read_bytes().decode("cp1252")), delimiter=";"))
    rows[2][rows[0].index("Geburtsdatum")] = "31.02.1980"
    rows[3][rows[0].index("Wohnort_Kreis")] = "05999"  # no Kreis of NRW
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    target.write_bytes(buffer.getvalue().encode("cp1252"))
    return source.name.split("_")[1], rows


@pytest.fixture
def home(demo_home, tmp_path) -> dict:
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    inbox = tmp_path / "inbox"
    (inbox / CHECK_FOLDER).mkdir(parents=True)
    return {"root": tmp_path, "inbox": inbox, "outbox": tmp_path / "outbox", "ops": tmp_path / "operations"}


def test_a_checked_file_gets_a_report_and_is_neither_loaded_nor_kept(home, demo):
    folder = home["inbox"] / CHECK_FOLDER
    nr, rows = _faulty_snapshot(demo, folder / "unsere_meldung.csv")
    name = f"wfbm_{nr}_2024-05_personen.csv"
    os.rename(folder / "unsere_meldung.csv", folder / name)
    (folder / "hallo.txt").write_bytes(b"nur ein Versuch\r\n")
    secret = home["root"] / "secret.csv"
    secret.write_bytes(b"not the sender's\r\n")
    (folder / "link.csv").symlink_to(secret)
    with duckdb.connect(str(home["root"] / "warehouse.duckdb")) as con:
        before = con.execute("select count(*) from ops.delivery_log").fetchone()[0]
        answered = answer_checks(con, home["inbox"], home["outbox"], home["ops"], Limits(), "test-run")
        after = con.execute("select count(*) from ops.delivery_log").fetchone()[0]
        logged = con.execute(
            "select file_name, sender, findings > 0 from ops.check_log order by 1"
        ).fetchall()
        told = digest(con).text()  # the operator's daily digest names the report to forward
    assert after == before, "a checked file is no delivery"
    assert sorted((file, sender) for file, sender, *_ in answered) == [("hallo.txt", None), (name, nr)]
    assert not any(compared for *_, compared in answered), "no key given, nothing compared"
    assert logged == [("hallo.txt", None, True), (name, nr, True)]
    # both files gone, the link left alone (never followed), its target untouched
    assert sorted(os.listdir(folder)) == ["link.csv"] and secret.read_bytes() == b"not the sender's\r\n"

    reports = list((home["outbox"] / f"werkstatt_{nr}" / "pruefung").iterdir())
    assert len(reports) == 1 and not reports[0].name.startswith(".")
    page = (reports[0] / "pruefbericht.html").read_text("utf-8")
    table = list(
        csv.reader(io.StringIO((reports[0] / "pruefbericht.csv").read_text("utf-8-sig")), delimiter=";")
    )
    assert "nicht geladen" in page and "Als Lieferung:" in page and f"Werkstatt {nr}, 05/2024" in page
    assert "verglichen" not in page, "without the warehouse's key nothing was compared"
    assert ["3", "Geburtsdatum"] in [line[:2] for line in table[1:]], table
    # the CSV begins with what the page says first: the verdict (every data row either loaded or
    # held back) and what the file was taken for
    assert table[1][2] == "Ergebnis" and table[1][4] in page, table
    loaded, held_back = (int(count.replace(".", "")) for count in re.fullmatch(
        r"Als Lieferung: ([0-9.]+) Zeilen würden geladen, ([0-9.]+) zurückgestellt\.", table[1][4]
    ).groups())  # fmt: skip
    assert loaded + held_back == len(rows) - 1 and held_back >= 2, table[1]
    assert table[2][2] == "Erkannt" and f"Werkstatt {nr}, 05/2024" in table[2][4], table
    # a value kept back because it might identify a person is said to be, not left as an empty cell
    [birth] = [line for line in table[1:] if line[1] == "Geburtsdatum" and line[-1] == "impossible_date"]
    assert birth[5] == "(nicht angezeigt)", birth
    said = " ".join(page.split())
    assert "<td>(nicht angezeigt)</td>" in said and "„(nicht angezeigt)“ unter Wert: der Wert könnte" in said
    # the workbook keeps the unknown Kreis as sent (Excel reads the CSV's 05999 as 5999)
    from python_calamine import CalamineWorkbook

    sheet = (
        CalamineWorkbook.from_path(str(reports[0] / "pruefbericht.xlsx")).get_sheet_by_index(0).to_python()
    )
    assert [4, "Wohnort_Kreis", "05999"] in [[row[0], row[1], row[5]] for row in sheet[1:]], sheet
    # no identifier of the file in the report: names, Personennummern, birth dates
    identifiers = {cell for row in rows[1:] for cell in (row[0], row[1], row[2], row[3]) if len(cell) > 3}
    for text in (page, "\n".join(";".join(line) for line in table)):
        leaked = {value for value in identifiers if value in text}
        assert not leaked, leaked
    # a file of no known sender: the operator's
    unknown = list((home["ops"] / "pruefung").iterdir())
    assert len(unknown) == 1 and "abgelehnt" in (unknown[0] / "pruefbericht.html").read_text("utf-8")
    # a file-level finding has no value to keep back: its cell stays empty
    operators = list(
        csv.reader(io.StringIO((unknown[0] / "pruefbericht.csv").read_text("utf-8-sig")), delimiter=";")
    )
    assert [line[5] for line in operators[1:] if line[-1] == "file_name"] == [""], operators
    assert (
        f"  hallo.txt, checked {dt.date.today():%Y-%m-%d}: reports/operations/pruefung/{unknown[0].name}"
        in told
    )
    assert name not in told, "a sender's own report is no business of the digest"


def test_the_check_folder_is_no_delivery_and_no_link_is_followed(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / CHECK_FOLDER).mkdir(parents=True)
    scan = scan_inbox(inbox)
    assert scan.files == [] and scan.ignored == [], "the check folder is not reported as a stray folder"

    # a link named pruefen (the inbox belongs to the senders) would have files elsewhere read and deleted
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "wfbm_LWL-0101_2024-05_personen.csv").write_bytes(b"Personennummer\r\n")
    other = tmp_path / "other_inbox"
    other.mkdir()
    (other / CHECK_FOLDER).symlink_to(elsewhere)
    with duckdb.connect() as con:
        assert answer_checks(con, other, tmp_path / "outbox", tmp_path / "ops", Limits(), "run") == []
    assert os.listdir(elsewhere) == ["wfbm_LWL-0101_2024-05_personen.csv"]


def test_the_pipeline_answers_the_check_folder_also_when_nothing_else_came(home, demo):
    """Through the real Dagster job: a run whose inbox holds only a file to check answers it."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import DataHomeResource
    from orchestration.pipeline import _result

    folder = home["inbox"] / CHECK_FOLDER
    nr, _ = _faulty_snapshot(demo, folder / "upload.csv")
    os.rename(folder / "upload.csv", folder / f"wfbm_{nr}_2024-05_personen.csv")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance,
            resources={"data_home": DataHomeResource(root=str(home["root"]), inbox_dir=str(home["inbox"]))},
        )
        checked = instance.get_latest_materialization_event(dg.AssetKey(["outbox", "pruefberichte"]))
    assert result.success
    assert checked.asset_materialization.metadata["files_checked"].value == 1
    # the pipeline's key reaches the check: the file is compared with its sender's deliveries
    assert checked.asset_materialization.metadata["compared_with_deliveries"].value == 1
    said = _result(result, ()).summary()  # what `teilhabe run` prints
    assert (
        "Prüfberichte: 1 file of inbox/pruefen/ checked, not loaded, and deleted; 1 to their senders' outbox"
        in said
    )
    assert os.listdir(folder) == []
    (report,) = (home["outbox"] / f"werkstatt_{nr}" / "pruefung").iterdir()
    assert "Datum gibt es nicht" in (report / "pruefbericht.html").read_text("utf-8")


def test_a_failed_comparison_is_told_in_the_run_log_and_the_file_still_answered(home, demo, monkeypatch):
    """A comparison that fails never stops the check: the file gets its Prüfbericht of what it alone
    says, and the operator reads why it was not compared in the Dagster run's log, not only on
    the console of a command-line run."""
    import logging

    import dagster as dg

    import ingest.checking
    from orchestration.defs.assets.operations import check_reports
    from orchestration.defs.resources import DataHomeResource

    def fails(*_args, **_kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(ingest.checking, "rehearse", fails)
    folder = home["inbox"] / CHECK_FOLDER
    nr, _ = _faulty_snapshot(demo, folder / "upload.csv")
    os.rename(folder / "upload.csv", folder / f"wfbm_{nr}_2024-05_personen.csv")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [check_reports],
            instance=instance,
            resources={"data_home": DataHomeResource(root=str(home["root"]), inbox_dir=str(home["inbox"]))},
        )
        warnings = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if entry.dagster_event is None and entry.level == logging.WARNING
        ]
        checked = instance.get_latest_materialization_event(dg.AssetKey(["outbox", "pruefberichte"]))
    assert result.success
    assert checked.asset_materialization.metadata["compared_with_deliveries"].value == 0
    assert [w for w in warnings if "not compared with the warehouse" in w and "the disk went away" in w], (
        warnings
    )
    assert os.listdir(folder) == []
    (report,) = (home["outbox"] / f"werkstatt_{nr}" / "pruefung").iterdir()
    assert "Datum gibt es nicht" in (report / "pruefbericht.html").read_text("utf-8")


def _counts(con) -> tuple:
    tables = ["ops.delivery_log", "ops.quarantine", "ops.inbox_files", "landing.wfbm_personen",
              "landing.wfbm_aussenarbeitsplaetze", "linkage.person_records"]  # fmt: skip
    return tuple(con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)


def _report_of(outbox, name) -> tuple[str, list[list[str]]]:
    """The Prüfbericht of the file ``name``: its page and its CSV's findings (without the header
    and the verdict's lines above them)."""
    for manifest in outbox.glob("*/pruefung/*/manifest.json"):
        if json.loads(manifest.read_text("utf-8"))["file_name"] == name:
            page = (manifest.parent / "pruefbericht.html").read_text("utf-8")
            table = list(
                csv.reader(
                    io.StringIO((manifest.parent / "pruefbericht.csv").read_text("utf-8-sig")), delimiter=";"
                )
            )
            assert table[1][-1] == "verdict", table
            return page, [row for row in table[1:] if row[-1] not in ("verdict", "recognised")]
    raise AssertionError(f"no Prüfbericht of {name}")


def test_a_checked_file_is_compared_with_the_warehouse_which_stays_as_it_was(home, demo):
    """What only the warehouse can tell is in the Prüfbericht too: placements of persons the
    month's Personenmeldung lacks, a correction far shorter than what it replaces, the bytes of an
    earlier delivery again. Found by loading the files and rolling the load back: nothing stays."""
    folder = home["inbox"] / CHECK_FOLDER
    placements = sorted(demo.glob("wfbm_*_aussenarbeitsplaetze.csv"))[0]
    lines = placements.read_bytes().split(b"\r\n")
    for at, number in ((2, b"99-99998"), (3, b"99-99999")):  # file rows 3 and 4
        lines[at] = number + lines[at][lines[at].index(b";") :]
    (folder / placements.name).write_bytes(b"\r\n".join(lines))
    snapshots = sorted(demo.glob("wfbm_*_personen.csv"))
    shutil.copyfile(snapshots[1], folder / snapshots[1].name)  # as delivered
    shortened = snapshots[2].read_bytes().split(b"\r\n")
    (folder / snapshots[2].name).write_bytes(b"\r\n".join(shortened[:6]) + b"\r\n")  # 5 of its persons
    # another workshop's Personenmeldung under this one's name: a delivery of it is told so, a check
    # not (it would tell a workshop whether persons of its making are in another's)
    mine, theirs = snapshots[3].name, snapshots[3].name.replace("LVR-0201", "LVR-0203")
    assert mine != theirs and (demo / theirs).exists()
    shutil.copyfile(snapshots[3], folder / theirs)  # byte for byte: a delivery is refused, a check not told
    with duckdb.connect(str(home["root"] / "warehouse.duckdb")) as con:
        before = _counts(con)
        answered = answer_checks(
            con, home["inbox"], home["outbox"], home["ops"], Limits(), "test-run", key=KEY
        )
        assert _counts(con) == before, "the warehouse is as it was"
        loaded_on = con.execute(
            "select strftime(received_at, '%d.%m.%Y') from ops.delivery_log where file_name = ? and status = ?",
            [snapshots[1].name, "loaded"],
        ).fetchone()[0]
    assert len(answered) == 4 and os.listdir(folder) == []
    assert all(compared for *_, compared in answered)

    page, rows = _report_of(home["outbox"], placements.name)
    unknown = [(row[0], row[1]) for row in rows if row[-1] == "unknown_person"]
    assert unknown == [("3", "Personennummer"), ("4", "Personennummer")], rows
    assert "in der Personenmeldung dieser Werkstatt" in page
    assert "mit Ihren bisherigen Lieferungen verglichen (etwa Außenarbeitsplätze" in " ".join(page.split())

    page, _ = _report_of(home["outbox"], snapshots[1].name)
    assert f"Nichts zu tun: die Datei ist genau Ihre Lieferung vom {loaded_on}." in page
    assert "jede Zeile würde geladen" not in page, "nothing would be loaded: it is that delivery"

    page, rows = _report_of(home["outbox"], snapshots[2].name)
    # the month's placements already delivered, of persons the shortened Personenmeldung leaves out
    kept = {line.split(b";")[0] for line in shortened[1:6]}
    delivered = (demo / snapshots[2].name.replace("_personen", "_aussenarbeitsplaetze")).read_bytes()
    left_out = sum(line.split(b";")[0] not in kept for line in delivered.split(b"\r\n")[1:] if line)
    assert left_out > 0
    assert [row[-1] for row in rows] == ["correction_shrank", "unknown_person"], rows
    assert f"{left_out} Außenarbeitsplätze Ihrer Lieferung vom" in " ".join(page.split())
    said = " ".join(page.split())
    assert "Als Lieferung: 5 Zeilen würden geladen, 0 zurückgestellt; sie würde Ihre Lieferung vom" in said
    assert "Achtung: sie hat viel weniger Zeilen als die Lieferung, die sie ersetzen würde" in said, (
        "a sender who sends only the corrected rows is told in the verdict, not only by a Hinweis"
    )

    page, rows = _report_of(home["outbox"], theirs)
    assert "sie würde Ihre Lieferung vom" in page, "compared with the warehouse as the sender's own"
    assert "Achtung" not in page
    # compared with this workshop's own deliveries only: its placements of the month are of persons
    # the file does not hold; nothing says whose persons they are
    assert [row[-1] for row in rows] == ["unknown_person"], rows
    assert "Außenarbeitsplätze Ihrer Lieferung vom" in " ".join(page.split())


def test_a_large_check_leaves_nothing_in_the_warehouse_file(home, demo):
    """Rolled back is not gone: an insert of a whole row group (122,880 rows) is written to the
    database file at once, and its blocks stay there after the rollback, readable until reused.
    Three Jobcenter files of 45,000 customers each are compared in rounds small enough."""
    folder = home["inbox"] / CHECK_FOLDER
    header, *rows = (demo / "jc_05112_202312_kunden.csv").read_bytes().splitlines()
    copies = [b"112D%06d" % i + rows[i % len(rows)][len("112D000000") :] for i in range(45_000)]
    for month in ("01", "02", "03"):
        (folder / f"jc_05112_2024{month}_kunden.csv").write_bytes(b"\r\n".join([header, *copies]) + b"\r\n")
    with duckdb.connect(str(home["root"] / "warehouse.duckdb")) as con:
        before = con.execute("select total_blocks, free_blocks from pragma_database_size()").fetchone()
        answered = answer_checks(
            con, home["inbox"], home["outbox"], home["ops"], Limits(), "test-run", key=KEY
        )
        after = con.execute("select total_blocks, free_blocks from pragma_database_size()").fetchone()
    assert len(answered) == 3
    for name, *_ in answered:
        page = " ".join(_report_of(home["outbox"], name)[0].split())
        assert "sie würde Ihre Lieferung vom" in page, "each compared"
        assert "verglichen (etwa eine Korrektur" in page, "a Jobcenter has no Außenarbeitsplätze"
    assert after == before, "no block of the checked files' rows was written"


def test_a_file_of_a_number_no_register_names_is_reported_to_its_folder_and_the_operator(home, demo):
    """A Werkstatt-Nr. no register names is a new workshop, or a mistyped number whose folder
    nobody collects (a senders' review): the report goes to that number's folder and, the same
    page, to the operator's, whose digest lists it to forward. Its finding says the file would be
    held, as its verdict does, not "Datei abgelehnt"."""
    folder = home["inbox"] / CHECK_FOLDER
    source = sorted(demo.glob("wfbm_*_personen.csv"))[0]
    nr = source.name.split("_")[1]
    stranger = f"{nr[:4]}9{nr[5:]}" if nr[4] != "9" else f"{nr[:4]}8{nr[5:]}"  # LWL-0101 -> LWL-9101
    name = source.name.replace(nr, stranger)
    shutil.copyfile(source, folder / name)
    with duckdb.connect(str(home["root"] / "warehouse.duckdb")) as con:
        assert not con.execute(
            "select count(*) from marts.dim_workshops where werkstatt_nr = ?", [stranger]
        ).fetchone()[0]
        [(_, sender, _, _)] = answer_checks(
            con, home["inbox"], home["outbox"], home["ops"], Limits(), "test-run"
        )
        told = digest(con).text()
    assert sender == stranger
    [mine] = (home["outbox"] / f"werkstatt_{stranger}" / "pruefung").iterdir()
    [copy] = (home["ops"] / "pruefung").iterdir()
    assert (copy / "pruefbericht.html").read_bytes() == (mine / "pruefbericht.html").read_bytes()
    page = " ".join((mine / "pruefbericht.html").read_text("utf-8").split())
    assert "Als Lieferung würde die Datei gehalten" in page
    assert "<td>Datei gehalten</td>" in page and "Datei abgelehnt" not in page, page
    assert (
        f"  {name}, checked {dt.date.today():%Y-%m-%d} (also in the folder of {stranger}): reports/operations/pruefung/{copy.name}"
        in told
    ), told


def test_workbooks_are_checked_by_their_unpacked_bytes_the_rest_wait(home):
    """Thirty small workbooks of 45,000 faulty rows each took a run of the check folder to 7 GB
    (a hostile-input review): the files a run checks are bounded by what they unpack to, and the
    others wait for the next run."""
    import zipfile

    folder = home["inbox"] / CHECK_FOLDER
    sheet = b"<row><c><v>1</v></c></row>" * 400_000  # 10.4 MB unpacked, a few KB packed
    for n in range(3):
        with zipfile.ZipFile(folder / f"Meldung {n}.xlsx", "w", zipfile.ZIP_DEFLATED) as book:
            book.writestr("xl/worksheets/sheet1.xml", sheet)
    limits = Limits(max_batch_bytes=16 << 20)
    with duckdb.connect(str(home["root"] / "warehouse.duckdb")) as con:
        first = answer_checks(con, home["inbox"], home["outbox"], home["ops"], limits, "run 1")
        assert len(first) == 1 and len(os.listdir(folder)) == 2, "one workbook this run, two wait"
        second = answer_checks(con, home["inbox"], home["outbox"], home["ops"], limits, "run 2")
    assert len(second) == 1 and len(os.listdir(folder)) == 1


def test_what_the_check_folder_holds_besides_files_is_recorded_and_a_first_senders_report_copied(home, demo):
    """A hostile-input review: a hidden file and a folder in pruefen/ stayed there unrecorded; a
    Jobcenter that never delivered got a report in a folder nobody may collect; a copy under a
    name no rule reads went to the operator, where a delivery of it is answered to the sender its
    name names."""
    folder = home["inbox"] / CHECK_FOLDER
    snapshot = sorted(demo.glob("wfbm_*_personen.csv"))[0]
    nr = snapshot.name.split("_")[1]
    shutil.copyfile(snapshot, folder / ".versteckt.csv")
    (folder / "ordner").mkdir()
    copy_name = f"Kopie von {snapshot.stem} (1).csv"
    shutil.copyfile(snapshot, folder / copy_name)
    with duckdb.connect(str(home["root"] / "warehouse.duckdb")) as con:
        kreis = con.execute(
            """select min(kreisschluessel) from marts.dim_regions
               where kreisschluessel not in (select sender from ops.delivery_log where sender is not null)"""
        ).fetchone()[0]
        customers = sorted(demo.glob("jc_*_kunden.csv"))[0]
        first = f"jc_{kreis}_{customers.name.split('_')[2]}_kunden.csv"
        shutil.copyfile(customers, folder / first)
        answered = {name: where for name, _, where, _ in answer_checks(
            con, home["inbox"], home["outbox"], home["ops"], Limits(), "test-run")}  # fmt: skip
        ignored = con.execute(
            "select entry_name, kind from ops.ignored_entries where entry_name like 'pruefen/%' order by 1"
        ).fetchall()
        copies = dict(con.execute("select file_name, operator_report from ops.check_log").fetchall())
    assert ignored == [("pruefen/.versteckt.csv", "hidden"), ("pruefen/ordner", "directory")]
    assert answered[copy_name].startswith(f"werkstatt_{nr}/pruefung/"), answered
    assert copies[copy_name] is None, "a sender that delivers collects its folder"
    assert answered[first].startswith(f"jobcenter_{kreis}/pruefung/"), answered
    assert copies[first] and (home["ops"] / copies[first] / "pruefbericht.html").exists()
