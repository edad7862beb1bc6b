"""Every rule a sender can meet in a Rückmeldung has words (publish/rule_words.py). The rules are
taken from ops.quarantine after real runs: the simulator's faulty inbox, files made from its clean
ones with the faults it does not simulate, and two files over tighter limits."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import duckdb
import pytest
import xlsxwriter
from hostile import _rewrite, far_cell_workbook, lying_far_cell_workbook

from ingest import load
from ingest.formats import XLSX_SHEETS
from ingest.pseudonymise import PseudonymKey
from publish.rule_words import RETIRED, RULE_WORDS, rule_word
from schemas import SOURCE_TABLES
from teilhabe.reference import nrw_kreise
from teilhabe.settings import Limits

KEY = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")
PERSONEN = SOURCE_TABLES["wfbm_personen"].columns
# One fault per row of a snapshot of February 2025 (Stichtag 28.02.2025).
ROW_FAULTS = [
    {"Geschlecht": ""},
    {"Arbeitszeit_Std": "abc"},
    {"PLZ": "12a45"},
    {"Nachname": "A" * 101},
    {"Nachname": "????"},
    {"Austritt": "", "Austrittsgrund": "SON"},
    {"Austritt": "14.02.2025", "Austrittsgrund": ""},
    {"Austritt": "15.01.2025", "Austrittsgrund": "REN"},  # left before the file's month (2025-02)
    {"Eintritt": "01.03.2025"},
    {"Geburtsdatum": "01.03.2025"},
    {"Nachname": "Mei\xadr"},  # a soft hyphen
    {"Nachname": "MÃ¼ller"},  # UTF-8 pasted into the agreed Windows-1252
]


def _clean(inbox: Path, pattern: str) -> Path:
    """The first file of the faulty inbox matching ``pattern`` that no fault was injected into."""
    with open(f"{inbox}.truth/defects.csv", encoding="utf-8") as handle:
        faulty = {row["file"] for row in csv.DictReader(handle)}
    return next(p for p in sorted(inbox.glob(pattern)) if p.name not in faulty)


def _changed(line: bytes, **fields: str) -> bytes:
    values = line.decode("cp1252").split(";")
    for column, value in fields.items():
        values[PERSONEN.index(column)] = value
    return ";".join(values).encode("cp1252")


def _snapshots(personen: Path) -> dict[str, bytes]:
    """A workshop's clean snapshot made faulty, each variant under a period of its own."""
    _, sender, period, _ = personen.name.split("_")
    content = personen.read_bytes()
    header, *rows = content.removesuffix(b"\r\n").split(b"\r\n")

    def month(number: int) -> str:
        return f"wfbm_{sender}_2025-{number:02}_personen.csv"

    def lines(*body: bytes) -> bytes:
        return b"".join(line + b"\r\n" for line in (header, *body))

    faulty_rows = [_changed(row, **fault) for row, fault in zip(rows, ROW_FAULTS, strict=False)]
    return {
        month(1): content,  # the bytes of its own month, again
        month(2): lines(*faulty_rows, *rows[len(ROW_FAULTS) : 30]),
        month(3): b"\xef\xbb\xbf" + content.decode("cp1252").encode("utf-8"),  # Excel's "CSV UTF-8"
        month(4): content.replace(rows[0] + b"\r\n", rows[0] + b"\n"),
        month(5): content.replace(rows[0] + b"\r\n", rows[0] + b"\r"),
        month(6): content.replace(rows[3], rows[3] + b"\x00"),
        month(7): header + b";Nachname\r\n",
        month(8): lines(*rows[:5], _changed(rows[5], Vorname="A" * 10_001)),
        month(9): lines(rows[0] + b";zu viel", _changed(rows[1], Nachname='O"Neill'), *rows[2:30]),
        # Alt+Enter in a name (a control character there) and in a code (read as a blank, a warning)
        month(10): lines(
            _changed(rows[0], Nachname='"Meier\r\nSchulz"'),
            _changed(rows[1], Kostentraeger='"LW\r\nL"'),
            *rows[2:30],
        ),
        month(11): content.removesuffix(b"\r\n"),
        month(12): lines(*(_changed(row, Geschlecht="x") for row in rows[:2])),
        f"wfbm_{sender}_2099-01_personen.csv": content,
        f"wfbm_{sender}_{dt.date.today().year - 10}-01_personen.csv": lines(),
        f"wfbm_{sender}_{int(period[:4]) - 2}-01_personen.csv": content,
    }


def day_in(personen: Path) -> str:
    """The 15th of a workshop file's month, as its dates are written."""
    year, month = personen.name.split("_")[2].split("-")
    return f"15.{month}.{year}"


def _transitions(personen: Path) -> dict[str, bytes]:
    sender = personen.name.split("_")[1]
    known = personen.read_bytes().split(b"\r\n")[1].split(b";")[0].decode("cp1252")
    rows = [
        "Personennummer;Datum;Art;Arbeitgeber;Arbeitgeber_PLZ;Branche_WZ;Rueckkehr",
        f"{known};02.03.2025;SVB;Stadt Hagen;58095;84.11;",
        f"{known};02.03.2025;BFA;Stadt Hagen;58095;84.11;",  # the same transition, other data
        "99-99999;03.03.2025;SVB;Stadt Hagen;58095;84.11;",  # in no snapshot of the workshop
        # dated in the snapshot's month, whose transitions came without it
        f"{known};{day_in(personen)};SVB;Stadt Hagen;58095;84.11;",
    ]
    return {f"wfbm_{sender}_2025-03_uebergaenge.csv": "".join(f"{r}\r\n" for r in rows).encode()}


def _jobcenter(inbox: Path) -> dict[str, bytes]:
    """A Jobcenter's clean files sent as other Kreise's (one byte for byte), and as a Kreis that is
    none in NRW."""
    integrationen, bestand = _clean(inbox, "jc_*_integrationen.csv"), _clean(inbox, "jc_*_bestand.csv")
    kunden = _clean(inbox, "jc_*_kunden.csv")
    nrw = set(nrw_kreise()["kreisschluessel"])
    other = sorted(nrw - {p.name.split("_")[1] for p in inbox.glob("jc_*")})
    no_kreis = next(k for k in (f"05{n:03}" for n in range(1000)) if k not in nrw)
    period = integrationen.name.split("_")[2]
    header, first, *rest = integrationen.read_bytes().split(b"\n")
    day_before = dt.date(int(period[:4]), int(period[4:]), 1) - dt.timedelta(days=1)
    early = re.sub(rb"\d{4}-\d{2}-\d{2}", f"{day_before:%Y-%m-%d}".encode(), first, count=1)
    month = bestand.name.split("_")[2]
    another_month = month[:4] + ("02" if month.endswith("01") else "01")
    return {
        f"jc_{other[0]}_{period}_integrationen.csv": b"\n".join([header, early, *rest]),
        f"jc_{other[1]}_{period}_integrationen.csv": integrationen.read_bytes().removeprefix(b"\xef\xbb\xbf"),
        f"jc_{other[2]}_{another_month}_bestand.csv": bestand.read_bytes(),
        f"jc_{other[3]}_{month}_bestand.csv": _swapped_counts(bestand.read_bytes()),
        f"jc_{no_kreis}_{month}_bestand.csv": bestand.read_bytes(),
        f"jc_{other[4]}_{kunden.name.split('_')[2]}_kunden.csv": kunden.read_bytes(),  # another's bytes
    }


def _swapped_counts(bestand: bytes) -> bytes:
    """A bestand file whose first row has its elb and arbeitslose swapped (more unemployed than
    employable recipients)."""
    header, first, *rest = bestand.split(b"\n")
    *front, elb, unemployed = first.split(b";")
    return b"\n".join([header, b";".join([*front, unemployed, elb]), *rest])


def _workbook(sheets: list[str]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for sheet in sheets:
        book.add_worksheet(sheet).write(4, 0, "keine Kopfzeilen")
    book.close()
    return buffer.getvalue()


def _workbooks() -> dict[str, bytes]:
    return {
        "Meldung ohne Blätter.xlsx": _workbook(["Tabelle1"]),
        "Meldung ohne Kopfblock.xlsx": _workbook(list(XLSX_SHEETS.values())),
        "Meldung beschädigt.xlsx": b"PK\x03\x04" + bytes(200),
        "Meldung bis XFD.xlsx": far_cell_workbook(),
        "Meldung ohne Dimension.xlsx": lying_far_cell_workbook(),
        "Meldung als Text.xlsx": b"Personennummer;Nachname\r\n",
    }


def _odd_cells(inbox: Path) -> dict[str, bytes]:
    """A clean workbook whose first three data rows each hold a cell calamine reads as no value: a
    formula without its result, a true/false cell, an error cell (ingest/workbooks.py cell_kinds);
    and two cells of the next rows merged (the second's value is the first's only to the eye)."""
    workbook = _clean(inbox, "*Werkstattmeldung*.xlsx")
    odd = {6: b"<f>SUMME(A1)</f>", 7: b"<v>1</v>", 8: b"<v>#N/A</v>"}
    kinds = {7: b' t="b"', 8: b' t="e"'}

    def change(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return data
        for row, content in odd.items():
            cell = re.search(rf'<c r="F{row}"[^>]*>.*?</c>'.encode(), data).group(0)
            data = data.replace(
                cell, f'<c r="F{row}"'.encode() + kinds.get(row, b"") + b">" + content + b"</c>"
            )
        return data.replace(
            b"</sheetData>", b'</sheetData><mergeCells count="1"><mergeCell ref="G9:G10"/></mergeCells>'
        )

    return {workbook.name: _rewrite(workbook.read_bytes(), change)}


def _register(inbox: Path) -> dict[str, bytes]:
    """The LWL's register naming one of the LVR's workshops too, and one of its own recognised in
    2098 (loaded last: the rows are quarantined, and the register is rejected whole)."""
    header, first, *rest = (
        _clean(inbox, "lv_LWL_werkstaetten.csv").read_bytes().rstrip(b"\r\n").split(b"\r\n")
    )
    lvr = _clean(inbox, "lv_LVR_werkstaetten.csv").read_bytes().split(b"\r\n")[1]
    at = header.decode("cp1252").split(";").index("anerkannt seit")
    fields = first.split(b";")
    fields[at] = b"01.01.2098"
    return {"lv_LWL_werkstaetten.csv": b"\r\n".join([header, b";".join(fields), *rest, lvr]) + b"\r\n"}


def _inbox(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture(scope="module")
def rules_found(faulty, tmp_path_factory) -> set[str]:
    root = tmp_path_factory.mktemp("rule_words")
    personen = _clean(faulty, "wfbm_*_personen.csv")
    made = (
        _snapshots(personen) | _transitions(personen) | _jobcenter(faulty) | _workbooks() | _odd_cells(faulty)
    )
    content = personen.read_bytes()
    sender = personen.name.split("_")[1]
    # a correction of the clean snapshot's month with a few of its rows (loaded after it)
    shrunk = {personen.name: b"\r\n".join(content.split(b"\r\n")[:4]) + b"\r\n"}
    # and another workshop's month with this one's persons (reversed: other bytes)
    period = personen.name.split("_")[2]
    other = next(p.name for p in sorted(faulty.glob(f"wfbm_*_{period}_personen.csv")) if sender not in p.name)
    header, *rows = content.removesuffix(b"\r\n").split(b"\r\n")
    replayed = {other: b"".join(line + b"\r\n" for line in (header, *reversed(rows)))}
    tight = {
        f"wfbm_{sender}_2026-01_personen.csv": b"\r\n".join(content.split(b"\r\n")[:11]) + b"\r\n",
        f"wfbm_{sender}_2026-02_personen.csv": content,
    }
    with duckdb.connect() as con:
        load.ingest(con, faulty, root / "archive", KEY, keep_files=True)
        load.ingest(con, _inbox(root / "made", made), root / "archive", KEY)
        limits = Limits(max_file_rows=5, max_file_bytes=len(content) - 1)
        load.ingest(con, _inbox(root / "tight", tight), root / "archive", KEY, limits=limits)
        load.ingest(con, _inbox(root / "register", _register(faulty)), root / "archive", KEY)
        load.ingest(con, _inbox(root / "replayed", replayed), root / "archive", KEY)
        load.ingest(con, _inbox(root / "shrunk", shrunk), root / "archive", KEY)
        return {rule for (rule,) in con.execute("select distinct rule from ops.quarantine").fetchall()}


def test_every_rule_found_in_real_runs_has_words(rules_found):
    missing = sorted(rules_found - RULE_WORDS.keys())
    assert not missing, f"rules without words in publish/rule_words.py (RULE_WORDS): {missing}"
    # and the runs meet every rule that has words: none is there for a rule no longer written
    assert not RULE_WORDS.keys() - RETIRED - rules_found, RULE_WORDS.keys() - RETIRED - rules_found


def test_every_check_of_the_contracts_has_words():
    checks = {
        check.name
        for source in SOURCE_TABLES.values()
        for column in source.contract.to_schema().columns.values()
        for check in column.checks
    }
    missing = sorted(checks - RULE_WORDS.keys())
    assert checks and not missing, f"checks of schemas/ without words in publish/rule_words.py: {missing}"


def test_the_words_are_german_and_short():
    for rule, words in RULE_WORDS.items():
        assert words != rule and "_" not in words and 1 <= len(words.split()) <= 6, rule
    assert rule_word("wrong_separator") == "falsches Trennzeichen"
    assert rule_word("a_rule_added_since") == "a_rule_added_since"
