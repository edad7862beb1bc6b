"""A corpus of hostile inbox entries, generated (never committed as binaries): what real drop folders
receive, broken or malicious. Each entry says what the pipeline must make of it.

Every file here must end rejected (with the rule given), as a duplicate, or ignored: none may change a
figure. Files named like a real delivery use periods the demo inbox does not have (2022), so that
one wrongly accepted would show as extra rows.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from ingest.formats import XLSX_SHEETS, XLSX_TITLE

WFBM_PERSONEN_HEADER = (
    "Personennummer;Nachname;Vorname;Geburtsdatum;Geschlecht;PLZ;Wohnort_Kreis;Bereich;Eintritt;Austritt;"
    "Austrittsgrund;Behinderungsart;Kostentraeger;Arbeitszeit_Std"
)
UEBERGAENGE_HEADER = "Personennummer;Datum;Art;Arbeitgeber;Arbeitgeber_PLZ;Branche_WZ;Rueckkehr"


@dataclass(frozen=True)
class Entry:
    name: bytes  # the raw file name
    expect: str  # "rejected" | "duplicate" | "ignored" | "upload"
    rule: str | None = None  # the finding's rule (rejected) or the ignored entry's kind


def _workbook(sheets: dict[str, list[tuple[int, int, object]]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, cells in sheets.items():
        sheet = book.add_worksheet(name)
        for row, column, value in cells:
            sheet.write(row, column, value)
    book.close()
    return buffer.getvalue()


def far_cell_workbook() -> bytes:
    """26 KB that declare a cell at XFD1048576: a naive reader allocates 512 GiB."""
    title = [(0, 0, XLSX_TITLE), (1048575, 16383, "x")]
    return _workbook(dict.fromkeys(XLSX_SHEETS.values(), title))


def _rewrite(content: bytes, change) -> bytes:
    source, target = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, change(info.filename, source.read(info.filename)))
    return target.getvalue()


def lying_far_cell_workbook() -> bytes:
    """The same without the <dimension> that says so: only a memory limit stops the reader."""
    return _rewrite(
        far_cell_workbook(),
        lambda name, data: (
            data.replace(b'<dimension ref="A1:XFD1048576"/>', b"") if "worksheets" in name else data
        ),
    )


def zip_bomb(unpacked_mb: int = 1024) -> bytes:
    """About 1 MB that unpacks to a gigabyte of spaces in a sheet."""
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        out.writestr("[Content_Types].xml", "<Types/>")
        with out.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            block = b" " * (1 << 20)
            for _ in range(unpacked_mb):
                part.write(block)
    return target.getvalue()


def many_parts_zip(parts: int = 3000) -> bytes:
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for number in range(parts):
            out.writestr(f"xl/part{number}.xml", "<x/>")
    return target.getvalue()


def thousand_sheets() -> bytes:
    return _workbook({f"Blatt {n}": [(0, 0, n)] for n in range(1000)})


def deeply_nested() -> bytes:
    """A sheet whose XML nests 200,000 elements (a recursive parser would overflow its stack)."""
    base = _workbook({sheet: [(0, 0, XLSX_TITLE)] for sheet in XLSX_SHEETS.values()})
    depth = 200_000

    def nest(name: str, data: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            return data.replace(b"<sheetData>", b"<sheetData>" + b"<x>" * depth + b"</x>" * depth)
        return data

    return _rewrite(base, nest)


def hostile_entries(folder: Path, demo: Path) -> list[Entry]:
    """Write the corpus into ``folder`` (an inbox beside the demo's files); return what each must become."""
    rng = random.Random(12)
    entries: list[Entry] = []

    def write(name: bytes, content: bytes, expect: str, rule: str | None) -> None:
        with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
            handle.write(content)
        entries.append(Entry(name, expect, rule))

    personen = (demo / "wfbm_LWL-0101_2024-01_personen.csv").read_bytes()
    a_workbook = next(p for p in sorted(demo.glob("*.xlsx")) if not p.name.startswith("lv_"))

    write(b"Meldung Dezember XFD.xlsx", far_cell_workbook(), "rejected", "workbook_too_large")
    write(b"Meldung ohne Dimension.xlsx", lying_far_cell_workbook(), "rejected", "reader_limit")
    write(b"Meldung Bombe.xlsx", zip_bomb(), "rejected", "workbook_too_large")
    write(b"Meldung Teile.xlsx", many_parts_zip(), "rejected", "workbook_too_large")
    write(b"Meldung tausend Bl\xc3\xa4tter.xlsx", thousand_sheets(), "rejected", "missing_sheet")
    write(b"Meldung verschachtelt.xlsx", deeply_nested(), "rejected", None)
    write(
        b"Meldung alt.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "rejected", "wrong_file_type"
    )
    write(b"Meldung Juli.xlsx", personen, "rejected", "wrong_file_type")  # a CSV renamed .xlsx
    # An old SFTP client's Latin-1 name (not UTF-8) on a copy of a delivered workbook.
    write(b"Meldung \xdcbersicht.xlsx", a_workbook.read_bytes(), "duplicate", None)
    write(b"wfbm_LWL-0101_2022-01_personen.csv\n", personen, "rejected", "file_name")  # trailing newline
    write(b"Meldung\xe2\x80\xaexslx.csv", personen, "rejected", "file_name")  # right-to-left override
    write(b"wfbm_LWL-0101_2022-0\xff_personen.csv", personen, "rejected", "file_name")
    write(b"x" * 240 + b".csv", b"a;b\n", "rejected", "file_name")
    write(
        b"jc_05914_209912_bestand.csv",
        b"\xef\xbb\xbfmonat;geschlecht;elb;arbeitslose\n",
        "rejected",
        "implausible_period",
    )
    write(
        b"jc_05914_199912_bestand.csv",
        b"\xef\xbb\xbfmonat;geschlecht;elb;arbeitslose\n",
        "rejected",
        "implausible_period",
    )
    bestand = (demo / "jc_05914_202401_bestand.csv").read_bytes()
    write(b"jc_05914_202201_bestand.csv", bestand, "rejected", "period_mismatch")  # monat says 2024-01
    write(
        b"wfbm_LWL-0101_2022-01_personen.csv", personen, "rejected", "wrong_period"
    )  # 2024 under a 2022 name
    columns = ";".join(f"Spalte{n}" for n in range(10_000))
    write(
        b"wfbm_LWL-0101_2022-02_personen.csv",
        f"{WFBM_PERSONEN_HEADER};{columns}\r\n".encode(),
        "rejected",
        "extra_column",
    )
    write(b"wfbm_LWL-0101_2022-03_personen.csv", bytes(65536), "rejected", "wrong_file_type")
    write(b"wfbm_LWL-0101_2022-04_personen.csv", rng.randbytes(50_000), "rejected", "wrong_file_type")
    long_line = f"{UEBERGAENGE_HEADER}\r\n".encode() + b"4711;" + b"A" * (50 << 20) + b"\r\n"
    write(b"wfbm_LWL-0101_2022-05_uebergaenge.csv", long_line, "rejected", "line_too_long")
    write(b"wfbm_LWL-0101_2022-06_personen.csv", b"\xef\xbb\xbf" + personen, "rejected", "wrong_encoding")
    nul_field = personen.replace(b"\r\n", b"\r\n\x00", 3).replace(b"\r\n\x00", b"\r\n", 2)
    write(b"wfbm_LWL-0101_2022-07_personen.csv", nul_field, "rejected", "nul_bytes")
    write(b"wfbm_LWL-0101_2022-08_personen.csv", personen.replace(b"\r\n", b"\r", 5), "rejected", "line_ends")
    write(b"wfbm_LWL-0101_2022-09_personen.csv", personen[:-7], "rejected", "truncated_file")
    # Too large to read (sparse: no disk used); archived, never parsed.
    with open(os.path.join(os.fsencode(folder), b"wfbm_LWL-0101_2022-10_personen.csv"), "wb") as handle:
        handle.truncate(70 << 20)
    entries.append(Entry(b"wfbm_LWL-0101_2022-10_personen.csv", "rejected", "file_too_large"))

    # Entries that are no deliveries.
    secret = folder.parent / "outside-secret.key"
    secret.write_bytes(b"not a delivery: the pseudonym key, say\n")
    os.symlink(secret, folder / "jc_05914_202212_kunden.csv")
    entries.append(Entry(b"jc_05914_202212_kunden.csv", "ignored", "symlink"))
    os.symlink(folder / "nowhere", folder / "dangling.csv")
    entries.append(Entry(b"dangling.csv", "ignored", "symlink"))
    (folder / "Unterordner").mkdir()
    entries.append(Entry(b"Unterordner", "ignored", "directory"))
    os.mkfifo(folder / "pipe.csv")
    entries.append(Entry(b"pipe.csv", "ignored", "fifo"))
    write(b".DS_Store", b"\x00\x00\x00\x01Bud1", "ignored", "hidden")
    write(b"jc_05914_202212_kunden.csv.part", b"halb", "upload", None)
    return entries
