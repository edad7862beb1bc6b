"""The parts that isolate one delivery from the rest, unit by unit: names, entries, workbook workers
under limits, reading a file that changes, content against the period, and when a partner's
period is complete."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hostile import (
    UEBERGAENGE_HEADER,
    WFBM_PERSONEN_HEADER,
    _rewrite,
    far_cell_workbook,
    lying_far_cell_workbook,
)

from ingest import inbox as inbox_module
from ingest import load as wh
from ingest.batch import read_batch
from ingest.identify import identify, implausible_period
from ingest.inbox import InboxFile, Unstable, display_name, name_problem, scan_inbox, take
from ingest.issues import Issue
from ingest.pseudonymise import PseudonymKey
from ingest.readers import WORKBOOK_SHEETS
from ingest.workbooks import Cells, Unreadable, WorkbookReader
from publish.partners import load_partners
from publish.periods import period_problem
from publish.readiness import readiness
from teilhabe.settings import Limits

KEY = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
TODAY = dt.date(2026, 12, 1)


# --- names ---------------------------------------------------------------------------------------


def test_any_byte_sequence_is_a_printable_name_one_to_one():
    assert display_name("Meldung Übersicht.xlsx".encode()) == "Meldung Übersicht.xlsx"
    assert display_name(b"Meldung \xdcbersicht.xlsx") == "Meldung \\xdcbersicht.xlsx"
    assert display_name(b"a.csv\n") == "a.csv\\x0a"
    assert display_name("x\u202ecsv.exe".encode()) == "x\\u202ecsv.exe"
    # A literal backslash is doubled, so that no real name looks like an escaped one.
    assert display_name(b"Meldung \\xdcbersicht.xlsx") != display_name(b"Meldung \xdcbersicht.xlsx")


def test_control_characters_rule_a_name_out_but_other_bytes_do_not():
    assert name_problem(b"wfbm_LWL-0101_2024-01_personen.csv\n")
    assert name_problem("Meldung\u202excsv.xlsx".encode())
    assert name_problem(b"Meldung \xdcbersicht.xlsx") is None  # an old client's Latin-1: read it


def test_patterns_match_whole_names_only():
    assert not isinstance(identify("wfbm_LWL-0101_2024-01_personen.csv"), Issue)
    for name in ("wfbm_LWL-0101_2024-01_personen.csv\\x0a", "x_wfbm_LWL-0101_2024-01_personen.csv",
                 "wfbm_LWL-0101_2024-01_personen.csv.bak", "Meldung.xlsx\\x0a"):  # fmt: skip
        assert isinstance(identify(name), Issue), name


def test_periods_after_the_month_of_receipt_or_before_2000_are_implausible():
    received = dt.date(2025, 1, 10)
    assert implausible_period("2025-01", received) is None
    assert implausible_period("2024", received) is None
    assert implausible_period("2025-02", received) == (
        "der Zeitraum 02/2025 liegt nach dem Eingangsmonat 01/2025 (ein Tippfehler im Namen?)"
    ), "one month format beside the other"
    assert implausible_period("2099", received)
    assert implausible_period("1999-12", received)


def test_a_period_the_archive_would_no_longer_keep_is_refused(spec_dir, tmp_path):
    """A valid quiet month of 2000 (a header only) from a registered workshop set the delivery
    calendar back to 2000: 9,609 files overdue (a hostile-input review). A period that ended more
    than the archive's retention before the file arrived is refused; the retention's edge is kept."""
    from ingest.identify import beyond_retention

    received = dt.date(2024, 12, 10)
    assert beyond_retention("2018-12", received, 6) is None and beyond_retention("2018", received, 6) is None
    assert beyond_retention("2018-11", received, 6) and beyond_retention("2017", received, 6)
    header = (spec_dir / "samples" / "wfbm_LWL-0101_2024-08_uebergaenge.csv").read_bytes().split(b"\r\n")[0]
    old = tmp_path / "wfbm_LWL-0101_2000-01_uebergaenge.csv"
    old.write_bytes(header + b"\r\n")
    [outcome] = read_batch([old]).files.values()
    assert "vor mehr als 6 Jahren" in outcome.rejected_because
    [outcome] = read_batch([old], limits=Limits(max_period_age_years=30)).files.values()
    assert not outcome.rejected_because


def test_inbox_entries_are_classified_without_following_links(tmp_path):
    (tmp_path / "real.csv").write_bytes(b"x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    (tmp_path / "gone.csv").symlink_to(tmp_path / "missing")
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / ".hidden").write_bytes(b"x")
    (tmp_path / "upload.csv.part").write_bytes(b"x")
    scan = scan_inbox(tmp_path)
    assert [f.name for f in scan.files] == ["real.csv"]
    kinds = {e.name: e.kind for e in scan.ignored}
    assert kinds == {"dir": "directory", "link.csv": "symlink", "gone.csv": "symlink", "fifo.csv": "fifo",
                     ".hidden": "hidden"}  # fmt: skip
    assert "pointing nowhere" in next(e.reason for e in scan.ignored if e.name == "gone.csv")
    assert scan.uploads_in_progress == ["upload.csv.part"]


# --- reading a file that changes -------------------------------------------------------------------


def test_a_file_growing_while_read_is_left_for_the_next_run(tmp_path, monkeypatch):
    path = tmp_path / "inbox" / "jc_05914_202401_bestand.csv"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbfmonat;geschlecht;elb;arbeitslose\n" + b"2024-01;M;10;5\n" * 1000)
    (tmp_path / "archive").mkdir()
    file = scan_inbox(path.parent).files[0]
    real_read = os.read

    def growing(descriptor, size):  # the sender's upload is still writing
        with open(path, "ab") as handle:
            handle.write(b"2024-01;W;10;5\n")
        return real_read(descriptor, size)

    monkeypatch.setattr(inbox_module.os, "read", growing)
    with pytest.raises(Unstable):
        take(file, tmp_path / "archive", 1 << 20)
    assert not list((tmp_path / "archive").rglob("*")), "no archive copy of a half-written file"
    monkeypatch.setattr(inbox_module.os, "read", real_read)
    con = duckdb.connect()
    report = wh.ingest(con, path.parent, tmp_path / "archive", KEY)
    assert report.loaded == 1, "once it is still, it is taken"


def test_a_replaced_file_is_not_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"first")
    file = InboxFile(os.fsencode(path), "a.csv", 5, 0, 0, path.stat().st_ino)
    path.unlink()
    path.symlink_to("/etc/hostname")
    with pytest.raises(Unstable):
        take(file, tmp_path, 100)


def test_same_name_size_and_time_but_new_bytes_is_a_new_delivery(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "jc_05914_202401_bestand.csv"
    path.write_bytes(b"\xef\xbb\xbfmonat;geschlecht;elb;arbeitslose\n2024-01;M;10;5\n")
    con = duckdb.connect()
    keep = {"keep_files": True}  # an inbox the pipeline may not change: it remembers the files
    assert wh.ingest(con, inbox, tmp_path / "archive", KEY, **keep).loaded == 1
    stat = path.stat()
    assert wh.ingest(con, inbox, tmp_path / "archive", KEY, **keep).skipped_known == 1
    shutil.copy2(path, tmp_path / "copy")  # a restored copy: new inode and change time, same bytes
    os.replace(tmp_path / "copy", path)
    again = wh.ingest(con, inbox, tmp_path / "archive", KEY, **keep)
    assert (again.new_files, again.rehashed) == (0, 1)
    path.write_bytes(b"\xef\xbb\xbfmonat;geschlecht;elb;arbeitslose\n2024-01;M;11;5\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # an upload that keeps timestamps
    report = wh.ingest(con, inbox, tmp_path / "archive", KEY, **keep)
    assert (report.new_files, report.loaded, report.superseded) == (1, 1, 1)
    assert con.execute("select elb from landing.jc_bestand").fetchall() == [(11,)]


# --- workbooks under limits ------------------------------------------------------------------------


def test_a_workbook_that_would_exhaust_memory_fails_alone(demo):
    good = next(p for p in sorted(demo.glob("*.xlsx")) if not p.name.startswith("lv_")).read_bytes()
    wanted = WORKBOOK_SHEETS["wfbm_xlsx"]
    with WorkbookReader(workers=2, memory_bytes=256 << 20) as reader:
        reader.submit("far", far_cell_workbook(), wanted)
        reader.submit("lying", lying_far_cell_workbook(), wanted)
        reader.submit("good", good, wanted)
        far, lying, fine = reader.result("far"), reader.result("lying"), reader.result("good")
    assert isinstance(far, Unreadable) and "XFD1048576" in far.message
    assert isinstance(lying, Unreadable) and lying.rule == "reader_limit" and "256 MB" in lying.message
    assert isinstance(fine, Cells) and set(fine.rows) == set(wanted)


def test_a_workbook_that_takes_too_long_is_stopped_and_the_next_one_read(demo):
    good = next(p for p in sorted(demo.glob("*.xlsx")) if not p.name.startswith("lv_")).read_bytes()
    wanted = WORKBOOK_SHEETS["wfbm_xlsx"]
    with WorkbookReader(workers=1, timeout_seconds=0.0) as reader:
        reader.submit(1, good, wanted)
        slow = reader.result(1)
        reader.timeout = 60.0
        reader.submit(2, good, wanted)
        fine = reader.result(2)
    assert isinstance(slow, Unreadable) and "länger als" in slow.message
    assert isinstance(fine, Cells)


# --- content against the period -------------------------------------------------------------------


def _uebergaenge(tmp_path: Path, name: str, rows: list[str], line_end: str = "\r\n") -> Path:
    path = tmp_path / name
    path.write_bytes((line_end.join([UEBERGAENGE_HEADER, *rows]) + line_end).encode("cp1252"))
    return path


def test_a_date_after_the_stichtag_is_a_row_fault_and_many_reject_the_file(tmp_path):
    good = "1;03.01.2022;SVB;Firma;44137;84.11;"
    one = _uebergaenge(
        tmp_path,
        "wfbm_LWL-0101_2022-01_uebergaenge.csv",
        [good] * 0 + [good, "2;03.02.2022;SVB;Firma;44137;84.11;"],
    )
    many = _uebergaenge(tmp_path, "wfbm_LWL-0101_2022-02_uebergaenge.csv",
                        [f"{n};03.05.2022;SVB;Firma;44137;84.11;" for n in range(5)])  # fmt: skip
    batch = read_batch([one, many])
    assert batch.files[one.name].rows_loaded == 1 and batch.files[one.name].rows_quarantined == 1
    finding = batch.findings.filter((pl.col("file") == one.name) & (pl.col("rule") == "after_stichtag"))
    assert finding.select("row", "column").rows() == [(3, "Datum")]
    assert "31.01.2022" in finding["message"][0]
    assert "späteren Zeitraum" in batch.files[many.name].rejected_because


def test_an_integration_dated_before_its_month_is_a_row_fault_and_many_reject_the_file(spec_dir, tmp_path):
    """Integrations are the job starts of the month: one of March 2023 in a later file was loaded
    and would have changed 2023's published figures (a hostile-input review). A row dated before
    the month is quarantined; a file of many such rows belongs to an earlier month: rejected."""
    name = "jc_05914_202406_integrationen.csv"
    header, *rows = (spec_dir / "samples" / name).read_text("utf-8-sig").splitlines()
    one = tmp_path / name
    one.write_text(
        "\n".join([header, rows[0].replace("2024-06-27", "2023-03-15"), *rows[1:]]) + "\n", "utf-8-sig"
    )
    july = tmp_path / "jc_05914_202407_integrationen.csv"
    july.write_bytes(one.read_bytes().replace(b"2023-03-15", b"2024-06-30"))  # June's file under July's name
    batch = read_batch([one, july])
    assert (batch.files[one.name].rows_loaded, batch.files[one.name].rows_quarantined) == (len(rows) - 1, 1)
    finding = batch.findings.filter(file=one.name, level="row")
    assert finding.select("row", "column", "rule", "value").rows() == [
        (2, "datum", "before_period", None)  # a date of a person's record is never shown
    ]
    assert "01.06.2024" in finding["message"][0]
    assert "früheren Zeitraum als 2024-07" in batch.files[july.name].rejected_because


def test_a_file_without_one_valid_row_is_rejected_and_the_earlier_delivery_stays(tmp_path):
    """A Jobcenter's system update writes every date as TT.MM.JJJJ. Loaded, the file would replace
    the period's earlier delivery with no row, and the period's figures would read 0 instead of
    the ones delivered before (or missing). It is rejected whole, with every row's finding; a file
    of no data rows (a month without transitions) is a valid delivery."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    name = "jc_05914_202401_bestand.csv"
    header = "\ufeffmonat;geschlecht;elb;arbeitslose\n"
    (inbox / name).write_text(header + "2024-01;M;10;5\n2024-01;W;12;6\n", "utf-8")
    con = duckdb.connect()
    assert wh.ingest(con, inbox, tmp_path / "archive", KEY).loaded == 1
    (inbox / name).write_text(header + "01.2024;M;11;5\n01.2024;W;13;6\n", "utf-8")  # a correction, all wrong
    report = wh.ingest(con, inbox, tmp_path / "archive", KEY)
    assert (report.new_files, report.rejected, report.superseded) == (1, 1, 0)
    assert con.execute("select elb from landing.jc_bestand order by elb").fetchall() == [(10,), (12,)]
    status, loaded, quarantined, message = con.execute(
        "select status, rows_loaded, rows_quarantined, message from ops.delivery_log order by delivery_id desc limit 1"
    ).fetchone()
    assert (status, loaded, quarantined) == ("rejected", 0, 2) and "keine Zeile verwendbar" in message
    findings = con.execute(
        "select source_row, column_name, rule from ops.quarantine order by source_row nulls first"
    ).fetchall()
    assert findings[0] == (None, None, "no_valid_row") and {(r, c) for r, c, _ in findings[1:]} == {
        (2, "monat"),
        (3, "monat"),
    }
    empty = _uebergaenge(tmp_path, "wfbm_LWL-0101_2022-01_uebergaenge.csv", [])
    outcome = read_batch([empty]).files[empty.name]
    assert not outcome.rejected_because and outcome.rows_in == 0


def test_mixed_line_ends_are_read_and_control_characters_quarantine_their_row(tmp_path):
    rows = ["1;03.01.2022;SVB;Firma;44137;84.11;", "2;04.01.2022;SVB;Fir\x07ma;44137;84.11;"]
    path = tmp_path / "wfbm_LWL-0101_2022-01_uebergaenge.csv"
    path.write_bytes(f"{UEBERGAENGE_HEADER}\r\n{rows[0]}\n{rows[1]}\r\n".encode("cp1252"))
    batch = read_batch([path])
    outcome = batch.files[path.name]
    assert not outcome.rejected_because and (outcome.rows_loaded, outcome.rows_quarantined) == (1, 1)
    rules = set(batch.findings["rule"])
    assert {"mixed_line_ends", "control_character"} <= rules


def test_an_invisible_format_character_in_a_key_quarantines_its_row(tmp_path):
    """A soft hyphen in a Personennummer (cp1252 byte 0xAD, invisible) made a second person of one
    without a finding (a hostile-input review); a zero-width space did the same from a workbook.
    Such characters are row faults like control characters."""
    rows = ["1;03.01.2022;SVB;Firma;44137;84.11;", "2\xad3;04.01.2022;SVB;Firma;44137;84.11;"]
    path = tmp_path / "wfbm_LWL-0101_2022-01_uebergaenge.csv"
    path.write_bytes(f"{UEBERGAENGE_HEADER}\r\n{rows[0]}\r\n{rows[1]}\r\n".encode("cp1252"))
    batch = read_batch([path])
    found = batch.findings.filter(level="row")
    assert found.select("row", "column", "rule").rows() == [(3, "Personennummer", "control_character")]


def test_a_byte_order_mark_pasted_into_a_key_quarantines_its_row(tmp_path):
    """UTF-8's byte-order mark pasted before a Personennummer of a Windows-1252 file reads „ï»¿01-3“:
    another person, loaded with a warning only (a hostile-input review). In a key it is a row fault;
    in an employer's name it stays the warning it was."""
    rows = [
        "1;03.01.2022;SVB;Bäckerei;44137;84.11;".encode("cp1252"),  # the file is Windows-1252
        b"\xef\xbb\xbf23;04.01.2022;SVB;Firma;44137;84.11;",
        b"4;05.01.2022;SVB;\xef\xbb\xbfFirma;44137;84.11;",
    ]
    path = tmp_path / "wfbm_LWL-0101_2022-01_uebergaenge.csv"
    path.write_bytes(UEBERGAENGE_HEADER.encode("cp1252") + b"\r\n" + b"\r\n".join(rows) + b"\r\n")
    batch = read_batch([path])
    found = batch.findings.filter(level="row")
    assert found.select("row", "column", "rule").rows() == [(3, "Personennummer", "control_character")]
    assert batch.valid["wfbm_uebergaenge"].height == 2


def test_a_tab_or_line_break_in_a_key_is_a_row_fault_in_an_employer_not(tmp_path):
    """An Excel cell "02-00112" with Alt+Enter and more text, or a tab inside a Personennummer, made
    another person without a finding (a mutation review): in a value that identifies a person a tab
    or line break is a control character. An employer's name may hold one."""
    rows = [
        "1;03.01.2022;SVB;Firma;44137;84.11;",
        "2\t3;04.01.2022;SVB;Firma;44137;84.11;",
        "4;05.01.2022;SVB;Firma\tZwei;44137;84.11;",
    ]
    path = tmp_path / "wfbm_LWL-0101_2022-01_uebergaenge.csv"
    path.write_bytes(f"{UEBERGAENGE_HEADER}\r\n{rows[0]}\r\n{rows[1]}\r\n{rows[2]}\r\n".encode("cp1252"))
    batch = read_batch([path])
    found = batch.findings.filter(level="row")
    assert found.select("row", "column", "rule").rows() == [(3, "Personennummer", "control_character")]
    assert batch.valid["wfbm_uebergaenge"]["Arbeitgeber"].to_list() == ["Firma", "Firma\tZwei"]


def test_a_quoted_line_break_in_a_key_of_a_csv_is_a_row_fault_as_in_a_workbook(tmp_path):
    """A CSV cell "Mei" Alt+Enter "er" (legal CSV: the line break quoted) loaded as the name
    "Mei er", another person, with only a warning, where the same cell of a workbook sets its
    row aside. Now a row fault in a value that identifies a person; an employer's name still
    reads the break as a blank, with a warning. Each finding names its record's row: the
    second record with a break was named by the first's row before."""
    rest = "m;44137;05913;AB;01.01.2020;;;G;LWL;38,5"
    personen = tmp_path / "wfbm_LWL-0101_2022-01_personen.csv"
    rows = [f'1;"Mei\r\ner";Hans;01.02.1980;{rest}', f'2;Schulz;"Hans\nPeter";01.02.1981;{rest}',
            f"3;Schulz;Hans;01.02.1982;{rest}"]  # fmt: skip
    personen.write_bytes((f"{WFBM_PERSONEN_HEADER}\r\n" + "".join(f"{r}\r\n" for r in rows)).encode("cp1252"))
    uebergaenge = tmp_path / "wfbm_LWL-0101_2022-01_uebergaenge.csv"
    rows = ['1;03.01.2022;SVB;"Firma\r\nEins";44137;84.11;', '2;04.01.2022;SVB;"Firma\nZwei";44137;84.11;']
    uebergaenge.write_bytes(
        (f"{UEBERGAENGE_HEADER}\r\n" + "".join(f"{r}\r\n" for r in rows)).encode("cp1252")
    )
    batch = read_batch([personen, uebergaenge])
    assert batch.findings.sort("file", "row").select("file", "row", "column", "rule", "level").rows() == [
        (personen.name, 2, "Nachname", "control_character", "row"),
        (personen.name, 3, "Vorname", "control_character", "row"),
        (uebergaenge.name, 2, "Arbeitgeber", "line_break_in_field", "warning"),
        (uebergaenge.name, 3, "Arbeitgeber", "line_break_in_field", "warning"),
    ]
    assert batch.valid["wfbm_personen"].select("_row", "Nachname").rows() == [(4, "Schulz")]
    assert batch.valid["wfbm_uebergaenge"]["Arbeitgeber"].to_list() == ["Firma Eins", "Firma Zwei"]


def test_a_file_whose_last_line_has_no_line_break_is_rejected_as_possibly_cut(demo, tmp_path):
    """A file cut in transfer ends without a line break: before its last field (too few fields, a
    quote left open: "abgeschnitten"), inside it, where the shorter value still looks valid (hours
    38,5 as 3), or inside a row long before the real end. Setting only the last line aside (the
    behaviour before) loaded a personen file cut to 100 of its 669 rows (a mutation review). Every
    such file is rejected, the header alone too (a quiet month replacing the period's rows), and
    the same file with its line break loads whole."""
    whole = (demo / "wfbm_LWL-0101_2024-01_personen.csv").read_bytes()
    (tmp_path / "a").mkdir()
    ended = tmp_path / "a" / "wfbm_LWL-0101_2024-01_personen.csv"
    ended.write_bytes(whole)
    with_break = read_batch([ended])
    assert with_break.valid["wfbm_personen"].height == whole.count(b"\r\n") - 1
    assert not with_break.files[ended.name].rejected_because
    unended = tmp_path / "wfbm_LWL-0101_2024-01_personen.csv"
    last_line = whole.removesuffix(b"\r\n").rsplit(b"\r\n", 1)[1]
    last_field = len(last_line) - last_line.rindex(b";") - 1
    tenth_line = len(b"\r\n".join(whole.split(b"\r\n")[:10]))
    # no CRLF, a CR without its LF, cut inside the last field, cut after the tenth row's first field
    ends = [len(whole) - 2, len(whole) - 1, len(whole) - 2 - last_field + 1]
    ends.append(tenth_line + 2 + whole[tenth_line + 2 :].index(b";") + 1 - 1)
    for end in ends:
        unended.write_bytes(whole[:end])
        batch = read_batch([unended])
        outcome = batch.files[unended.name]
        assert outcome.rejected_because and "abgeschnitten" in outcome.rejected_because, end
        assert batch.valid.get("wfbm_personen") is None or batch.valid["wfbm_personen"].is_empty(), end
    for cut in range(1, last_line.rindex(b";") + 1):  # every cut before the last field's first byte
        unended.write_bytes(whole[: len(whole) - 2 - len(last_line) + cut])
        outcome = read_batch([unended]).files[unended.name]
        assert outcome.rejected_because and "abgeschnitten" in outcome.rejected_because, cut
    unended.write_bytes(whole[:-2])
    rules = read_batch([unended]).findings.filter(level="file")["rule"].to_list()
    assert rules == ["no_final_line_break"]
    quoted = _uebergaenge(
        tmp_path, "wfbm_LWL-0101_2022-01_uebergaenge.csv", ["1;03.01.2022;SVB;Firma;44137;84.11;"]
    )
    quoted.write_bytes(quoted.read_bytes() + b'2;04.01.2022;SVB;"Firma; zwei')  # cut inside quotes
    assert "abgeschnitten" in read_batch([quoted]).files[quoted.name].rejected_because
    for tail in (b"\x1a", b" \xa0"):  # an old DOS end-of-file mark, blanks: no line
        unended.write_bytes(whole + tail)
        assert read_batch([unended]).valid["wfbm_personen"].height == with_break.valid["wfbm_personen"].height
    quiet = tmp_path / "wfbm_LWL-0101_2022-02_uebergaenge.csv"
    for ending in (b"", b"\r"):  # the header alone, cut before or between its CR and LF
        quiet.write_bytes(UEBERGAENGE_HEADER.encode("cp1252") + ending)
        assert read_batch([quiet]).findings.filter(level="file")["rule"].to_list() == ["no_final_line_break"]
    quiet.write_bytes(UEBERGAENGE_HEADER.encode("cp1252") + b"\r\n")
    assert not read_batch([quiet]).files[quiet.name].rejected_because


def test_a_quote_left_open_never_joins_the_next_record_into_its_field(tmp_path):
    """A quoted field over two lines is one record (Excel's Alt+Enter), but a quote left open must
    not swallow the next line when that line is a record of its own: 4715's transition vanished into
    4714's Arbeitgeber with only a warning (a review of the joining). Both lines are quarantined as
    before; a CR inside such a record is the line-end fault it always was, not 'unreadable'."""
    valid = [f"{n};05.01.2022;SVB;Firma;44137;84.11;" for n in (1, 2, 3)]
    rows = ['4714;18.03.2022;SVB;"Firma A', '4715;18.03.2022;BIAP;Meier Laden";44135;47.11;', *valid]
    path = _uebergaenge(tmp_path, "wfbm_LWL-0101_2022-03_uebergaenge.csv", rows, line_end="\n")
    batch = read_batch([path])
    assert batch.findings.filter(level="row").select("row", "rule").rows() == [
        (2, "stray_quote"),
        (3, "stray_quote"),
    ]
    assert batch.files[path.name].rows_in == 5
    rows = ['4714;18.03\r.2022;SVB;"Firma', 'zwei";44135;47.11;', *valid]
    path = _uebergaenge(tmp_path, "wfbm_LWL-0101_2022-04_uebergaenge.csv", rows, line_end="\n")
    assert read_batch([path]).findings.filter(level="file")["rule"].to_list() == ["line_ends"]


def test_a_workshop_file_in_utf8_with_bom_is_read_as_utf8_and_without_bom_rejected(demo, tmp_path):
    """Excel's "CSV UTF-8" writes a BOM: the encoding is declared, so the file is read as UTF-8 with
    a warning (it was rejected, while a Jobcenter's file without its BOM only gets a warning: a
    senders' review). UTF-8 without a BOM where Windows-1252 is agreed stays a rejection."""
    cp1252 = (demo / "wfbm_LWL-0101_2024-01_personen.csv").read_bytes()
    utf8 = cp1252.decode("cp1252").encode("utf-8")
    assert utf8 != cp1252  # the names have umlauts: the encodings differ
    (tmp_path / "a").mkdir()
    agreed = tmp_path / "a" / "wfbm_LWL-0101_2024-01_personen.csv"
    agreed.write_bytes(cp1252)
    declared = tmp_path / agreed.name
    declared.write_bytes(b"\xef\xbb\xbf" + utf8)
    as_agreed, as_declared = read_batch([agreed]), read_batch([declared])
    assert as_declared.valid["wfbm_personen"].equals(as_agreed.valid["wfbm_personen"])
    assert as_declared.findings.filter(rule="utf8_with_bom").select("row", "level").rows() == [(1, "warning")]
    declared.write_bytes(utf8)
    assert "UTF-8 ohne BOM" in read_batch([declared]).files[declared.name].rejected_because


def test_a_file_in_utf16_is_named_as_its_encoding(demo, tmp_path):
    """Excel's "Unicode-Text" is UTF-16, whose NUL bytes made it "eine Binärdatei" (a mutation
    review): its rejection names the encoding and how to save the agreed one, with or without its
    byte-order mark."""
    text = (demo / "wfbm_LWL-0101_2024-01_personen.csv").read_bytes().decode("cp1252")
    path = tmp_path / "wfbm_LWL-0101_2024-01_personen.csv"
    for encoded in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-16-be")):
        path.write_bytes(encoded)
        found = read_batch([path]).findings.filter(level="file")
        assert found["rule"].to_list() == ["wrong_encoding"]
        assert "UTF-16" in found["message"][0] and "Windows-1252" in found["message"][0]
    path.write_bytes(b"\x00\x01\x02\x03" * 100)
    assert read_batch([path]).findings.filter(level="file")["rule"].to_list() == ["wrong_file_type"]


def test_one_transition_twice_with_other_data_quarantines_both_rows(tmp_path):
    """One person's transition of one day twice in a file, once with a Rückkehr: both loaded, and
    their order decided K04 (11.11 or 22.22, a hostile-input review). Like a person twice in a
    snapshot, both rows are quarantined; the same row twice is a duplicate of the first."""
    rows = [
        "1;03.01.2022;SVB;Firma;44137;84.11;",
        "1;03.01.2022;SVB;Firma;44137;84.11;20.01.2022",
        "2;04.01.2022;SVB;Firma;44137;84.11;",
        "2;04.01.2022;SVB;Firma;44137;84.11;",
        "1;05.01.2022;SVB;Firma;44137;84.11;",
    ]
    path = _uebergaenge(tmp_path, "wfbm_LWL-0101_2022-01_uebergaenge.csv", rows)
    batch = read_batch([path])
    found = batch.findings.filter(level="row").select("row", "rule").rows()
    assert found == [(2, "one_version_per_key"), (3, "one_version_per_key"), (5, "no_duplicate_row")]
    # the repeat names the row it repeats (a senders' review: "a row earlier in the file" left them searching)
    assert batch.findings.filter(rule="no_duplicate_row").select("column", "message", "value").rows() == [
        (None, "doppelte Zeile: gleich einer früheren Zeile der Datei (welcher: siehe Wert)", "Zeile 4")
    ]
    versions = batch.findings.filter(rule="one_version_per_key")
    assert "mit demselben Datum" in versions["message"][0]
    assert versions["value"].to_list() == ["auch Zeile 3", "auch Zeile 2"], "each names the other"


def test_a_record_in_many_versions_names_its_other_rows_up_to_three(tmp_path):
    rows = [f"7;03.01.2022;SVB;Firma {n};44137;84.11;" for n in range(5)] + [
        "8;03.01.2022;SVB;Firma;44137;84.11;"
    ]
    batch = read_batch([_uebergaenge(tmp_path, "wfbm_LWL-0101_2022-01_uebergaenge.csv", rows)])
    versions = batch.findings.filter(rule="one_version_per_key").sort("row")
    assert versions["row"].to_list() == [2, 3, 4, 5, 6], "row 7, another person, is no version"
    assert versions["value"].to_list() == [
        "auch Zeilen 3, 4, 5 und 1 weitere",
        "auch Zeilen 2, 4, 5 und 1 weitere",
        "auch Zeilen 2, 3, 5 und 1 weitere",
        "auch Zeilen 2, 3, 4 und 1 weitere",
        "auch Zeilen 2, 3, 4 und 1 weitere",
    ]


def test_a_stray_quotation_mark_quarantines_its_line(tmp_path):
    """A Nachname O"Neill (a '"' inside an unquoted field) rejected the whole file as "konnte nicht
    gelesen werden (ComputeError)", naming no row (a hostile-input review). The line is quarantined
    with its row and the rest loads; a quoted field with "" inside is read as ever."""
    rows = [
        '1;03.01.2022;SVB;O"Neill GmbH;44137;84.11;',
        '2;04.01.2022;SVB;"Bäckerei ""Zum Hirsch"" OHG";44137;84.11;',
        "3;05.01.2022;SVB;Firma;44137;84.11;",
    ]
    path = _uebergaenge(tmp_path, "wfbm_LWL-0101_2022-01_uebergaenge.csv", rows)
    batch = read_batch([path])
    assert not batch.files[path.name].rejected_because
    found = batch.findings.filter(level="row")
    assert found.select("row", "rule").rows() == [(2, "stray_quote")]
    assert batch.valid["wfbm_uebergaenge"]["Arbeitgeber"].to_list() == ['Bäckerei "Zum Hirsch" OHG', "Firma"]


# --- when a partner's period is complete ----------------------------------------------------------


def _deliveries(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=["source_system", "sender", "landschaftsverband", "kreisschluessel", "month", "parts_delivered",
                "is_complete"],
        orient="row",
    )  # fmt: skip


def test_a_jobcenter_waits_for_its_own_files_only():
    hagen = next(p for p in load_partners() if p.id == "jobcenter_05914")
    jc = ["bestand", "integrationen", "kunden", "massnahmen"]
    frame = _deliveries([
        ("jc", "05914", "LWL", "05914", "2024-12", jc, True),
        ("jc", "05914", "LWL", "05914", "2025-01", ["kunden"], False),
        ("jc", "05513", "LWL", "05513", "2025-02", jc, True),  # another Jobcenter is ahead
        ("wfbm", "LWL-0101", "LWL", "05914", "2025-02", ["personen"], False),
    ])  # fmt: skip
    ready = readiness(frame, hagen, TODAY)
    assert (ready.period, ready.through) == ("2024-12", "2024-12")
    assert ready.waiting == "2025-01 waits for 05914 2025-01 (delivered: kunden)"


def test_one_early_workshop_does_not_move_a_landschaftsverband_and_one_late_does_not_hold_it():
    lwl = next(p for p in load_partners() if p.id == "lwl")
    jc = ["bestand", "integrationen", "kunden", "massnahmen"]
    wf = ["aussenarbeitsplaetze", "personen", "uebergaenge"]
    rows = [("jc", "05914", "LWL", "05914", m, jc, True) for m in ("2024-11", "2024-12", "2025-12")]
    for n in range(10):
        for month in ("2024-11", "2024-12"):
            if (n, month) != (3, "2024-12"):  # one workshop never sends its December
                rows.append(("wfbm", f"LWL-{n:04d}", "LWL", "05914", month, wf, True))
    rows.append(("wfbm", "LWL-0001", "LWL", "05914", "2025-12", wf, True))  # one is a year early
    ready = readiness(_deliveries(rows), lwl, TODAY)
    assert ready.period == "2024"
    assert ready.waiting == "2025 waits for workshops 2025-12 (1 of 10 delivered)"


def test_nothing_after_today_counts():
    hagen = next(p for p in load_partners() if p.id == "jobcenter_05914")
    jc = ["bestand", "integrationen", "kunden", "massnahmen"]
    frame = _deliveries([("jc", "05914", "LWL", "05914", m, jc, True) for m in ("2026-11", "2099-12")])
    assert readiness(frame, hagen, TODAY).period == "2026-11"


def test_a_period_is_published_once_it_has_ended():
    assert period_problem("2026-11", TODAY) is None
    assert "has not ended yet (the latest monthly period is 2026-11)" in period_problem("2026-12", TODAY)
    assert "not ended" in period_problem("2026", TODAY) and period_problem("2025", TODAY) is None
    assert "not ended" in period_problem("2026-Q4", TODAY) and period_problem("2026-Q3", TODAY) is None
    assert "before 2019" in period_problem("2018", TODAY)


def test_a_transition_of_a_person_no_snapshot_holds_is_loaded_with_a_warning(tmp_path, spec_dir):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("lv_LWL_werkstaetten.csv", "wfbm_LWL-0101_2024-06_personen.csv"):
        shutil.copy2(spec_dir / "samples" / name, inbox / name)
    known = (
        (spec_dir / "samples" / "wfbm_LWL-0101_2024-06_personen.csv")
        .read_bytes()
        .split(b"\r\n")[1]
        .split(b";")[0]
    )
    rows = [
        f"{known.decode()};03.06.2024;SVB;Firma;44137;84.11;",
        "NIEMAND-1;04.06.2024;SVB;Firma;44137;84.11;",
    ]
    _uebergaenge(inbox, "wfbm_LWL-0101_2024-06_uebergaenge.csv", rows)
    con = duckdb.connect()
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    warnings = con.execute(
        "select source_row, column_name, level, value from ops.quarantine where rule = 'unknown_person'"
    ).fetchall()
    assert warnings == [(3, "Personennummer", "warning", None)]
    assert con.execute("select count(*) from landing.wfbm_uebergaenge").fetchone()[0] == 2, "both rows load"


def test_a_placement_of_a_person_not_in_its_months_snapshot_is_loaded_with_a_warning(tmp_path, spec_dir):
    """A placement counts for the BiAp-Quote with the month's persons in the work area: one whose
    Personennummer the month's Personenmeldung does not hold counted nowhere, without a word. A
    file mostly of such rows (another workshop's, under this one's name) gets a warning of its own."""
    samples = spec_dir / "samples"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    placements = "wfbm_LWL-0101_2024-06_aussenarbeitsplaetze.csv"
    for name in ("lv_LWL_werkstaetten.csv", "wfbm_LWL-0101_2024-06_personen.csv", placements):
        shutil.copy2(samples / name, inbox / name)
    numbers = [line.split(b";")[0] for line in (samples / placements).read_bytes().split(b"\r\n")[1:] if line]
    persons = {
        line.split(b";")[0]
        for line in (samples / "wfbm_LWL-0101_2024-06_personen.csv").read_bytes().split(b"\r\n")
    }
    con = duckdb.connect()
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    warned = con.execute(
        "select source_row, column_name, message from ops.quarantine where rule = 'unknown_person' order by 1"
    ).fetchall()
    # the sample's persons are an excerpt: the placements of the others are the ones told
    expected = [row for row, number in enumerate(numbers, start=2) if number not in persons]
    assert 0 < len(expected) < len(numbers)
    assert [row for row, _, _ in warned] == expected
    assert all(column == "Personennummer" and "06/2024" in message for _, column, message in warned)
    assert con.execute("select count(*) from landing.wfbm_aussenarbeitsplaetze").fetchone()[0] == len(numbers)
    assert not con.execute(
        "select 1 from ops.quarantine where rule = 'persons_of_another_workshop'"
    ).fetchall()

    # another workshop's placements of the month under this name: a correction, mostly unknown persons
    header, first, *_ = (samples / placements).read_bytes().split(b"\r\n")
    rest = b";".join(first.split(b";")[1:])
    rows = [header, first, *(b"09-%05d;" % n + rest for n in range(1, 12))]
    (inbox / placements).write_bytes(b"".join(row + b"\r\n" for row in rows))
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    file_level = con.execute(
        "select d.file_name, d.status, q.source_table from ops.quarantine q join ops.delivery_log d "
        "using (delivery_id) where q.rule = 'persons_of_another_workshop'"
    ).fetchall()
    assert file_level == [(placements, "loaded", "wfbm_aussenarbeitsplaetze")]


PLACEMENTS_SAMPLE = "wfbm_LWL-0101_2024-06_aussenarbeitsplaetze.csv"
PERSONS_SAMPLE = "wfbm_LWL-0101_2024-06_personen.csv"
FIRST_NAMES = ("Berta", "Clara", "Dora", "Emma", "Frieda", "Greta", "Hanna", "Ida", "Jule", "Karla", "Lotte")


def _persons_with(spec_dir: Path, numbers: list[bytes]) -> bytes:
    """The sample Personenmeldung and a person for each of ``numbers`` (the first row's, renamed)."""
    header, first, *rows = (
        (spec_dir / "samples" / PERSONS_SAMPLE).read_bytes().removesuffix(b"\r\n").split(b"\r\n")
    )
    _, surname, _, *rest = first.split(b";")
    added = [b";".join([n, surname, FIRST_NAMES[i].encode(), *rest]) for i, n in enumerate(numbers)]
    return b"".join(line + b"\r\n" for line in (header, first, *rows, *added))


def _deliver(con, tmp_path: Path, step: int, files: dict[str, bytes]) -> None:
    inbox = tmp_path / f"inbox{step}"
    inbox.mkdir()
    for name, content in files.items():
        (inbox / name).write_bytes(content)
    wh.ingest(con, inbox, tmp_path / "archive", KEY)


def test_a_placement_is_checked_when_its_months_snapshot_comes_later(tmp_path, spec_dir):
    """Whichever file of a month comes first: placements loaded before their Personenmeldung are
    checked when it comes, each row told once, with the placements' file; a correction of the
    Personenmeldung that holds their persons withdraws the warnings (it said "zählt nicht")."""
    samples = spec_dir / "samples"
    con = duckdb.connect()
    told = (
        "select d.file_name, count(*) from ops.quarantine q join ops.delivery_log d using (delivery_id) "
        "where q.rule = 'unknown_person' group by all"
    )
    register, placements = (
        (samples / "lv_LWL_werkstaetten.csv").read_bytes(),
        (samples / PLACEMENTS_SAMPLE).read_bytes(),
    )
    _deliver(con, tmp_path, 0, {"lv_LWL_werkstaetten.csv": register, PLACEMENTS_SAMPLE: placements})
    assert con.execute(told).fetchall() == [], "no snapshot of the month yet: nothing to compare"
    _deliver(con, tmp_path, 1, {PERSONS_SAMPLE: (samples / PERSONS_SAMPLE).read_bytes()})
    # the sample's persons are an excerpt: five of its six placements' persons are not in it
    assert con.execute(told).fetchall() == [(PLACEMENTS_SAMPLE, 5)]
    header, *rows = (samples / PERSONS_SAMPLE).read_bytes().removesuffix(b"\r\n").split(b"\r\n")
    reversed_rows = b"".join(line + b"\r\n" for line in (header, *reversed(rows)))  # the same persons
    _deliver(con, tmp_path, 2, {PERSONS_SAMPLE: reversed_rows})
    assert con.execute(told).fetchall() == [(PLACEMENTS_SAMPLE, 5)], "each row told once"
    numbers = [line.split(b";")[0] for line in placements.split(b"\r\n")[1:] if line]
    missing = [n for n in numbers if n not in {row.split(b";")[0] for row in rows}]
    _deliver(con, tmp_path, 3, {PERSONS_SAMPLE: _persons_with(spec_dir, missing)})
    assert con.execute(told).fetchall() == [], "the corrected Personenmeldung holds them all"
    assert con.execute("select count(*) from landing.wfbm_aussenarbeitsplaetze").fetchone()[0] == len(numbers)


def test_another_workshops_placements_are_told_whichever_file_came_first(tmp_path, spec_dir):
    """The file's warning does not depend on the order of arrival: placements of persons the
    month's Personenmeldung does not hold, loaded a run before it, are told when it comes."""
    samples = spec_dir / "samples"
    header, first, *_ = (samples / PLACEMENTS_SAMPLE).read_bytes().split(b"\r\n")
    rest = b";".join(first.split(b";")[1:])
    foreign = [b"09-%05d" % n for n in range(1, 12)]
    placements = b"".join(row + b"\r\n" for row in (header, first, *(n + b";" + rest for n in foreign)))
    file_level = (
        "select d.file_name, q.source_table from ops.quarantine q join ops.delivery_log d "
        "using (delivery_id) where q.rule = 'persons_of_another_workshop'"
    )
    con = duckdb.connect()
    register = (samples / "lv_LWL_werkstaetten.csv").read_bytes()
    _deliver(con, tmp_path, 0, {"lv_LWL_werkstaetten.csv": register, PLACEMENTS_SAMPLE: placements})
    assert con.execute(file_level).fetchall() == []
    _deliver(con, tmp_path, 1, {PERSONS_SAMPLE: (samples / PERSONS_SAMPLE).read_bytes()})
    assert con.execute(file_level).fetchall() == [(PLACEMENTS_SAMPLE, "wfbm_aussenarbeitsplaetze")]
    _deliver(con, tmp_path, 2, {PERSONS_SAMPLE: _persons_with(spec_dir, foreign)})
    assert con.execute(file_level).fetchall() == [], "the month's persons after all: withdrawn"


def test_a_transition_missing_from_its_own_months_file_is_loaded_with_a_warning(tmp_path, spec_dir):
    """A hostile review: a transition dated in an earlier, already reported month loaded without a
    word and changed that month's figures. A row re-sent with its Rückkehr (sources.md §1) and one
    dated in a month whose file never came are no such case."""
    first = tmp_path / "first"
    first.mkdir()
    for name in ("lv_LWL_werkstaetten.csv", "wfbm_LWL-0101_2024-06_personen.csv"):
        shutil.copy2(spec_dir / "samples" / name, first / name)
    known = [
        line.split(b";")[0].decode()
        for line in (spec_dir / "samples" / "wfbm_LWL-0101_2024-06_personen.csv")
        .read_bytes()
        .split(b"\r\n")[1:3]
    ]
    _uebergaenge(
        first, "wfbm_LWL-0101_2024-06_uebergaenge.csv", [f"{known[0]};03.06.2024;SVB;Firma;44137;84.11;"]
    )
    later = tmp_path / "later"
    later.mkdir()
    _uebergaenge(
        later,
        "wfbm_LWL-0101_2024-07_uebergaenge.csv",
        [
            f"{known[0]};03.06.2024;SVB;Firma;44137;84.11;15.07.2024",  # re-sent: it came back
            f"{known[1]};20.06.2024;SVB;Firma;44137;84.11;",  # June's file did not hold it
            f"{known[1]};02.04.2024;SVB;Firma;44137;84.11;",  # April's file never came
            f"{known[1]};08.07.2024;SVB;Firma;44137;84.11;",  # the month's own
        ],
    )
    con = duckdb.connect()
    wh.ingest(con, first, tmp_path / "archive", KEY)
    wh.ingest(con, later, tmp_path / "archive", KEY)
    warnings = con.execute(
        "select file_name, source_row, column_name, level, message from ops.quarantine where rule = 'late_transition'"
    ).fetchall()
    assert [w[:4] for w in warnings] == [("wfbm_LWL-0101_2024-07_uebergaenge.csv", 3, "Datum", "warning")]
    assert "06/2024" in warnings[0][4] and "20.06" not in warnings[0][4]
    assert con.execute("select count(*) from landing.wfbm_uebergaenge").fetchone()[0] == 5, "every row loads"


def test_excel_numbers_become_the_text_the_csv_export_writes():
    """A workbook whose Pers.-Nr. are numbers (4000001, ...) read as "4e+06" each ({:g}: six
    significant digits), so 288 persons became one (a hostile-input review). Whole numbers are
    written whole, others to Excel's 15 digits with a decimal comma, in a typed and a mixed column."""
    from ingest.workbooks import _column_text

    assert _column_text([4000001.0, 4000002.0, None], None) == ["4000001", "4000002", None]
    assert _column_text([4000001.0, "P-7", 1234567.891], None) == ["4000001", "P-7", "1234567,891"]
    assert _column_text([38.5, 7.0], None) == ["38,5", "7"]


def test_a_file_the_pipeline_may_not_read_is_left_and_the_rest_load(spec_dir, tmp_path, monkeypatch):
    """A file another user owns, mode 600, failed the whole run as an archive error, and every run
    after (it stays in the inbox). Opening it is refused with EACCES (simulated: the tests run as
    root, whom no mode stops): it is left in the inbox and named, and the other files load."""
    import errno

    import duckdb

    from ingest import inbox as inbox_module
    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    locked, readable = "jc_05914_202406_bestand.csv", "jc_05914_202406_kunden.csv"
    for name in (locked, readable):
        (inbox / name).write_bytes((spec_dir / "samples" / name).read_bytes())
    real_open = os.open

    def refusing(path, *args, **kwargs):
        if os.fsdecode(path).endswith(locked):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(inbox_module.os, "open", refusing)
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="locked")
        logged = con.execute("select file_name, status from ops.delivery_log").fetchall()
        ignored = con.execute("select entry_name, reason from ops.ignored_entries").fetchall()
    assert logged == [(readable, "loaded")]
    assert [name for name, _ in ignored] == [locked] and "not readable" in ignored[0][1]
    assert (inbox / locked).exists() and not (inbox / readable).exists()


def test_a_file_larger_than_the_free_space_is_left_and_the_rest_load(spec_dir, tmp_path):
    """A sparse file of 2 GiB (no block in the inbox) would have filled the disk as its archive
    copy and failed this run and every one after (a hostile-input review). A file larger than the
    free space beyond the minimum kept free is left in the inbox and named; the others load."""
    import duckdb

    from ingest import load
    from ingest.pseudonymise import PseudonymKey
    from teilhabe.disk import free_bytes

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    huge, readable = "wfbm_LWL-0101_2024-06_personen.csv", "jc_05914_202406_kunden.csv"
    (inbox / readable).write_bytes((spec_dir / "samples" / readable).read_bytes())
    with open(inbox / huge, "wb") as sparse:
        sparse.truncate(2 << 30)
    archive = tmp_path / "archive"
    limits = Limits(keep_free_bytes=max(free_bytes(tmp_path) - (1 << 30), 0))  # 1 GiB "free"
    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, archive, key, run_id="huge", limits=limits)
        logged = con.execute("select file_name, status from ops.delivery_log").fetchall()
        ignored = con.execute("select entry_name, reason from ops.ignored_entries").fetchall()
    assert logged == [(readable, "loaded")]
    assert [name for name, _ in ignored] == [huge] and "too large to archive: 2,048 MB" in ignored[0][1]
    assert (inbox / huge).exists() and not any(
        p.stat().st_size > 1 << 20 for p in archive.rglob("*") if p.is_file()
    )


def test_the_same_bytes_under_another_period_load_with_a_warning(spec_dir, tmp_path):
    """A snapshot sent again under the next month's name loaded without a word (a hostile-input
    review). It loads (a month may be a copy of the one before), with a warning naming the period
    whose bytes it repeats, in this run or a later one; a workshop's placements, which can stay the
    same for months, raise none."""
    import duckdb

    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    personen = (spec_dir / "samples" / "wfbm_LWL-0101_2024-06_personen.csv").read_bytes()
    placements = (spec_dir / "samples" / "wfbm_LWL-0101_2024-06_aussenarbeitsplaetze.csv").read_bytes()
    warned = "select file_name, message from ops.quarantine where rule = 'same_bytes_other_period'"
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        for month in ("06", "07"):
            (inbox / f"wfbm_LWL-0101_2024-{month}_personen.csv").write_bytes(personen)
            (inbox / f"wfbm_LWL-0101_2024-{month}_aussenarbeitsplaetze.csv").write_bytes(placements)
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="one")
        (inbox / "wfbm_LWL-0101_2024-08_personen.csv").write_bytes(personen)
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="two")
        statuses = {s for (s,) in con.execute("select status from ops.delivery_log").fetchall()}
        found = con.execute(warned + " order by file_name").fetchall()
    assert statuses == {"loaded"}
    assert [name for name, _ in found] == [
        "wfbm_LWL-0101_2024-07_personen.csv",
        "wfbm_LWL-0101_2024-08_personen.csv",
    ]
    assert all("gleich der Lieferung für 2024-06" in message for _, message in found)


def test_another_senders_bytes_are_refused_not_loaded_under_this_sender(spec_dir, tmp_path):
    """A Jobcenter's customer file copied under another Kreis replaced that Jobcenter's month, and
    K06 moved without a word (a hostile-input review): data rows byte for byte another sender's
    delivery, in the same run or a later one, are rejected, naming whose; a header-only file,
    alike for every sender, is no such copy."""
    import duckdb

    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    kunden = (spec_dir / "samples" / "jc_05914_202406_kunden.csv").read_bytes()
    (inbox / "jc_05914_202406_kunden.csv").write_bytes(kunden)
    (inbox / "jc_05112_202406_kunden.csv").write_bytes(kunden)
    for kreis in ("05914", "05112"):
        (inbox / f"jc_{kreis}_202406_massnahmen.csv").write_bytes(
            (spec_dir / "samples" / "jc_05914_202406_massnahmen.csv")
            .read_bytes()
            .splitlines(keepends=True)[0]
        )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="one")
        (inbox / "jc_05513_202407_kunden.csv").write_bytes(kunden)
        load.ingest(con, inbox, tmp_path / "archive", key, run_id="two")
        log = dict(con.execute("select file_name, status from ops.delivery_log").fetchall())
        senders = {s for (s,) in con.execute("select distinct sender from landing.jc_kunden").fetchall()}
        found = con.execute(
            "select file_name, message from ops.quarantine where rule = 'same_bytes_other_sender' order by all"
        ).fetchall()
    assert log["jc_05914_202406_kunden.csv"] == "loaded" and senders == {"05914"}
    assert log["jc_05112_202406_kunden.csv"] == log["jc_05513_202407_kunden.csv"] == "rejected"
    assert log["jc_05112_202406_massnahmen.csv"] == "loaded", "a header-only file is alike for all"
    assert [name for name, _ in found] == ["jc_05112_202406_kunden.csv", "jc_05513_202407_kunden.csv"]
    assert all("von 05914 für 2024-06" in message for _, message in found)


@contextlib.contextmanager
def _uploaded_in_turn(tmp_path, name: str, uploads: list[tuple[bytes, str]]):
    """A warehouse into which the file ``name`` was uploaded once per (bytes, day), each with that
    day as its modification time and ingested by a run of its own; yields the open connection."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / name
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        for run, (content, day) in enumerate(uploads):
            path.write_bytes(content)
            stamp = dt.datetime.fromisoformat(day).timestamp()
            os.utime(path, (stamp, stamp))
            wh.ingest(con, inbox, tmp_path / "archive", KEY, run_id=f"run{run}")
        yield con


def test_a_register_sent_again_to_restore_it_is_the_newest_version(spec_dir, tmp_path):
    """Register A, then B, then A again to undo B, uploaded with its old modification time kept:
    A was "dieselben Bytes wie Lieferung 1 (nichts geändert)" and B stayed in force; an upload
    keeping an old time became a past version (a hostile-input review). A register is a duplicate
    only of the one in force, and never dated before it."""
    register_a = (spec_dir / "samples" / "lv_LWL_werkstaetten.csv").read_bytes()
    register_b = register_a.replace(b";05513;", b";05512;", 1)
    assert register_b != register_a
    with _uploaded_in_turn(
        tmp_path,
        "lv_LWL_werkstaetten.csv",
        [(register_a, "2024-03-01"), (register_b, "2024-06-01"), (register_a, "2022-11-30")],
    ) as con:
        periods = con.execute("select status, period from ops.delivery_log order by delivery_id").fetchall()
    # A again takes B's day and replaces it: the register in force is A
    assert periods == [("loaded", "2024-03-01"), ("superseded", "2024-06-01"), ("loaded", "2024-06-01")]


def test_the_bytes_of_a_replaced_delivery_sent_again_change_nothing_and_say_what_stays(spec_dir, tmp_path):
    """A file, its correction, then the first bytes once more: identical to an earlier delivery, so
    a duplicate that changes nothing (sources.md), and its sender is told which delivery stays in
    force (it read "nichts geändert" as if its own file were)."""
    first = (spec_dir / "samples" / "jc_05914_202406_kunden.csv").read_bytes()
    lines = first.splitlines(keepends=True)
    corrected = b"".join(lines[:2] + lines[3:])  # one customer less
    assert corrected != first
    with _uploaded_in_turn(
        tmp_path,
        "jc_05914_202406_kunden.csv",
        [(first, "2024-07-10"), (corrected, "2024-07-12"), (first, "2024-07-14")],
    ) as con:
        log = con.execute(
            "select delivery_id, status, message from ops.delivery_log order by delivery_id"
        ).fetchall()
        in_force = con.execute("select distinct delivery_id from landing.jc_kunden").fetchall()
    assert [status for _, status, _ in log] == ["superseded", "loaded", "duplicate"]
    assert in_force == [(2,)], "the correction stays in force"
    assert log[2][2] == (
        "dieselben Bytes wie jc_05914_202406_kunden.csv vom 10.07.2024 (Lieferung 1), die Lieferung 2 "
        "ersetzt hat: nichts geändert, es gilt weiter Lieferung 2"
    )


def test_a_header_repeating_one_column_a_hundred_thousand_times_is_refused_in_one_line():
    """The duplicate check counted each column in the whole header (quadratic: 3 million columns,
    6 MB, held a run for hours). One pass; the finding names the column once."""
    from ingest.readers import read_delivery
    from schemas import SOURCE_TABLES

    header = ";".join(SOURCE_TABLES["wfbm_personen"].columns) + ";x" * 100_000
    result = read_delivery("wfbm_LWL-0101_2023-10_personen.csv", (header + "\r\n").encode("cp1252"))
    [issue] = result.issues
    assert (issue.rule, issue.column) == ("duplicate_column", "x") and len(issue.message) < 100


def test_a_first_data_row_on_the_headers_line_is_never_echoed(spec_dir):
    """A header file without its last line break, joined with the data ("cat kopf.csv daten.csv"),
    put a person's Personennummer, name and birth date into the header: they were named as columns
    "nicht vereinbart" in the log, ops.delivery_log and the Rückmeldung (a hostile-input review).
    Named are only a few header cells without digits; the rest by how many."""
    from ingest.readers import read_delivery

    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    person = lines[1].decode("cp1252").split(";")
    joined = b"\r\n".join([lines[0] + b";" + lines[1], *lines[2:]])
    [issue] = read_delivery(name, joined).issues
    assert issue.rule == "extra_column" and issue.column is None
    assert "Kopfzeile und erste Datenzeile auf einer Zeile" in issue.message
    assert not [value for value in person if len(value.strip()) > 2 and value.strip() in issue.message]
    [issue] = read_delivery(name, b"\r\n".join([lines[0] + b";Bemerkung", *lines[1:]])).issues
    assert (issue.rule, issue.column) == ("extra_column", "Bemerkung"), "a column's name is named"
    renamed = lines[0].replace(b"Nachname", person[0].encode())
    [issue] = read_delivery(name, b"\r\n".join([renamed, *lines[1:]])).issues
    assert issue.rule == "renamed_column" and person[0] not in issue.message, issue.message


def test_a_header_spelled_otherwise_or_ending_in_a_semicolon_is_told_so(spec_dir):
    """A header in small letters or with blanks around the names was told "keine Kopfzeile", and a
    semicolon at the end of every line "Spalte(n) '' nicht vereinbart" (a hostile-input review)."""
    from ingest.readers import read_delivery

    name = "wfbm_LWL-0101_2024-06_uebergaenge.csv"
    header, *rest = (
        (spec_dir / "samples" / "wfbm_LWL-0101_2024-08_uebergaenge.csv").read_bytes().split(b"\r\n")
    )
    for changed in (header.lower(), b" ; ".join(header.split(b";"))):
        [issue] = read_delivery(name, b"\r\n".join([changed, *rest])).issues
        assert issue.rule == "renamed_column" and "anders geschrieben" in issue.message, issue.message
    semicolons = b"\r\n".join(line + b";" if line else line for line in [header, *rest])
    [issue] = read_delivery(name, semicolons).issues
    assert issue.rule == "extra_column" and "Semikolon zu viel" in issue.message, issue.message


def test_a_fully_quoted_export_reads_as_the_plain_one(spec_dir, tmp_path):
    """Legal CSV, every field in quotes, the header too ("" for an empty field): the header was
    "missing" and every empty Austritt a value that is not a date (a hostile-input review)."""
    import csv
    import io

    from ingest.batch import read_batch

    name = "wfbm_LWL-0101_2024-06_personen.csv"
    plain = (spec_dir / "samples" / name).read_bytes()
    rows = list(csv.reader(io.StringIO(plain.decode("cp1252")), delimiter=";"))
    quoted = io.StringIO()
    csv.writer(quoted, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    (tmp_path / "plain").mkdir()
    (tmp_path / "quoted").mkdir()
    (tmp_path / "plain" / name).write_bytes(plain)
    (tmp_path / "quoted" / name).write_bytes(quoted.getvalue().encode("cp1252"))
    assert b'"";' in (tmp_path / "quoted" / name).read_bytes(), "the sample has empty fields"
    for by_table in (True, False):
        batches = [read_batch([tmp_path / kind / name], by_table=by_table) for kind in ("plain", "quoted")]
        assert not batches[1].rejected and batches[1].findings.is_empty(), batches[1].findings.rows()
        [plain_rows], [quoted_rows] = (list(b.valid.values()) for b in batches)
        assert quoted_rows.drop("_file").equals(plain_rows.drop("_file"))


@pytest.mark.parametrize(
    "name", ["wfbm_LWL-0101_2024-06_personen.csv", "Werkstätten Iserlohn - Meldung Juni 2024.xlsx"]
)
def test_a_file_of_more_rows_than_any_export_is_refused_before_its_rows_are_checked(spec_dir, name):
    """1.5 MB of ";;;;" rows (100,000, each failing a dozen rules) took a run to 5.6 GB, 63 MB to
    the kernel's OOM killer: a file with more data rows than TEILHABE_MAX_FILE_ROWS is rejected
    whole, named with its count, before a finding is made per row (here with a small limit)."""
    from ingest.batch import read_batch
    from teilhabe.settings import Limits

    path = spec_dir / "samples" / name
    rows = sum(o.rows_in for o in read_batch([path]).files.values())
    assert rows > 1
    [outcome] = read_batch([path], limits=Limits(max_file_rows=rows - 1)).files.values()
    assert outcome.rejected_because.startswith(f"zu viele Zeilen: {rows};")
    [outcome] = read_batch([path], limits=Limits(max_file_rows=rows)).files.values()
    assert not outcome.rejected_because


def test_lines_beyond_the_limit_are_counted_before_they_are_parsed(tmp_path, monkeypatch):
    """3.5 million lines of '"";;;;' (60 MB) took a run to 9.6 GB while they were parsed and their
    quotes checked, before the limit rejected them (a hostile-input review): the lines are counted
    first, and nothing parses a file above the limit."""
    from ingest import readers
    from ingest.batch import read_batch
    from teilhabe.settings import Limits

    header = "Personennummer;Datum;Art;Arbeitgeber;Arbeitgeber_PLZ;Branche_WZ;Rueckkehr"
    path = tmp_path / "wfbm_LWL-0101_2024-06_uebergaenge.csv"
    path.write_bytes((header + "\r\n" + '"";;;;;;\r\n' * 1_000).encode("cp1252"))

    def parsed(*_args, **_kwargs):
        raise AssertionError("a file above the limit was parsed")

    monkeypatch.setattr(readers, "_parse_file", parsed)
    monkeypatch.setattr(readers.PlainCsv, "takes", parsed)
    [outcome] = read_batch([path], limits=Limits(max_file_rows=999)).files.values()
    assert outcome.rejected_because.startswith("zu viele Zeilen: 1.000;")


def test_a_postcode_in_the_kreis_column_is_never_shown(spec_dir, tmp_path):
    """A file whose PLZ and Wohnort_Kreis were swapped showed every person's postcode as the value
    of "Kreisschlüssel nicht in der NRW-Referenz" (a hostile-input review): only a Kreisschlüssel
    of NRW's form (05xxx) is shown, and of a restored leading zero only what was one (5xxx)."""
    from ingest.batch import read_batch
    from ingest.readers import RESTORED_ZERO as RESTORED

    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().decode("cp1252").split("\r\n")
    at = lines[0].split(";").index("Wohnort_Kreis")
    for row, kreis in zip(range(1, 5), ("45899", "05999", "1067", "5512"), strict=True):
        fields = lines[row].split(";")
        fields[at] = kreis
        lines[row] = ";".join(fields)
    (tmp_path / name).write_bytes("\r\n".join(lines).encode("cp1252"))
    for by_table in (True, False):
        found = read_batch([tmp_path / name], by_table=by_table).findings.filter(pl.col("row") <= 5)
        shown = (
            found.filter(pl.col("column") == "Wohnort_Kreis")
            .select("row", "rule", "value")
            .sort("row", "rule")
        )
        assert shown.rows() == [
            (2, "known_kreis", None), (3, "known_kreis", "05999"), (4, "known_kreis", None),
            (4, "leading_zero_restored", None), (5, "leading_zero_restored", "5512"),
        ], shown.rows()  # fmt: skip
        restored = found.filter(pl.col("rule") == "leading_zero_restored").sort("row")["message"].to_list()
        assert restored == [RESTORED, f"{RESTORED} zu 05512"], "what it became, where it may be shown"


def test_a_register_names_only_its_own_workshops_and_none_recognised_in_2098(spec_dir, tmp_path):
    """A joint list of both Landschaftsverbände sent as the LWL's register made two current
    versions of the LVR's workshops, and every later build failed; a recognition date typed 2098
    took a workshop out of every KPI, silently (a hostile-input review). Both rows are quarantined."""
    from ingest.batch import read_batch

    lines = (spec_dir / "samples" / "lv_LWL_werkstaetten.csv").read_bytes().rstrip(b"\r\n").split(b"\r\n")
    at = lines[0].decode("cp1252").split(";").index("anerkannt seit")
    fields = lines[1].split(b";")
    fields[at] = b"01.01.2098"
    other = b";".join([b"LVR-0201", *lines[2].split(b";")[1:]])
    path = tmp_path / "lv_LWL_werkstaetten.csv"
    path.write_bytes(b"\r\n".join([lines[0], b";".join(fields), *lines[2:], other]) + b"\r\n")
    batch = read_batch([path])
    found = batch.findings.filter(pl.col("level") == "row").select("row", "rule", "value").sort("row").rows()
    assert found == [(2, "recognised_ahead", None), (len(lines) + 1, "other_landschaftsverband", "LVR-0201")]
    assert "LVR-0201" not in batch.valid["lv_werkstaetten"]["Werkstatt-Nr."].to_list()


def test_a_count_beyond_nine_digits_is_a_finding_not_a_null(spec_dir, tmp_path):
    """3,000,000,000 passed "eine ganze Zahl" and became NULL in the landing table's INTEGER; K12
    then said the Landschaftsverband's row was missing (a hostile-input review)."""
    from ingest.batch import read_batch

    name = "jc_05914_202406_bestand.csv"
    text = (spec_dir / "samples" / name).read_bytes().replace(b";7088;", b";3000000000;", 1)
    (tmp_path / name).write_bytes(text)
    found = read_batch([tmp_path / name]).findings.filter(pl.col("level") == "row")
    assert found.select("row", "column", "rule").rows() == [(2, "elb", "pattern")]
    assert "999.999.999" in found["message"][0]


def test_a_workbook_whose_name_and_title_block_disagree_is_refused(demo, tmp_path):
    """Last month's workbook copied under this month's name (or a title block not updated) loaded
    under its title block and replaced the real month, with "Befunde (0)" (a hostile-input review).
    A name that plainly says another workshop or month than B2 and B3 is refused, naming both; a
    name that says neither loads."""
    from ingest.batch import read_batch

    book = (demo / "LVR-0202 Werkstattmeldung 2023_01.xlsx").read_bytes()
    for name, said in (
        (
            "LVR-0202 Werkstattmeldung 2023_02.xlsx",
            "der Dateiname nennt 02/2023, der Kopfblock (B2, B3) 01/2023",
        ),
        (
            "LVR-0203 Werkstattmeldung 2023_01.xlsx",
            "der Dateiname nennt LVR-0203, der Kopfblock (B2, B3) LVR-0202",
        ),
        ("Werkstattmeldung Januar.xlsx", None),
    ):
        (tmp_path / name).write_bytes(book)
        [outcome] = read_batch([tmp_path / name]).files.values()
        assert (outcome.rejected_because or "").startswith(said) if said else not outcome.rejected_because, (
            name,
            outcome.rejected_because,
        )
        (tmp_path / name).unlink()


def test_a_stichtag_typed_as_text_is_told_so(demo):
    """B3 holding the text "31.01.2023" was told the Stichtag was no month's last day, which it is
    (a hostile-input review): the message says the cell holds text, not a date."""
    from ingest.readers import read_delivery

    name = "LVR-0202 Werkstattmeldung 2023_01.xlsx"

    def as_text(member: str, data: bytes) -> bytes:
        if not member.startswith("xl/worksheets/sheet"):
            return data
        return re.sub(
            rb'<c r="B3"[^>]*>.*?</c>', b'<c r="B3" t="inlineStr"><is><t>31.01.2023</t></is></c>', data
        )

    [issue] = read_delivery(name, _rewrite((demo / name).read_bytes(), as_text)).issues
    assert (issue.rule, issue.row, issue.column) == ("title_block", 3, "B")
    assert "B3 enthält kein Datum, sondern Text" in issue.message


def test_a_name_with_a_look_alike_hyphen_says_which_character():
    """ "wfbm_LWL‐0101_…" with U+2010 displays exactly like the agreed name and was told only the
    patterns; its workshop heard nothing (a hostile-input review). The finding names the character
    and the name meant; the workshop is addressed; the file is not loaded under a guessed name."""
    from ingest.identify import identify, sender_named_in

    name = "wfbm_LWL\u20100101_2024-12_personen.csv"
    issue = identify(name)
    assert isinstance(issue, Issue) and issue.rule == "file_name"
    assert "Stelle 9 das Zeichen U+2010" in issue.message
    assert issue.message.endswith("wfbm_LWL-0101_2024-12_personen.csv")
    assert sender_named_in(name) == ("LWL-0101", "2024-12")


def test_a_file_dated_before_any_export_arrived_now():
    """Unpacked from an archive without times, a file is dated 1980: its December 2024 was "after
    the month of receipt" and rejected (a hostile-input review). A time older than any export is
    no arrival time: the run's own time stands for it; a plausible time is kept."""
    import datetime as dt

    from ingest.inbox import InboxFile
    from ingest.load import received_at

    now = dt.datetime(2025, 1, 20, 9, 0)

    def dated(when: dt.datetime) -> InboxFile:
        ns = int(when.replace(tzinfo=dt.UTC).timestamp() * 1e9)
        return InboxFile(b"jc_05112_202412_kunden.csv", "jc_05112_202412_kunden.csv", 1, ns, ns, 1)

    assert received_at(dated(dt.datetime(1980, 1, 1)), now) == now
    assert received_at(dated(dt.datetime(2025, 1, 10, 8, 30)), now) == dt.datetime(2025, 1, 10, 8, 30)
    assert received_at(dated(dt.datetime(2031, 1, 1)), now) == now


def test_empty_lines_at_the_end_of_a_csv_are_skipped_with_a_warning(spec_dir, tmp_path):
    """An editor's or Excel's extra line breaks at the end rejected a whole file ("Zeile 3 hat 1
    Felder, die Kopfzeile 7"): they are skipped, named in one warning (one per line made two million
    warnings of a file of 4 MB), and the rows load."""
    from ingest.batch import read_batch

    name = "wfbm_LWL-0101_2024-06_personen.csv"
    plain = (spec_dir / "samples" / name).read_bytes()
    lines = plain.count(b"\n")
    for blank, message in (
        (1, "Leerzeile am Dateiende übersprungen"),
        (2, f"Leerzeilen am Dateiende übersprungen (Zeilen {lines + 1} bis {lines + 2})"),
        (200_000, f"Leerzeilen am Dateiende übersprungen (Zeilen {lines + 1} bis {lines + 200_000})"),
    ):
        (tmp_path / name).write_bytes(plain + b"\r\n" * blank)
        for by_table in (True, False):
            batch = read_batch([tmp_path / name], by_table=by_table)
            [outcome] = batch.files.values()
            assert not outcome.rejected_because and outcome.rows_in == lines - 1
            warned = batch.findings.filter(pl.col("rule") == "blank_row")
            assert warned.select("row", "level", "message").rows() == [(lines + 1, "warning", message)]


def test_a_field_of_blanks_only_is_empty(spec_dir, tmp_path):
    """A Nachname of "   " passed as given (a hostile-input review): blanks only are no value, in a
    CSV (both reading paths) as in a workbook's cells, so a required field says it is missing."""
    from ingest.batch import read_batch
    from ingest.workbooks import _column_text

    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    header, first = lines[0].split(b";"), lines[1].split(b";")
    first[header.index(b"Nachname")] = b"   "
    lines[1] = b";".join(first)
    (tmp_path / name).write_bytes(b"\r\n".join(lines))
    for by_table in (True, False):
        found = read_batch([tmp_path / name], by_table=by_table).findings
        found = found.filter((pl.col("level") == "row") & (pl.col("row") == 2))
        assert found.select("column", "rule").rows() == [("Nachname", "not_nullable")], found.rows()
    assert _column_text(["Meier", "   ", ""], None) == ["Meier", None, None]


def test_blanks_around_a_value_are_padding(spec_dir, tmp_path):
    """A Personennummer "4711 " beside "4711" made two persons of one (a hostile-input review):
    the blanks around a value are trimmed, in both reading paths and in workbook cells, so the
    repeated person is the same person twice, a duplicate row."""
    from ingest.workbooks import _cell_text, _column_text

    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    first = lines[1].split(b";")
    first[0] = b" " + first[0] + b"\t "
    lines.insert(-1, b";".join(first))
    (tmp_path / name).write_bytes(b"\r\n".join(lines))
    for by_table in (True, False):
        batch = read_batch([tmp_path / name], by_table=by_table)
        found = batch.findings.filter(pl.col("level") == "row")
        assert found.select("row", "rule").rows() == [(len(lines) - 1, "no_duplicate_row")], found.rows()
    assert _column_text([" Meier ", "\u00a0Ali"], None) == ["Meier", "Ali"]
    assert _cell_text("4711 ", None) == "4711"


def test_rows_pasted_in_utf8_into_a_windows_1252_file_are_named(spec_dir, tmp_path):
    """Rows pasted from a UTF-8 source into a Windows-1252 file ("MÃ¼ller") loaded without a word
    (a hostile-input review): they still load as delivered, each named in a warning with its
    column, in both reading paths; the file's own umlauts raise none."""
    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    columns = lines[0].decode("cp1252").split(";")
    with_umlaut = [i for i, line in enumerate(lines) if i and not line.isascii()]
    assert len(with_umlaut) >= 2
    pasted = with_umlaut[0]
    line = lines[pasted].decode("cp1252")
    lines[pasted] = line.encode("utf-8")
    column = columns[line[: next(i for i, c in enumerate(line) if ord(c) > 127)].count(";")]
    (tmp_path / name).write_bytes(b"\r\n".join(lines))
    for by_table in (True, False):
        batch = read_batch([tmp_path / name], by_table=by_table)
        found = batch.findings.filter(rule="utf8_in_cp1252")
        assert found.select("row", "column", "level").rows() == [(pasted + 1, column, "warning")]
        assert not batch.files[name].rows_quarantined and not batch.files[name].rejected_because


def test_a_free_text_longer_than_any_export_writes_is_a_row_fault(spec_dir, tmp_path):
    """6,200 names of 4,900 letters each (60 MB, every line within the reader's limit) held a run
    for three minutes in the names' encodings (a hostile-input review). A name longer than 100
    characters is a row fault, its value not shown (an identifier); 100 pass."""
    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    header = lines[0].split(b";")
    for index, length in ((1, 101), (2, 100)):
        fields = lines[index].split(b";")
        fields[header.index(b"Nachname")] = b"M" * length
        lines[index] = b";".join(fields)
    (tmp_path / name).write_bytes(b"\r\n".join(lines))
    batch = read_batch([tmp_path / name])
    found = batch.findings.filter(level="row")
    assert found.select("row", "column", "rule", "value").rows() == [(2, "Nachname", "max_length", None)]
    assert found["message"][0] == "länger als 100 Zeichen"
    company = _uebergaenge(
        tmp_path, "wfbm_LWL-0101_2022-01_uebergaenge.csv", [f"1;03.01.2022;SVB;{'F' * 250};44137;84.11;"]
    )
    [value] = read_batch([company]).findings.filter(rule="max_length")["value"].to_list()
    assert value is None, "only a value shaped like a code of its column is shown"


def test_a_malformed_residence_postcode_is_never_shown(spec_dir, tmp_path):
    """A person's PLZ is dropped at the door (privacy.md: the Kreis stays), but a malformed one
    was echoed as the finding's value into the sender's Rückmeldung and ops.quarantine (a privacy
    attack). It is withheld like a name."""
    for name, column, bad in (
        ("wfbm_LWL-0101_2024-06_personen.csv", "PLZ", "4588"),
        ("jc_05914_202406_kunden.csv", "plz", "581O9"),
    ):
        encoding = "cp1252" if name.startswith("wfbm") else "utf-8-sig"
        end = "\r\n" if name.startswith("wfbm") else "\n"
        header, first, *rest = (spec_dir / "samples" / name).read_bytes().decode(encoding).split(end)
        fields = first.split(";")
        fields[header.split(";").index(column)] = bad
        (tmp_path / name).write_bytes(end.join([header, ";".join(fields), *rest]).encode(encoding))
        found = read_batch([tmp_path / name]).findings.filter(level="row")
        assert found.select("row", "column", "rule", "value").rows() == [(2, column, "pattern", None)], name


def test_a_held_file_released_after_its_correction_replaces_nothing(spec_dir, tmp_path):
    """A workshop's June file was held (no register named the workshop); its correction came with
    the register in the next run and loaded, and then the release loaded the held file again over
    it (a hostile-input review). A released file replaces nothing the pipeline took after it: it is
    superseded by the correction, whose rows stay. A file from the inbox replaces the one before it
    whatever its modification time says (senders' tools keep old times)."""
    import duckdb

    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    register = (spec_dir / "samples" / "lv_LWL_werkstaetten.csv").read_bytes()
    name = "wfbm_LWL-0101_2024-06_personen.csv"
    held = (spec_dir / "samples" / name).read_bytes()
    header, *rows = held.split(b"\r\n")[:-1]
    correction = b"\r\n".join([header, *rows[:2]]) + b"\r\n"

    def deliver(file: str, content: bytes, day: int) -> None:
        (inbox / file).write_bytes(content)
        stamp = dt.datetime(2024, 7, day).timestamp()
        os.utime(inbox / file, (stamp, stamp))

    without = b"\r\n".join(line for line in register.split(b"\r\n") if not line.startswith(b"LWL-0101"))
    deliver("lv_LWL_werkstaetten.csv", without, 1)
    deliver(name, held, 5)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, archive, key, run_id="one")
        deliver(name, correction, 20)
        deliver("lv_LWL_werkstaetten.csv", register, 21)
        load.ingest(con, inbox, archive, key, run_id="two")
        log = con.execute(
            "select delivery_id, status, superseded_by from ops.delivery_log where file_name = ? order by 1",
            [name],
        ).fetchall()
        loaded = con.execute("select count(*), min(delivery_id) from landing.wfbm_personen").fetchone()
        (first, *_), corrected = log[0], next(entry for entry in log if entry[1] == "loaded")
        assert log[0][1] == "released" and loaded == (2, corrected[0]), (log, loaded)
        released = [entry for entry in log if entry[0] not in (first, corrected[0])]
        assert [(status, by) for _, status, by in released] == [("superseded", corrected[0])], log
        deliver(name, b"\r\n".join([header, *rows[:3]]) + b"\r\n", 2)  # dated before both
        load.ingest(con, inbox, archive, key, run_id="three")
        newest = con.execute("select max(delivery_id) from ops.delivery_log").fetchone()[0]
        assert con.execute("select count(*), min(delivery_id) from landing.wfbm_personen").fetchone() == (
            3,
            newest,
        )


def test_many_utf8_rows_are_named_up_to_a_limit_and_counted(tmp_path):
    """A file of many such rows gets ROWS_NAMED warnings with their rows and one counting the
    rest, not one per row (a review: 200,000 warnings from 8 MB)."""
    from ingest.readers import ROWS_NAMED

    rows = [f"{n};03.01.2022;SVB;Bäckerei;44137;84.11;".encode() for n in range(ROWS_NAMED + 5)]
    rows.append("99;03.01.2022;SVB;Bäckerei;44137;84.11;".encode("cp1252"))
    path = tmp_path / "wfbm_LWL-0101_2022-01_uebergaenge.csv"
    path.write_bytes(b"\r\n".join([UEBERGAENGE_HEADER.encode(), *rows]) + b"\r\n")
    found = read_batch([path]).findings.filter(rule="utf8_in_cp1252")
    assert found["row"].to_list() == [None, *range(2, 2 + ROWS_NAMED)]  # findings: file first
    assert (
        set(found["column"].drop_nulls()) == {"Arbeitgeber"}
        and "auch 5 weitere Zeilen" in found["message"][0]
    )


def test_a_csv_part_replacing_a_workbooks_sheet_leaves_the_workbook_loaded(spec_dir, tmp_path):
    """A workshop's June workbook, then a CSV file of its June persons: the CSV replaces the
    workbook's persons and its other sheets stay in force. The workbook was logged superseded whole
    (its Rückmeldung said "ersetzt"); it stays loaded, told as partly replaced."""
    import shutil

    import duckdb

    from ingest import load
    from ingest.pseudonymise import PseudonymKey

    key = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    book = "Werkstätten Iserlohn - Meldung Juni 2024.xlsx"
    for name in ("lv_LWL_werkstaetten.csv", book):
        shutil.copyfile(spec_dir / "samples" / name, inbox / name)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        load.ingest(con, inbox, archive, key, run_id="workbook")
        [(workbook,)] = con.execute(
            "select delivery_id from ops.delivery_log where format = 'wfbm_xlsx'"
        ).fetchall()
        kept = {
            table: con.execute(
                f"select count(*) from landing.{table} where delivery_id = ?", [workbook]
            ).fetchone()[0]
            for table in ("wfbm_aussenarbeitsplaetze", "wfbm_uebergaenge")
        }
        assert all(kept.values()), kept
        personen = (spec_dir / "samples" / "wfbm_LWL-0101_2024-06_personen.csv").read_bytes()
        (inbox / "wfbm_LWL-0102_2024-06_personen.csv").write_bytes(personen)
        load.ingest(con, inbox, archive, key, run_id="csv")
        status, by, message = con.execute(
            "select status, superseded_by, message from ops.delivery_log where delivery_id = ?", [workbook]
        ).fetchone()
        assert (status, by) == ("loaded", None) and "teilweise ersetzt durch Lieferung" in message
        assert {
            table: con.execute(
                f"select count(*) from landing.{table} where delivery_id = ?", [workbook]
            ).fetchone()[0]
            for table in (*kept, "wfbm_personen")
        } == {**kept, "wfbm_personen": 0}


def test_a_birth_date_after_the_stichtag_is_a_row_fault_and_not_shown(spec_dir, tmp_path):
    """A person born after the Stichtag loaded without a finding (a hostile-input review). It is a
    row fault naming the Stichtag; the date, an identifier, is not shown, and it says nothing
    about the file's period (no file is rejected for it)."""
    name = "wfbm_LWL-0101_2024-06_personen.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    header = lines[0].split(b";")
    for index in (1, 2, 3):
        fields = lines[index].split(b";")
        fields[header.index(b"Geburtsdatum")] = b"01.07.2024"
        lines[index] = b";".join(fields)
    (tmp_path / name).write_bytes(b"\r\n".join(lines))
    batch = read_batch([tmp_path / name])
    assert not batch.files[name].rejected_because
    found = batch.findings.filter(rule="born_after_stichtag")
    assert found.select("row", "column", "value").rows() == [
        (2, "Geburtsdatum", None),
        (3, "Geburtsdatum", None),
        (4, "Geburtsdatum", None),
    ]
    assert "30.06.2024" in found["message"][0]


def test_a_name_without_a_letter_is_a_row_fault(spec_dir, tmp_path):
    """A name whose normalisation (privacy.md §1) leaves no letter ("????????": letters lost in an
    export to Windows-1252, or a name in Cyrillic) gave the empty name, and every such person born
    on one day one person key: two different people in two agencies were linked as one (a linkage
    review). Such a row is quarantined, its value not shown; a letter with an accent or umlaut, or
    in a ligature or fullwidth form, is a letter."""
    cases = {  # file: {row: (column, value, quarantined)}
        "wfbm_LWL-0101_2024-06_personen.csv": {
            1: ("Nachname", "????????", True), 2: ("Vorname", "Ø", True),
            3: ("Vorname", "É", False), 4: ("Nachname", "Œuvre", False),
        },
        "jc_05914_202406_kunden.csv": {
            1: ("vorname", "Сергей", True), 2: ("nachname", "ﬀ", False), 3: ("nachname", "Ｍüller", False),
        },
    }  # fmt: skip
    for name, rows in cases.items():
        encoding = "cp1252" if name.startswith("wfbm") else "utf-8"
        lines = (spec_dir / "samples" / name).read_bytes().split(b"\n")  # CRLF or LF
        header = lines[0].split(b";")
        for index, (column, value, _) in rows.items():
            fields = lines[index].split(b";")
            fields[header.index(column.encode())] = value.encode(encoding)
            lines[index] = b";".join(fields)
        (tmp_path / name).write_bytes(b"\n".join(lines))
        found = read_batch([tmp_path / name]).findings.filter(rule="has_letter")
        expected = [(index + 1, column, None) for index, (column, _, bad) in rows.items() if bad]
        assert found.select("row", "column", "value").rows() == expected, name
        assert "keinen Buchstaben" in found["message"][0]


def test_the_letters_a_name_keeps_are_those_of_its_normalisation():
    """The contract's character class (schemas/rules.py) against the person key's normalisation
    itself, over every code point of Unicode: a name passes exactly when it keeps a letter a-z."""
    from ingest.pseudonymise import normalise_name
    from schemas.rules import latin_letter

    points = [p for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF]
    characters = pl.Series([chr(p) for p in points])
    in_class = characters.str.contains(latin_letter()).to_list()
    keeps = [bool(normalise_name(c)) for c in characters]
    assert in_class == keeps
    assert sum(keeps) > 1_000, "the accented, fullwidth and mathematical letters are there"


def test_a_row_repeated_in_a_register_is_set_aside(spec_dir, tmp_path):
    """A register line sent twice loaded the workshop twice without a finding (a mutation review):
    the repeat is set aside as in every other file with a key, and the first one loads."""
    name = "lv_LWL_werkstaetten.csv"
    lines = (spec_dir / "samples" / name).read_bytes().split(b"\r\n")
    lines.insert(3, lines[2])
    (tmp_path / name).write_bytes(b"\r\n".join(lines))
    batch = read_batch([tmp_path / name])
    found = batch.findings.filter(pl.col("level") == "row")
    assert found.select("row", "rule", "value").rows() == [(4, "no_duplicate_row", "Zeile 3")]
    registered = batch.valid["lv_werkstaetten"]["Werkstatt-Nr."]
    assert registered.len() == len([line for line in lines[1:] if line]) - 1 and registered.is_unique().all()


def test_cells_calamine_reads_without_a_word_are_findings(demo, tmp_path):
    """What a mutation review of the readers found calamine to read silently: a shared-string index
    out of range (as the workbook's first text), a cell address given twice (the last cell wins: a
    row written over the next), a formula without a stored result (empty), a true/false cell ("True")
    and an error cell (#NV). The first two reject the file as damaged, the others set their row
    aside naming the cell; the clean workbook loads every row."""
    workbook = sorted(demo.glob("*Werkstattmeldung*.xlsx"))[0]
    clean = workbook.read_bytes()

    def changed(old: bytes, new: bytes) -> bytes:
        def change(name: str, data: bytes) -> bytes:
            if name == "xl/worksheets/sheet1.xml":
                assert old in data
                return data.replace(old, new, 1)
            return data

        return _rewrite(clean, change)

    def read(content: bytes):
        (tmp_path / workbook.name).write_bytes(content)
        batch = read_batch([tmp_path / workbook.name])
        return batch, batch.files[workbook.name]

    batch, outcome = read(clean)
    loaded = batch.valid["wfbm_personen"].height
    assert not outcome.rejected_because and outcome.rows_quarantined == 0
    sheet = zipfile.ZipFile(workbook).read("xl/worksheets/sheet1.xml")
    cell = re.search(rb'<c r="F6"[^>]*>.*?</c>', sheet).group(0)  # the first person's PLZ
    for damage, words in (
        (b'<c r="F6" t="s"><v>1e3</v></c>', "keinen Text"),
        (b"<c r='F6' t='s'><v xml:space=\"preserve\">99999</v></c>", "keinen Text"),
        (cell + cell, "F6 steht zweimal"),
        (cell.replace(b'r="F6"', b'r="f6"'), "f6"),  # lower case: calamine put it elsewhere
        (cell.replace(b'r="F6"', b'r="F5"'), "F5"),  # before the row of the cell written before it
    ):
        _, outcome = read(changed(cell, damage))
        assert outcome.rejected_because and "beschädigt" in outcome.rejected_because, damage
        assert words in outcome.rejected_because
    for odd, rule in (
        (b'<c r="F6"><f>SUMME(A1)</f></c>', "formula_without_value"),
        (b'<c r="F6"><f>SUMME(A1)</f><v/></c>', "formula_without_value"),  # as openpyxl writes it
        (b'<c r="F6" t="b"><v>1</v></c>', "boolean_cell"),
        (b'<c r="F6" t="e"><v>#N/A</v></c>', "error_cell"),
    ):
        batch, outcome = read(changed(cell, odd))
        found = batch.findings.filter(pl.col("level") == "row")
        assert found.select("row", "column", "rule").rows() == [(6, "PLZ", rule)], found.rows()
        assert "Zelle F6" in found["message"][0]
        assert batch.valid["wfbm_personen"].height == loaded - 1 and outcome.rows_quarantined == 1

    def elsewhere(name: str, data: bytes) -> bytes:  # Excel's own elements with addresses, legal
        if name == "xl/worksheets/sheet1.xml":
            return data.replace(
                b"</sheetData>", b'</sheetData><cellWatches><cellWatch r="F6"/></cellWatches>'
            )
        return data.replace(b"</sst>", b"<si/></sst>") if name == "xl/sharedStrings.xml" else data

    batch, outcome = read(_rewrite(clean, elsewhere))
    assert not outcome.rejected_because and batch.valid["wfbm_personen"].height == loaded

    def recalculated(name: str, data: bytes) -> bytes:  # xlsxwriter's formulas: 0 until Excel calculates
        if name == "xl/workbook.xml":
            return data.replace(b"</workbook>", b'<calcPr fullCalcOnLoad="1"/></workbook>')
        return (
            data.replace(cell, b'<c r="F6"><f>A1</f><v>0</v></c>')
            if name == "xl/worksheets/sheet1.xml"
            else data
        )

    batch, _ = read(_rewrite(clean, recalculated))
    assert batch.findings.filter(pl.col("level") == "row")["rule"].to_list() == ["formula_without_value"]

    # Merged cells keep their value in the first cell only: the others read as empty. A PLZ (which
    # may be empty) merged over rows 6-8 made rows 7 and 8 persons without a PLZ, without a word;
    # a merged title block above the header is no finding.
    def merged(*ranges: bytes) -> bytes:
        cells = b"".join(b'<mergeCell ref="%s"/>' % r for r in ranges)
        return changed(b"</sheetData>", b"</sheetData><mergeCells>" + cells + b"</mergeCells>")

    batch, outcome = read(merged(b"F6:F8", b"A1:C1"))
    found = batch.findings.filter(pl.col("level") == "row")
    assert found.select("row", "column", "rule").rows() == [
        (7, "PLZ", "merged_cell"),
        (8, "PLZ", "merged_cell"),
    ]
    assert "Zelle F7" in found["message"][0] and "Zellverbund" in found["message"][0]
    assert batch.valid["wfbm_personen"].height == loaded - 2 and not outcome.rejected_because
    # a range as large as Excel allows is cut to the sheet: every row is set aside (in the first,
    # every cell after A6 is empty)
    _, outcome = read(merged(b"A6:XFD1048576"))
    assert outcome.rows_quarantined == loaded and not outcome.rejected_because
    # ranges that together claim more cells than a sheet may hold are refused, not walked; ranges
    # beside the named columns are no work at all
    _, outcome = read(merged(*[b"A6:XFD1048576"] * 1000))
    assert outcome.rejected_because and "überlappen" in outcome.rejected_because
    batch, outcome = read(merged(*[b"Z6:Z1048576"] * 20_000))
    assert not outcome.rejected_because and batch.valid["wfbm_personen"].height == loaded

    # A name of "row " and "<c " runs without '>' made the patterns scan to the end from each start:
    # 0.4 MB took minutes (the worker's time limit rejected the file). Now it is an over-long name.
    name = re.search(rb'<c r="B6"[^>]*>.*?</c>', sheet).group(0)
    long_name = b'<c r="B6" t="inlineStr"><is><t>' + b"row &lt;c " * 50_000 + b"</t></is></c>"
    batch, outcome = read(changed(name, long_name))
    assert not outcome.rejected_because
    assert batch.findings.filter(pl.col("level") == "row").select("row", "rule").rows() == [(6, "max_length")]


def test_a_count_larger_than_the_count_it_is_part_of_is_a_row_fault(demo, tmp_path):
    """Headers swapped without their data (elb and arbeitslose) loaded more unemployed than
    employable recipients with only a warning that the columns were reordered (a mutation review):
    a part larger than its whole sets the row aside, naming the column."""
    bestand = sorted(demo.glob("jc_*_bestand.csv"))[0]
    header, *rows = bestand.read_bytes().split(b"\n")
    swapped = header.replace(b"elb;arbeitslose", b"arbeitslose;elb")
    assert swapped != header
    path = tmp_path / bestand.name
    path.write_bytes(b"\n".join([swapped, *rows]))
    batch = read_batch([path])
    found = batch.findings.filter(pl.col("level") == "row")
    data_rows = len([r for r in rows if r])
    assert found.select("row", "column", "rule").rows() == [
        (n, "arbeitslose", "part_of") for n in range(2, data_rows + 2)
    ]
    assert not read_batch([bestand]).findings.filter(pl.col("level") == "row").height


def test_title_blocks_that_disagree_are_named_sheet_by_sheet(demo, tmp_path):
    """A workbook whose sheets name different workshops or Stichtage was rejected without saying
    which (a mutation review): the message names each sheet's Werkstatt-Nr. and Stichtag."""
    workbook = sorted(demo.glob("*Werkstattmeldung*.xlsx"))[0]

    def later(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet2.xml":
            return data
        stichtag = re.search(rb'<c r="B3"[^>]*><v>(\d+)</v></c>', data)
        day = dt.date(1899, 12, 30) + dt.timedelta(days=int(stichtag.group(1)))
        next_end = (day + dt.timedelta(days=1)).replace(day=28) + dt.timedelta(days=4)
        next_end -= dt.timedelta(days=next_end.day)
        serial = (next_end - dt.date(1899, 12, 30)).days
        return data.replace(
            stichtag.group(0), stichtag.group(0).replace(stichtag.group(1), str(serial).encode())
        )

    path = tmp_path / workbook.name
    path.write_bytes(_rewrite(workbook.read_bytes(), later))
    found = read_batch([path]).findings.filter(level="file")
    assert found.select("rule", "row", "column").rows() == [("title_block", 2, "B")]
    message = found["message"][0]
    sheets = list(WORKBOOK_SHEETS["wfbm_xlsx"])
    assert (
        all(f"{sheet}: " in message for sheet in sheets)
        and message.count("LWL-") + message.count("LVR-") == 3
    )


def test_a_utf8_file_cut_inside_a_character_is_named_cut_not_the_wrong_encoding(demo, tmp_path):
    """A Jobcenter's UTF-8 file cut in transfer inside an umlaut was rejected as "kein UTF-8
    (Windows-1252?)" (a mutation review): it is named as a file cut in transfer. A wrong byte
    elsewhere stays the wrong encoding."""
    kunden = sorted(demo.glob("jc_*_kunden.csv"))[0]
    content = kunden.read_bytes()
    at = next(
        i for i in range(len(content) // 2, len(content)) if content[i] >= 0xC0
    )  # a character's first byte
    path = tmp_path / kunden.name
    path.write_bytes(content[: at + 1])
    found = read_batch([path]).findings.filter(level="file")
    assert found["rule"].to_list() == ["no_final_line_break"] and "abgeschnitten" in found["message"][0]
    path.write_bytes(content[:at] + b"\xff" + content[at:])
    assert read_batch([path]).findings.filter(level="file")["rule"].to_list() == ["wrong_encoding"]


def test_a_file_dated_after_2262_is_taken_like_any_other(spec_dir, tmp_path):
    """A modification time beyond 64 bits of nanoseconds (touch -d 2300-01-01; rsync keeps such
    times) could not be stored: every run stopped at it, and the files beside it waited (a
    hostile-input review)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = ["jc_05914_202406_kunden.csv", "lv_LWL_werkstaetten.csv", "wfbm_LWL-0101_2024-06_personen.csv"]
    for name in names:
        shutil.copyfile(spec_dir / "samples" / name, inbox / name)
    far = int(dt.datetime(2300, 1, 1, tzinfo=dt.UTC).timestamp())
    os.utime(inbox / names[2], (far, far))
    if os.stat(inbox / names[2]).st_mtime_ns <= 2**63 - 1:
        pytest.skip("this file system cannot hold a time after 2262")
    con = duckdb.connect()
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    taken = con.execute("select file_name, status, received_at from ops.delivery_log order by 1").fetchall()
    assert [(name, status) for name, status, _ in taken] == [(name, "loaded") for name in names]
    assert all(received <= dt.datetime.now(dt.UTC).replace(tzinfo=None) for *_, received in taken)


def test_a_workbook_weighs_its_unpacked_bytes_in_a_batch(tmp_path):
    """A workbook of 66 KB held 45,000 faulty rows: thirty of them, 2 MB within every limit, took a
    run to 7 GB (a hostile-input review). Against the bytes a batch may read, a zip weighs what it
    unpacks to (its central directory's sizes, nothing unpacked), at most the cap; a zip whose
    directory is not what a workbook writes weighs the cap; any other file its size."""
    from ingest.chunk import Arrival
    from ingest.inbox import read_weight
    from ingest.load import _chunks

    def entry(path: Path) -> InboxFile:
        return InboxFile.of(os.fsencode(path), path.name, os.stat(path))

    sheet = b"<row><c><v>1</v></c></row>" * 400_000  # 10.4 MB of XML, a few KB packed
    books = []
    for n in range(3):
        path = tmp_path / f"Meldung {n}.xlsx"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
            book.writestr("xl/worksheets/sheet1.xml", sheet)
            book.writestr("[Content_Types].xml", b"<Types/>")
        books.append(entry(path))
    assert books[0].size < 100_000
    assert read_weight(books[0], 1 << 30) == len(sheet) + len(b"<Types/>")
    assert read_weight(books[0], 1 << 20) == 1 << 20, "at most the cap"
    broken = tmp_path / "kaputt.xlsx"
    data = (tmp_path / "Meldung 0.xlsx").read_bytes()
    broken.write_bytes(data[: data.rfind(b"PK\x05\x06") + 10])  # its end record cut
    assert read_weight(entry(broken), 1 << 30) == 1 << 30
    text = tmp_path / "jc_05914_202406_kunden.csv"
    text.write_bytes(b"kundennummer;x\r\n" * 10)
    assert read_weight(entry(text), 1 << 30) == 160

    # two such workbooks exceed a batch of 16 MB: each is read in a chunk of its own
    now = dt.datetime(2024, 7, 1)
    chunks = _chunks(
        [Arrival(book, now, book.mtime_ns) for book in books], 100, Limits(max_batch_bytes=16 << 20)
    )
    assert [len(chunk) for chunk in chunks] == [1, 1, 1]
