"""Faults as real deliveries have them (the list at the end of spec/sources.md), injected into
files and recorded in a machine-readable ground truth: file, row, column, fault, level.

Rows are numbered as a person sees them: in a CSV the header is row 1; in a workbook the Excel row.
Levels: ``file`` (the whole file must be rejected), ``row`` (that row quarantined, the rest loaded),
``warning`` (loaded, but reported: a restored leading zero, a blank row skipped, columns in another
order that are read by name).
With any rate above zero every fault kind occurs at least once (where the inbox has a file for it).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ingest.formats import XLSX_HEADER_ROW, XLSX_HEADERS, XLSX_SHEETS
from teilhabe.simulate.render import CsvFile, Rendered, Sheet, XlsxFile

FaultResult = CsvFile | XlsxFile | bytes


@dataclasses.dataclass(frozen=True)
class Record:
    file: str
    row: int | None
    column: str | None
    fault: str
    level: str
    detail: str = ""


DATE_COLUMNS = {
    "personen": ["Geburtsdatum", "Eintritt", "Austritt"],
    "aussenarbeitsplaetze": ["Beginn", "Ende"],
    "uebergaenge": ["Datum", "Rueckkehr"],
    "kunden": ["geburtsdatum", "elb_seit"],
    "massnahmen": ["eintritt", "austritt"],
    "integrationen": ["datum"],
    "budget_fuer_arbeit": ["Geburtsdatum", "Beginn", "Ende"],
}
CODE_COLUMNS = {
    "personen": ("Bereich", "XY"),
    "aussenarbeitsplaetze": ("Art", "BIAPX"),
    "uebergaenge": ("Art", "FEST"),
    "kunden": ("rehabilitand", "V"),
    "massnahmen": ("massnahme", "ABC"),
    "integrationen": ("art", "MINI"),
    "bestand": ("geschlecht", "X"),
    "budget_fuer_arbeit": ("Status", "geprüft"),
}
SPANS = {  # (start, end) columns for "end before start"
    "personen": ("Eintritt", "Austritt"),
    "aussenarbeitsplaetze": ("Beginn", "Ende"),
    "massnahmen": ("eintritt", "austritt"),
    "budget_fuer_arbeit": ("Beginn", "Ende"),
}
HOURS = {"personen": "Arbeitszeit_Std", "aussenarbeitsplaetze": "Std_Woche"}
PERSON_KEY = {"personen": "Personennummer", "kunden": "kundennummer"}


class DefectInjector:
    def __init__(self, rng: np.random.Generator, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.records: list[Record] = []
        self.renamed: dict[str, str] = {}
        self.used: set[str] = set()
        self.faults: dict[str, Callable[[Rendered], FaultResult | None]] = {
            "wrong_encoding": self.wrong_encoding,
            "renamed_column": self.renamed_column,
            "missing_column": self.missing_column,
            "extra_column": self.extra_column,
            "reordered_columns": self.reordered_columns,
            "wrong_separator": self.wrong_separator,
            "empty_file": self.empty_file,
            "missing_header": self.missing_header,
            "truncated_file": self.truncated_file,
            "unmatched_file_name": self.unmatched_file_name,
            "unknown_werkstatt_nr": self.unknown_werkstatt_nr,
            "bad_date_format": self.bad_date_format,
            "impossible_date": self.impossible_date,
            "end_before_start": self.end_before_start,
            "unknown_code": self.unknown_code,
            "bad_hours": self.bad_hours,
            "duplicate_row": self.duplicate_row,
            "conflicting_person": self.conflicting_person,
            "unknown_kreis": self.unknown_kreis,
            "lost_leading_zero": self.lost_leading_zero,
            "invalid_gdb": self.invalid_gdb,
            "excel_blank_row": self.excel_blank_row,
            "excel_note_row": self.excel_note_row,
        }

    # --- choosing -----------------------------------------------------------------------------

    def maybe_inject(self, rendered: Rendered) -> FaultResult:
        if self.rate <= 0:
            return rendered.file
        unused = [k for k in self.faults if k not in self.used]
        chosen = self.rng.random() < self.rate
        if not chosen and not (unused and self.rng.random() < 0.08):
            return rendered.file
        kinds = unused if unused else list(self.faults)
        for index in self.rng.permutation(len(kinds)):
            kind = kinds[int(index)]
            before = len(self.records)
            result = self.faults[kind](rendered)
            if result is not None:
                self.used.add(kind)
                assert len(self.records) > before
                return result
        return rendered.file

    def write(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([f.name for f in dataclasses.fields(Record)])
            for r in self.records:
                writer.writerow(dataclasses.astuple(r))

    def _record(
        self,
        rendered: Rendered,
        row: int | None,
        column: str | None,
        fault: str,
        level: str,
        detail: str = "",
    ) -> None:
        name = self.renamed.get(rendered.file.name, rendered.file.name)
        self.records.append(Record(name, row, column, fault, level, detail))

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _csv(rendered: Rendered) -> CsvFile | None:
        file = rendered.file
        return file if isinstance(file, CsvFile) and file.lines else None

    @staticmethod
    def _copy(file: CsvFile, header: list[str] | None = None, lines: list[str] | None = None) -> CsvFile:
        return CsvFile(
            file.name,
            file.dialect,
            list(header or file.header),
            list(lines if lines is not None else file.lines),
        )

    def _row_index(self, n: int) -> int:
        return int(self.rng.integers(0, n))

    def _set_field(
        self, rendered: Rendered, column: str, make: Callable[[str], str | None]
    ) -> tuple[FaultResult, int, str] | None:
        """Change one field of one data row (CSV line or workbook sheet). Returns file, row, old value."""
        file = rendered.file
        if isinstance(file, CsvFile):
            if column not in file.header or not file.lines:
                return None
            col = file.header.index(column)
            for _ in range(10):
                i = self._row_index(len(file.lines))
                fields = file.lines[i].split(";")
                if col >= len(fields):  # a line an earlier fault shortened (or a note line)
                    continue
                new = make(fields[col])
                if new is not None:
                    fields[col] = new
                    copy = self._copy(file)
                    copy.lines[i] = ";".join(fields)
                    return copy, i + 2, ""
            return None
        if isinstance(file, XlsxFile):
            for part in ("personen", "aussenarbeitsplaetze", "uebergaenge"):
                headers = list(XLSX_HEADERS[part].values())
                # by name: an earlier fault may have removed a sheet
                s = next((n for n, sh in enumerate(file.sheets) if sh.title == XLSX_SHEETS[part]), None)
                if s is None or column not in headers or not file.sheets[s].rows:
                    continue
                sheet = file.sheets[s]
                col = headers.index(column)
                i = self._row_index(len(sheet.rows))
                if col >= len(sheet.rows[i]):  # a note or blank row an earlier fault put there
                    continue
                new = make(_as_text(sheet.rows[i][col]))
                if new is None:
                    continue
                rows = [list(r) for r in sheet.rows]
                rows[i][col] = new
                sheets = list(file.sheets)
                sheets[s] = Sheet(sheet.title, sheet.header, rows, sheet.title_block)
                return XlsxFile(file.name, sheets), XLSX_HEADER_ROW + 1 + i, sheet.title
        return None

    # --- file-level faults --------------------------------------------------------------------

    def wrong_encoding(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None:
            return None
        text = file.dialect.line_end.join([";".join(file.header), *file.lines]) + file.dialect.line_end
        if text.isascii():
            return None
        if file.dialect.encoding == "cp1252":
            self._record(r, None, None, "wrong_encoding", "file", "UTF-8 where Windows-1252 is promised")
            return text.encode("utf-8")
        self._record(r, None, None, "wrong_encoding", "file", "Windows-1252 where UTF-8 is promised")
        return text.encode("cp1252", errors="replace")

    def renamed_column(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None:
            return None
        col = int(self.rng.integers(1, len(file.header)))
        old = file.header[col]
        header = list(file.header)
        header[col] = old.replace("_", " ") + " (neu)"
        self._record(r, 1, old, "renamed_column", "file", f"header {header[col]!r}")
        return self._copy(file, header)

    def missing_column(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None:
            return None
        col = int(self.rng.integers(1, len(file.header)))
        self._record(r, 1, file.header[col], "missing_column", "file")
        lines = [";".join(f for j, f in enumerate(line.split(";")) if j != col) for line in file.lines]
        return self._copy(file, [h for j, h in enumerate(file.header) if j != col], lines)

    def extra_column(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None:
            return None
        self._record(r, 1, "Bemerkung", "extra_column", "file")
        return self._copy(file, [*file.header, "Bemerkung"], [f"{line};" for line in file.lines])

    def reordered_columns(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None or len(file.header) < 3:
            return None
        a, b = 1, 2

        def swap(items: list[str]) -> list[str]:
            items = list(items)
            items[a], items[b] = items[b], items[a]
            return items

        self._record(
            r, 1, f"{file.header[a]}, {file.header[b]}", "reordered_columns", "warning", "read by name"
        )
        return self._copy(file, swap(file.header), [";".join(swap(line.split(";"))) for line in file.lines])

    def wrong_separator(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None:
            return None

        def comma(fields: list[str]) -> str:
            return ",".join(f'"{f}"' if "," in f else f for f in fields)

        self._record(r, None, None, "wrong_separator", "file", "',' instead of ';'")
        text = file.dialect.line_end.join(
            [comma(file.header), *(comma(line.split(";")) for line in file.lines)]
        )
        return (text + file.dialect.line_end).encode(file.dialect.encoding)

    def empty_file(self, r: Rendered) -> FaultResult | None:
        if r.source == "lv":
            return None
        self._record(r, None, None, "empty_file", "file", "0 bytes")
        return b""

    def missing_header(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None:
            return None
        self._record(r, 1, None, "missing_header", "file", "data without a header row")
        return (file.dialect.line_end.join(file.lines) + file.dialect.line_end).encode(file.dialect.encoding)

    def truncated_file(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None or len(file.lines) < 3:
            return None
        content = file.to_bytes()
        last_line = file.lines[-1].encode(file.dialect.encoding, errors="replace")
        cut = len(content) - len(file.dialect.line_end) - len(last_line) // 2
        self._record(
            r, len(file.lines) + 1, None, "truncated_file", "file", "cut in the middle of the last row"
        )
        return content[:cut]

    def unmatched_file_name(self, r: Rendered) -> FaultResult | None:
        if not isinstance(r.file, CsvFile):
            return None
        new = f"Kopie von {r.file.name.removesuffix('.csv')} (1).csv"
        self.renamed[r.file.name] = new
        self._record(r, None, None, "unmatched_file_name", "file")
        return r.file

    def unknown_werkstatt_nr(self, r: Rendered) -> FaultResult | None:
        if r.source != "wfbm":
            return None
        unknown = r.sender[:4] + "9" + r.sender[5:]
        if isinstance(r.file, CsvFile):
            self.renamed[r.file.name] = r.file.name.replace(r.sender, unknown)
            self._record(r, None, None, "unknown_werkstatt_nr", "file", f"{unknown} is not in the register")
            return r.file
        sheets = [
            Sheet(
                s.title, s.header, s.rows, [s.title_block[0], ["Werkstatt-Nr.:", unknown], s.title_block[2]]
            )
            for s in r.file.sheets
        ]
        self._record(
            r, 2, "Werkstatt-Nr.:", "unknown_werkstatt_nr", "file", f"{unknown} is not in the register"
        )
        return XlsxFile(r.file.name, sheets)

    # --- row-level faults ---------------------------------------------------------------------

    def _row_fault(
        self,
        r: Rendered,
        columns: list[str],
        fault: str,
        make: Callable[[str], str | None],
        level: str = "row",
    ) -> FaultResult | None:
        for column in columns:
            done = self._set_field(r, column, make)
            if done:
                result, row, sheet = done
                self._record(r, row, column, fault, level, f"sheet {sheet}" if sheet else "")
                return result
        return None

    def bad_date_format(self, r: Rendered) -> FaultResult | None:
        def other(value: str) -> str | None:
            if len(value) == 10 and value[2] == ".":
                return f"{value[6:]}-{value[3:5]}-{value[:2]}"
            if len(value) == 10 and value[4] == "-":
                return f"{value[8:]}/{value[5:7]}/{value[:4]}"
            return None

        return self._row_fault(r, DATE_COLUMNS.get(r.part, _xlsx_dates(r)), "bad_date_format", other)

    def impossible_date(self, r: Rendered) -> FaultResult | None:
        def impossible(value: str) -> str | None:
            if len(value) == 10 and value[2] == ".":
                return f"31.02.{value[6:]}"
            if len(value) == 10 and value[4] == "-":
                return f"{value[:4]}-02-31"
            return None

        return self._row_fault(r, DATE_COLUMNS.get(r.part, _xlsx_dates(r)), "impossible_date", impossible)

    def end_before_start(self, r: Rendered) -> FaultResult | None:
        if isinstance(r.file, XlsxFile) or r.part not in SPANS:
            return None
        file = self._csv(r)
        if file is None:
            return None
        start, end = (file.header.index(c) for c in SPANS[r.part])
        for i in self.rng.permutation(len(file.lines))[:50]:
            fields = file.lines[int(i)].split(";")
            if fields[start]:
                fields[end] = "01.01.1990" if file.dialect.date_format.startswith("%d") else "1990-01-01"
                copy = self._copy(file)
                copy.lines[int(i)] = ";".join(fields)
                if r.part == "personen":
                    fields_reason = file.header.index("Austrittsgrund")
                    parts = copy.lines[int(i)].split(";")
                    parts[fields_reason] = parts[fields_reason] or "SON"
                    copy.lines[int(i)] = ";".join(parts)
                self._record(r, int(i) + 2, SPANS[r.part][1], "end_before_start", "row")
                return copy
        return None

    def unknown_code(self, r: Rendered) -> FaultResult | None:
        if r.part not in CODE_COLUMNS and not isinstance(r.file, XlsxFile):
            return None
        column, bad = CODE_COLUMNS.get(r.part, ("Bereich", "Werkstattbereich"))
        return self._row_fault(r, [column], "unknown_code", lambda v: bad if v else None)

    def bad_hours(self, r: Rendered) -> FaultResult | None:
        columns = (
            [HOURS[r.part]]
            if r.part in HOURS
            else (["Arbeitszeit_Std"] if isinstance(r.file, XlsxFile) else [])
        )
        values = ["-5,0", "99,0", "0,0"] if isinstance(r.file, CsvFile) else [-5.0, 99.0, 0.0]
        bad = values[int(self.rng.integers(0, 3))]
        return self._row_fault(r, columns, "bad_hours", lambda v: bad if v else None)

    def duplicate_row(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None or r.part in ("bestand",):
            return None
        i = self._row_index(len(file.lines))
        copy = self._copy(file)
        copy.lines.insert(i + 1, file.lines[i])
        self._record(r, i + 3, None, "duplicate_row", "row", f"same as row {i + 2}")
        return copy

    def conflicting_person(self, r: Rendered) -> FaultResult | None:
        file = self._csv(r)
        if file is None or r.part not in PERSON_KEY or len(file.lines) < 2:
            return None
        i = self._row_index(len(file.lines))
        fields = file.lines[i].split(";")
        col = file.header.index("PLZ" if r.part == "personen" else "plz")
        fields[col] = "12345" if fields[col] != "12345" else "54321"
        copy = self._copy(file)
        copy.lines.insert(i + 1, ";".join(fields))
        self._record(
            r,
            i + 3,
            PERSON_KEY[r.part],
            "conflicting_person",
            "row",
            f"same person as row {i + 2}, other data",
        )
        return copy

    def unknown_kreis(self, r: Rendered) -> FaultResult | None:
        if r.part != "personen" or not isinstance(r.file, CsvFile):
            return None
        return self._row_fault(r, ["Wohnort_Kreis"], "unknown_kreis", lambda v: "05999")

    def lost_leading_zero(self, r: Rendered) -> FaultResult | None:
        if r.part != "personen" or not isinstance(r.file, CsvFile):
            return None
        return self._row_fault(
            r,
            ["Wohnort_Kreis"],
            "lost_leading_zero",
            lambda v: v.lstrip("0") if v.startswith("0") else None,
            "warning",
        )

    def invalid_gdb(self, r: Rendered) -> FaultResult | None:
        if r.part != "kunden":
            return None
        return self._row_fault(r, ["gdb"], "invalid_gdb", lambda v: "35" if v else "110")

    def _excel_rows(
        self, r: Rendered, row_factory: Callable[[int], list], fault: str, level: str
    ) -> FaultResult | None:
        if not isinstance(r.file, XlsxFile) or not r.file.sheets[0].rows:
            return None
        sheet = r.file.sheets[0]
        at = len(sheet.rows) if fault == "excel_note_row" else self._row_index(len(sheet.rows))
        rows = [list(x) for x in sheet.rows]
        rows.insert(at, row_factory(len(sheet.header)))
        sheets = [Sheet(sheet.title, sheet.header, rows, sheet.title_block), *r.file.sheets[1:]]
        header_row = 1 if r.source == "lv" else XLSX_HEADER_ROW
        self._record(r, header_row + 1 + at, None, fault, level, f"sheet {sheet.title}")
        return XlsxFile(r.file.name, sheets)

    def excel_blank_row(self, r: Rendered) -> FaultResult | None:
        return self._excel_rows(r, lambda n: [None] * n, "excel_blank_row", "warning")

    def excel_note_row(self, r: Rendered) -> FaultResult | None:
        return self._excel_rows(
            r,
            lambda n: ["Hinweis: Stand der Daten laut Verwaltung, ohne Gewähr", *([None] * (n - 1))],
            "excel_note_row",
            "row",
        )


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%d.%m.%Y")
    return str(value)


def _xlsx_dates(r: Rendered) -> list[str]:
    return ["Geburtsdatum", "Eintritt"] if isinstance(r.file, XlsxFile) else []
