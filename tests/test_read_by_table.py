"""Reading the many monthly CSV files table by table (one parse per table, issue 18) must give
exactly what reading each file alone gives: the same outcome per file, the same findings (file,
row, column, rule, message, value) and the same valid rows, on an inbox with injected faults and on
files made to trip each per-line check."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from ingest import readers
from ingest.batch import read_batch
from tests.hostile import UEBERGAENGE_HEADER


def _per_line_faults(folder: Path, demo: Path) -> dict[str, str | None]:
    """Files that pass the whole-file checks and fail (or pass) a per-line one; -> expected rule."""
    personen = (demo / "wfbm_LWL-0101_2024-01_personen.csv").read_bytes()
    header, *lines = personen.decode("cp1252").split("\r\n")[:-1]
    # January's file stands for later months: its leavers of January stay (no Austritt before the month)
    austritt = header.split(";").index("Austritt")
    lines = [
        ";".join("" if i in (austritt, austritt + 1) else f for i, f in enumerate(line.split(";")))
        for line in lines
    ]
    expected: dict[str, str | None] = {}

    def write(name: str, text: str, encoding: str, rule: str | None) -> None:
        (folder / name).write_bytes(text.encode(encoding))
        expected[name] = rule

    def personen_file(period: str, body: list[str], rule: str | None) -> None:
        write(f"wfbm_LWL-0101_{period}_personen.csv", "\r\n".join([header, *body]) + "\r\n", "cp1252", rule)

    short_kreis = [line.replace(";05", ";5", 1) for line in lines[:3]] + lines[3:]
    personen_file("2024-02", short_kreis, None)  # leading zeros restored, with a warning per row
    personen_file("2024-03", [*lines[:5], lines[5] + ";extra", *lines[6:]], None)  # row 7 quarantined
    personen_file("2024-04", [*lines[:2], lines[2] + "x" * 12000, *lines[3:]], "line_too_long")
    personen_file("2024-05", [*lines[:1], ";;;;", lines[1] + ";", *lines[2:]], None)
    quoted = [f'"{line}"' if i == 3 else line for i, line in enumerate(lines)]  # one field, quoted
    personen_file("2024-06", quoted, None)
    personen_file("2024-09", [line + ";" for line in lines], "field_count")  # every line: rejected
    personen_file("2024-10", [*lines[:3], "", *lines[3:]], None)  # an empty line inside: row 5, "1 Feld"
    personen_file("2024-07", [], None)  # the header only
    personen_file("2024-08", [*lines[:4], "x" * 11000 + ";" * 3, lines[4] + ";"], "line_too_long")
    uebergaenge = [  # valid but for the first's Art: a file of no valid row is rejected whole
        '4711;15.03.2024;BIAP;"Bäckerei ""Zum Hirsch"" OHG";44135;10.71;',
        '4712;16.03.2024;SVB;"Müller; Söhne";44135;47.11;',  # a delimiter inside quotes
        '4713;17.03.2024;SVB;"Meier ""Mitte";44135;"47.11";',
    ]
    write("wfbm_LWL-0101_2024-03_uebergaenge.csv", UEBERGAENGE_HEADER + "\r\n" + "\r\n".join(uebergaenge) + "\r\n",
          "cp1252", None)  # fmt: skip
    # a quoted field over two lines (Excel's Alt+Enter): one record; rows counted by record
    two_lines = [*uebergaenge[:1], '4714;18.03.2024;SVB;"Firma', 'zwei Zeilen";44135;47.11;',
                 "4716;19.03.2024;SVB;Firma;44135;47.11;X", "4717;20.03.2024;SVB;MÃ¼ller GmbH;44135;47.11;"]  # fmt: skip
    write("wfbm_LWL-0101_2024-04_uebergaenge.csv", UEBERGAENGE_HEADER + "\r\n" + "\r\n".join(two_lines) + "\r\n",
          "cp1252", None)  # fmt: skip
    # quotes opened and never closed: no record, on every line
    unclosed = ['4714;18.03.2024;SVB;"Firma;44135;47.11;', '4715;19.03.2024;SVB;"Firma;44135;47.11;']
    write("wfbm_LWL-0101_2024-07_uebergaenge.csv", UEBERGAENGE_HEADER + "\n" + "\n".join(unclosed) + "\n",
          "cp1252", "stray_quote")  # fmt: skip
    miscounted = [*uebergaenge[:2], '4715;19.03.2024;SVB;"A;B";44135;47.11']
    write("wfbm_LWL-0101_2024-05_uebergaenge.csv", UEBERGAENGE_HEADER + "\n" + "\n".join(miscounted) + "\n",
          "cp1252", None)  # fmt: skip
    mixed = UEBERGAENGE_HEADER + "\r\n" + uebergaenge[0] + "\n" + uebergaenge[1] + "\r\n"
    write("wfbm_LWL-0101_2024-06_uebergaenge.csv", mixed, "cp1252", None)
    massnahmen_header = (demo / "jc_05914_202401_massnahmen.csv").read_text("utf-8-sig").split("\n")[0]
    massnahmen = [
        '"914D000001";MAG;2024-01-05;;"BÄCKEREI ""ZUM GRAF"" OHG";56793;N',
        "914D000002;MAG;2024-01-06;;X;56793;N",
    ]
    write("jc_05914_202401_massnahmen.csv", "\ufeff" + massnahmen_header + "\n" + "\n".join(massnahmen) + "\n",
          "utf-8", None)  # fmt: skip
    return expected


def test_reading_by_table_equals_reading_each_file_alone(faulty, demo, tmp_path, monkeypatch):
    folder = tmp_path / "inbox"
    shutil.copytree(faulty, folder)
    expected = _per_line_faults(folder, demo)
    taken = []
    add = readers.PlainCsv.add
    monkeypatch.setattr(
        readers.PlainCsv,
        "add",
        lambda self, result, *a: taken.append(result.delivery.name) or add(self, result, *a),
    )
    files = sorted(p for p in folder.iterdir() if p.is_file())

    by_table = read_batch(files, by_table=True)
    alone = read_batch(files, by_table=False)

    assert len(taken) > 0.8 * sum(p.suffix == ".csv" for p in files)  # most CSV files took the table path
    assert set(expected) - {"wfbm_LWL-0101_2024-07_uebergaenge.csv"} <= set(taken)  # unclosed: alone
    assert by_table.files == alone.files
    assert_frame_equal(by_table.findings, alone.findings)
    assert by_table.valid.keys() == alone.valid.keys()
    for table, frame in by_table.valid.items():
        assert_frame_equal(frame, alone.valid[table])
    rejected = {name: o.rejected_because for name, o in by_table.files.items()}
    personen_lines = (demo / "wfbm_LWL-0101_2024-01_personen.csv").read_bytes().count(b"\r\n") - 1
    for name, rule in expected.items():
        rules = set(by_table.findings.filter(file=name, level="file")["rule"])
        assert rules == ({rule} if rule else set()), name
        assert (rejected[name] is not None) == (rule is not None), name
    restored = by_table.findings.filter(
        file="wfbm_LWL-0101_2024-02_personen.csv", rule="leading_zero_restored"
    )
    assert restored["row"].to_list() == [2, 3, 4] and restored["value"].str.len_chars().to_list() == [4, 4, 4]
    assert by_table.files["wfbm_LWL-0101_2024-03_uebergaenge.csv"].rows_in == 3
    miscounted = by_table.findings.filter(rule="field_count", level="row").sort("file", "row")
    assert miscounted.select("file", "row").rows() == [
        ("wfbm_LWL-0101_2024-03_personen.csv", 7),
        ("wfbm_LWL-0101_2024-05_personen.csv", 3),
        ("wfbm_LWL-0101_2024-05_personen.csv", 4),
        ("wfbm_LWL-0101_2024-05_uebergaenge.csv", 4),
        ("wfbm_LWL-0101_2024-06_personen.csv", 5),
        ("wfbm_LWL-0101_2024-10_personen.csv", 5),
    ]
    data_lines = {"wfbm_LWL-0101_2024-03_personen.csv": (personen_lines, [7]),
                  "wfbm_LWL-0101_2024-05_personen.csv": (personen_lines + 1, [3, 4])}  # fmt: skip
    for name, (count, rows) in data_lines.items():
        outcome = by_table.files[name]
        assert (outcome.rows_in, outcome.rows_quarantined) == (count, len(rows)), name
        loaded = by_table.valid["wfbm_personen"].filter(_file=name)["_row"].to_list()
        assert not set(rows) & set(loaded) and loaded, name
    assert by_table.files["wfbm_LWL-0101_2024-07_personen.csv"].rows_in == 0
    two_lines = by_table.findings.filter(file="wfbm_LWL-0101_2024-04_uebergaenge.csv").sort("row", "rule")
    assert two_lines.select("row", "column", "rule").rows() == [
        (2, "Art", "code"),
        (3, "Arbeitgeber", "line_break_in_field"),
        (4, "Rueckkehr", "date_format"),  # the record's row, as Excel shows it: the file's 5th line
        (5, "Arbeitgeber", "utf8_in_cp1252"),  # found before the join, counted by record too
    ]
    assert by_table.valid["wfbm_uebergaenge"].filter(_file="wfbm_LWL-0101_2024-04_uebergaenge.csv").select(
        "_row", "Arbeitgeber"
    ).rows() == [(3, "Firma zwei Zeilen"), (5, "MÃ¼ller GmbH")]


@pytest.mark.parametrize(
    "text",
    ["a;b\n", 'a;"b;c"\n', 'a;"b""c"\n;\n', ""],
)
def test_regular_lines_are_whole_records(text):
    assert readers.PlainCsv.takes(text, ";")


@pytest.mark.parametrize("text", ['a;"b\n', 'a;b"c\n', '"a"b;c\n', 'a;"b\nc"\n'])
def test_lines_with_a_stray_or_open_quote_are_read_file_by_file(text):
    assert not readers.PlainCsv.takes(text, ";")


def test_a_workers_sheet_text_is_what_a_csv_export_would_hold():
    """The conversion the workbook workers do: dates as TT.MM.JJJJ, key numbers zero-padded, other
    numbers with a decimal comma, a mixed column cell by cell; a note row and the blank rows between
    data set apart (a trailing blank row is not worth a warning)."""
    from ingest.workbooks import SheetLayout, sheet_text

    header = ["Pers.-Nr.", "PLZ", "Tage", "Seit"]
    rows = [
        ["Titel", "", "", ""],
        header,
        ["01-1", 1067.0, 2.5, dt.datetime(2024, 3, 1)],
        ["", "", "", ""],
        ["Bemerkung: Zahlen vorläufig", "", "", ""],
        ["01-2", "45131", 3.0, ""],
        ["01-3", 45131.0, 12.0, "31.12.2023"],
        [None, None],
    ]
    text = sheet_text(rows, SheetLayout(2, {"PLZ": 5}))
    assert text.rows == [3, 6, 7]
    assert text.notes == [5]
    assert text.blanks == [4]
    assert text.columns == [
        ["01-1", "01-2", "01-3"],
        ["01067", "45131", "45131"],
        ["2,5", "3", "12"],
        ["01.03.2024", None, "31.12.2023"],
    ]


def test_a_blank_header_cell_shifts_no_column():
    """A column inserted without a heading (a hostile-input review: "Rückkehr am" then read the
    empty column beside it, and K04 fell to 0.00 without a finding): each named column is read
    from its own position."""
    from ingest.workbooks import SheetLayout, sheet_text

    rows = [
        ["Titel", "", "", ""],
        ["Pers.-Nr.", "", "Datum", "Rückkehr am"],
        ["01-1", "", dt.datetime(2024, 3, 1), dt.datetime(2024, 9, 1)],
        ["01-2", "Notiz", dt.datetime(2024, 4, 1), ""],
    ]
    text = sheet_text(rows, SheetLayout(2, {}))
    assert text.columns == [["01-1", "01-2"], ["01.03.2024", "01.04.2024"], ["01.09.2024", None]]
