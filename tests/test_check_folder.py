"""The inbox's check folder (pruefen/): a sender without the check program puts a file there and
gets a Prüfbericht back, in German, with row, column and rule and no identifier; the file is read
like a delivery, never loaded, never kept. Checked on a copy of the demo's data home."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil

import duckdb
import pytest

from ingest.inbox import CHECK_FOLDER, scan_inbox
from publish.check_reports import answer_checks
from publish.expected import digest
from teilhabe.settings import Limits


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
    assert sorted((file, sender) for file, sender, _ in answered) == [("hallo.txt", None), (name, nr)]
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
    assert ["3", "Geburtsdatum"] in [line[:2] for line in table[1:]], table
    assert any(line[1] == "Geburtsdatum" and line[-1] == "impossible_date" for line in table[1:]), table
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
    said = _result(result, ()).summary()  # what `teilhabe run` prints
    assert (
        "Prüfberichte: 1 file of inbox/pruefen/ checked, not loaded, and deleted; 1 to their senders' outbox"
        in said
    )
    assert os.listdir(folder) == []
    (report,) = (home["outbox"] / f"werkstatt_{nr}" / "pruefung").iterdir()
    assert "Datum gibt es nicht" in (report / "pruefbericht.html").read_text("utf-8")
