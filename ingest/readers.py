"""Readers: bytes of one delivery in, its tables as text out (all columns strings, empty = null,
``_file`` and ``_row`` added), or one clear file-level finding.

The text follows the W-CSV conventions for workshop and Landschaftsverband tables and the JC
conventions for Jobcenter tables, whichever vendor sent it: the W-XLSX reader turns Excel dates into
``TT.MM.JJJJ``, numbers into text and long texts into codes. Validation (schemas/) comes next.

Findings are written for the sender, in German, and never show an identifier's value. A file that
is not what its name promises is named for what it is ("eine Textdatei, keine Excel-Arbeitsmappe").
A reader never raises on bad input; workbooks are parsed in worker processes under limits
(ingest/workbooks.py), CSV text here with its size bounded before it is read. Whether the rows
fit the period the name gives is checked for the whole batch at once (ingest/plausibility.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass, field, replace

import polars as pl

from ingest.formats import (
    JC_CSV,
    LV_CSV,
    LV_LD_SHEET,
    WERKSTATT_NR,
    WFBM_CSV,
    XLSX_CODE_TEXTS,
    XLSX_HEADER_ROW,
    XLSX_HEADERS,
    XLSX_SHEETS,
    XLSX_TITLE,
    CsvDialect,
)
from ingest.identify import Delivery, identify, implausible_period, named_in
from ingest.issues import STANDS, Issue, listed, shown
from ingest.sniff import is_text, is_utf16, is_zip, what_it_is
from ingest.workbooks import BLANKS, Cells, SheetLayout, SheetText, Unreadable, WorkbookReader
from schemas import SOURCE_TABLES

BOM = b"\xef\xbb\xbf"
DIALECTS = {"wfbm_csv": WFBM_CSV, "jc_csv": JC_CSV, "lv_register": LV_CSV, "lv_bfa": LV_CSV}
# Keys that Excel may turn into numbers: restored to this many digits (sources.md: unambiguous).
ZERO_PADDED = {"wfbm_personen": {"Wohnort_Kreis": 5}}
XLSX_NUMBER_KEYS = {"PLZ": 5, "Wohnort_Kreis": 5, "Betrieb_PLZ": 5, "Arbeitgeber_PLZ": 5}
# What the workbook workers convert to text: each sheet's header row and its zero-padded keys.
WORKBOOK_LAYOUTS = {
    "wfbm_xlsx": {
        XLSX_SHEETS[part]: SheetLayout(
            XLSX_HEADER_ROW, {h: XLSX_NUMBER_KEYS[c] for h, c in headers.items() if c in XLSX_NUMBER_KEYS}
        )
        for part, headers in XLSX_HEADERS.items()
    },
    "lv_ld": {LV_LD_SHEET: SheetLayout(1, {})},
}
WORKBOOK_SHEETS = {kind: tuple(layout) for kind, layout in WORKBOOK_LAYOUTS.items()}
MAX_LINE_CHARACTERS = 10_000  # an export row has a few hundred characters
# A character of two to four bytes as UTF-8 writes it: in Windows-1252 text, "Ã¼" for "ü"
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
STRAY_QUOTE = "mitten in einem Feld oder nicht geschlossen"
ROWS_NAMED = 20  # rows named one by one in a warning (UTF-8 rows, line breaks); the others counted in one
MAX_MISCOUNTED_LINES = 10  # unreadable lines (fields, quotes) quarantined; more reject the file
MAX_JOINED_LINES = 10  # lines of one record whose quoted fields hold line breaks
RESTORED_ZERO = "führende Null fehlte (Excel?): ergänzt"
RESEND = "bitte die Datei neu exportieren und erneut senden"
# The many monthly CSV files: parsed table by table (PlainCsv), not file by file.
PLAIN_FORMATS = {"wfbm_csv", "jc_csv"}
# A data line that is one whole record: each field unquoted (no quote in it) or quoted ("" inside).
_FIELD = '(?:[^{d}"\n]*|"(?:[^"\n]|"")*")'
_RECORD = {
    d: f"{_FIELD.format(d=d)}(?:{d}{_FIELD.format(d=d)})*"
    for d in {WFBM_CSV.delimiter, JC_CSV.delimiter, LV_CSV.delimiter}
}
_REGULAR_LINE = {d: re.compile(record) for d, record in _RECORD.items()}
# The same, where a quoted field may hold line breaks (one record over several lines).
_MULTILINE_FIELD = '(?:[^{d}"\r\n]*|"(?:[^"]|"")*")'
_MULTILINE_RECORD = {
    d: re.compile(f"{_MULTILINE_FIELD.format(d=d)}(?:{d}{_MULTILINE_FIELD.format(d=d)})*")
    for d in {WFBM_CSV.delimiter, JC_CSV.delimiter, LV_CSV.delimiter}
}


@dataclass
class ReadResult:
    delivery: Delivery | None
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    plain_rows: int = 0  # data rows handed to a PlainCsv (parsed there, with the rest of the table)

    @property
    def rejected(self) -> bool:
        return any(i.level == "file" for i in self.issues)

    @property
    def rows_removed(self) -> int:
        """Rows the reader took out of its tables (a workbook's note rows); each counts as
        delivered and quarantined."""
        return len({(i.table, i.row) for i in self.issues if i.level == "row"})

    def reject(
        self, rule: str, message: str, row: int | None = None, column: str | None = None
    ) -> ReadResult:
        name = self.delivery.name if self.delivery else "?"
        # the file's rejection is its one finding: the lines quarantined or warned about before it
        # go (both reading paths find them at different times)
        self.issues = [i for i in self.issues if i.level == "file"]
        self.issues.append(Issue(name, row, column, rule, "file", message))
        self.tables, self.plain_rows = {}, 0
        return self

    def note(self, row: int | None, column: str | None, rule: str, level: str, message: str, **kw) -> None:
        self.issues.append(Issue(self.delivery.name, row, column, rule, level, message, **kw))


def submit_workbook(reader: WorkbookReader, key, content: bytes, kind: str) -> None:
    """Hand a workbook of format ``kind`` to a worker, with the sheets to read and their layout."""
    reader.submit(key, content, WORKBOOK_SHEETS[kind], WORKBOOK_LAYOUTS[kind])


def too_many_rows(rows: int, limit: int) -> str:
    grouped = (f"{n:,}".replace(",", ".") for n in (rows, limit))
    return "zu viele Zeilen: {}; eine Meldung hat höchstens einige Tausend (Grenze {})".format(*grouped)


def read_delivery(
    name: str,
    content: bytes,
    received: dt.date | None = None,
    cells: Cells | Unreadable | None = None,
    plain: PlainCsv | None = None,
    max_rows: int | None = None,
) -> ReadResult:
    """Identify and read one file; never raises on bad input. ``received``: the day it arrived
    (a period after that month is implausible; default today). ``cells``: a workbook's cells as a
    WorkbookReader opened them (None: opened here, in a worker of its own). ``plain``: where a
    plain CSV file of a workshop or Jobcenter goes to be parsed with the others of its table."""
    received = received or dt.date.today()
    delivery = identify(name)
    if isinstance(delivery, Issue):
        return ReadResult(None, issues=[delivery])
    result = ReadResult(delivery)
    if delivery.period and (problem := implausible_period(delivery.period, received)):
        return result.reject("implausible_period", problem)
    if not content:
        return result.reject("empty_file", f"leere Datei (0 Bytes); {RESEND}")
    try:
        if delivery.format in WORKBOOK_SHEETS:
            if not is_zip(content):
                return result.reject(
                    "wrong_file_type", f"Dies ist {what_it_is(content)}, keine Excel-Arbeitsmappe (.xlsx)"
                )
            if cells is None:
                with WorkbookReader(workers=1) as reader:
                    submit_workbook(reader, 0, content, delivery.format)
                    cells = reader.result(0)
            if isinstance(cells, Unreadable):
                return result.reject(cells.rule, cells.message)
            if delivery.format == "lv_ld":
                _read_ld(result, cells)
            else:
                _read_workbook(result, cells, received)
        else:
            if problem := _not_csv_text(content, DIALECTS[delivery.format]):
                return result.reject(*problem)
            bulk = plain if delivery.format in PLAIN_FORMATS else None
            _read_csv(result, content, DIALECTS[delivery.format], delivery.tables[0], bulk, max_rows)
    except Exception as error:  # a reader bug or an unforeseen file: one finding, never a crash
        return result.reject("unreadable", f"die Datei konnte nicht gelesen werden ({type(error).__name__})")
    return result


# --- CSV ----------------------------------------------------------------------------------------


def _not_csv_text(content: bytes, dialect: CsvDialect) -> tuple[str, str] | None:
    """(rule, message) for bytes that are no CSV text at all: UTF-16 (Excel's "Unicode-Text",
    which looks binary for its NUL bytes), or no text."""
    if is_utf16(content):
        agreed, excel = (
            ("Windows-1252", "CSV (Trennzeichen-getrennt)")
            if dialect.encoding == "cp1252"
            else ("UTF-8 mit BOM", "CSV UTF-8 (durch Trennzeichen getrennt)")
        )
        return (
            "wrong_encoding",
            f"falsche Zeichenkodierung: die Datei ist UTF-16 (Excel: „Unicode-Text“), vereinbart ist {agreed} "
            f"(in Excel: Speichern als „{excel}“)",
        )
    if not is_text(content):
        return "wrong_file_type", f"Dies ist {what_it_is(content)}, keine CSV-Datei (Text mit ';')"
    return None


def _decode(result: ReadResult, content: bytes, dialect: CsvDialect) -> str | None:
    if dialect.encoding == "cp1252":
        if content.startswith(BOM) and not _is_utf8(content):
            if _cut_mid_character(result, content):
                return None
            result.reject(
                "wrong_encoding",
                "falsche Zeichenkodierung: die Datei beginnt mit einer UTF-8-Kennung (BOM), ist aber "
                "kein UTF-8; vereinbart ist Windows-1252 ohne BOM",
            )
            return None
        if content.startswith(BOM):  # declared UTF-8 (Excel's "CSV UTF-8"): unambiguous, read so
            result.note(
                1,
                None,
                "utf8_with_bom",
                "warning",
                "Zeichenkodierung UTF-8 (mit BOM) statt Windows-1252: als UTF-8 gelesen; vereinbart ist "
                'Windows-1252 (in Excel: Speichern als "CSV (Trennzeichen-getrennt)")',
            )
            return content[len(BOM) :].decode("utf-8")
        if not content.isascii() and _is_utf8(content):
            result.reject(
                "wrong_encoding",
                "falsche Zeichenkodierung: die Datei ist UTF-8 ohne BOM, vereinbart ist Windows-1252 "
                '(in Excel: Speichern als "CSV (Trennzeichen-getrennt)")',
            )
            return None
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError as error:
            line = content[: error.start].count(b"\n") + 1
            result.reject(
                "wrong_encoding",
                "falsche Zeichenkodierung: ein Byte, das es in Windows-1252 nicht gibt (beschädigt?); "
                + RESEND,
                row=line,
            )
            return None
        _note_utf8_rows(result, content, dialect.delimiter.encode())
        return text
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        if _cut_mid_character(result, content):
            return None
        line = content[: error.start].count(b"\n") + 1
        result.reject(
            "wrong_encoding",
            "falsche Zeichenkodierung: kein UTF-8 (Windows-1252?); vereinbart ist UTF-8 mit BOM "
            "(in Excel: Speichern als „CSV UTF-8 (durch Trennzeichen getrennt)“)",
            row=line,
        )
        return None
    if not text.startswith("\ufeff"):
        result.note(1, None, "no_bom", "warning", "UTF-8 ohne BOM (als UTF-8 gelesen)")
    return text.removeprefix("\ufeff")


def _note_utf8_rows(result: ReadResult, content: bytes, delimiter: bytes) -> None:
    """Rows pasted into a Windows-1252 file from a UTF-8 source read as "MÃ¼ller": loaded as
    delivered (the name then meets no other agency's record of the person), the first
    ROWS_NAMED named in a warning with their column and the rest counted in one, so that the
    sender corrects them. One scan of the file finds none in the usual case."""
    if content.isascii() or not _UTF8_SEQUENCE.search(content):
        return
    header = content[: content.find(b"\n")].rstrip(b"\r").split(delimiter)
    rows: dict[int, str | None] = {}
    line, counted_to = 0, 0  # line breaks before the match: 0 is the header
    for match in _UTF8_SEQUENCE.finditer(content):
        line += content.count(b"\n", counted_to, match.start())
        counted_to = match.start()
        if line and line + 1 not in rows:
            start = content.rfind(b"\n", 0, match.start()) + 1
            index = content.count(delimiter, start, match.start())
            rows[line + 1] = header[index].decode("cp1252", "replace") if index < len(header) else None
    message = (
        "Zeichen in UTF-8-Kodierung (etwa 'Ã¼' statt 'ü') in einer Windows-1252-Datei: so gelesen, "
        "wie geliefert; bitte {} in Windows-1252 neu exportieren"
    )
    for row, column in list(rows.items())[:ROWS_NAMED]:
        result.note(row, column, "utf8_in_cp1252", "warning", message.format("die Zeile"))
    if (more := len(rows) - ROWS_NAMED) > 0:
        result.note(None, None, "utf8_in_cp1252", "warning", message.format(f"auch {more} weitere Zeilen"))


def _cut_mid_character(result: ReadResult, content: bytes) -> bool:
    """UTF-8 that is valid but for its last one to three bytes, without a final line break: a file
    cut in transfer inside a character (rejected as such, not as the wrong encoding)."""
    if content.endswith(b"\n") or not any(_is_utf8(content[:-cut]) for cut in (1, 2, 3)):
        return False
    row = content.count(b"\n") + 1
    result.reject(
        "no_final_line_break", CUT_IN_TRANSFER.format(which=f"die letzte Zeile (Zeile {row})"), row=row
    )
    return True


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_header(result: ReadResult, header: list[str], expected: tuple[str, ...]) -> bool:
    """A header exactly as the contract says, or one file-level finding (reordered: a warning).
    However many columns a file has, the message names a few and counts the rest."""
    if tuple(header) == expected:
        return True
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if not missing and not extra and len(header) == len(expected):
        result.note(
            1,
            ", ".join(h for h, e in zip(header, expected, strict=True) if h != e),
            "reordered_columns",
            "warning",
            "Spalten in anderer Reihenfolge als vereinbart; nach Namen gelesen",
        )
        return True
    beyond = header[len(expected) :]  # a data row's fields, where the first data row joined the header
    if tuple(header[: len(expected)]) == expected and len(expected) - 1 <= len(beyond) <= len(expected):
        result.reject(
            "extra_column",
            f"Zeile 1 hat nach den vereinbarten Spalten {len(header) - len(expected)} weitere Felder: stehen "
            "Kopfzeile und erste Datenzeile auf einer Zeile? Bitte nach der Kopfzeile einen Zeilenumbruch",
            row=1,
        )
    elif not missing and len(header) != len(set(header)):
        twice = sorted(c for c, n in Counter(header).items() if n > 1)  # not header.count: 3 M columns
        result.reject(
            "duplicate_column",
            f"Spalte(n) {listed(twice)} mehrfach vorhanden; bitte jede Spalte nur einmal",
            row=1,
            column=shown(twice[0]),
        )
    elif sorted(map(_folded, header)) == sorted(map(_folded, expected)):
        result.reject(
            "renamed_column",
            "Spaltennamen anders geschrieben als vereinbart (Groß- und Kleinschreibung oder Leerzeichen); "
            f"bitte genau so: {', '.join(expected)}",
            row=1,
        )
    elif extra and not missing and not "".join(extra).strip():
        result.reject(
            "extra_column",
            "eine Spalte ohne Namen am Ende der Kopfzeile (ein Semikolon zu viel am Zeilenende?); bitte entfernen",
            row=1,
        )
    elif len(missing) == len(expected):
        result.reject(
            "missing_header",
            f"keine Kopfzeile: Zeile 1 nennt nicht die Spalten {', '.join(expected)}; bitte diese "
            "Kopfzeile als erste Zeile der Datei einfügen",
            row=1,
        )
    elif len(missing) == 1 and len(extra) == 1:
        instead = (
            f"{shown(extra[0])!r} ist" if _like_a_column_name(extra[0]) else "ein anderer Eintrag steht da,"
        )
        result.reject(
            "renamed_column",
            f"Spalte {shown(missing[0])!r} fehlt und {instead} nicht vereinbart (umbenannt?); "
            f"bitte die Spalte wieder {shown(missing[0])!r} nennen",
            row=1,
            column=missing[0],
        )
    elif missing:
        result.reject(
            "missing_column",
            f"Spalte(n) {listed(missing)} fehlen; bitte ergänzen (eine Spalte ohne Angaben bleibt leer, "
            "fehlt aber nicht)",
            row=1,
            column=", ".join(missing),
        )
    else:
        result.reject(
            "extra_column",
            f"Spalte(n) {listed(extra)} nicht vereinbart; bitte entfernen (neue Spalten nur nach "
            "Absprache mit dem Betreiber des Teilhabe Warehouse)",
            row=1,
            column=", ".join(shown(c) for c in extra[:5]) + (", …" if len(extra) > 5 else ""),
        )
    return False


def _folded(name: str) -> str:
    """A column name without the differences of case and blanks a sender's program may add."""
    return "".join(name.split()).casefold()


def _like_a_column_name(cell: str) -> bool:
    """A header cell a message may name where it stands for a renamed column: no digit (a
    Personennummer or birth date there is a data row's, never named)."""
    return not any(character.isdigit() for character in cell)


def _line_text(result: ReadResult, text: str) -> str | None:
    """The file's text with LF line ends. A line ends with CRLF or LF (mixed is read, with a
    warning); a bare CR or a NUL byte rejects the file. Checked on the whole text, line by line
    only to name the row of a fault."""
    line_feeds, crlf = text.count("\n"), text.count("\r\n")
    if text.count("\r") != crlf:
        number = text.count("\n", 0, re.search("\r(?!\n)", text).start()) + 1  # also a CR that ends the file
        result.reject(
            "line_ends", f"Zeile {number} enthält ein einzelnes Wagenrücklaufzeichen (CR)", row=number
        )
        return None
    if "\x00" in text:
        number = text[: text.index("\x00")].count("\n") + 1
        result.reject(
            "nul_bytes", f"Zeile {number} enthält Null-Bytes (0x00): keine CSV-Textdatei", row=number
        )
        return None
    if crlf and crlf != line_feeds:
        result.note(
            None, None, "mixed_line_ends", "warning", "Zeilenenden gemischt (CRLF und LF); beide gelesen"
        )
    return text.replace("\r\n", "\n") if crlf else text


def _lengths_ok(result: ReadResult, lines: list[str]) -> bool:
    """No data line longer than any export row (the header is judged by its column names)."""
    if not lines or max(map(len, lines)) <= MAX_LINE_CHARACTERS:
        return True
    index, line = next((i, line) for i, line in enumerate(lines) if len(line) > MAX_LINE_CHARACTERS)
    _too_long(result, index + 2, len(line))
    return False


def _too_long(result: ReadResult, row: int, length: int) -> None:
    result.reject(
        "line_too_long",
        f"Zeile {row} ist {length:,} Zeichen lang; eine Zeile einer Meldung hat höchstens "
        "einige hundert".replace(",", "."),
        row=row,
    )


# Per kind of faulty line: why the whole file is rejected (many such lines), and what a quarantined
# line adds to it.
_LINE_FAULTS = {
    "field_count": "ein Trennzeichen zu viel oder zu wenig, etwa in einem Text ohne Anführungszeichen",
    "stray_quote": 'ein Feld mit " steht ganz in Anführungszeichen, ein " darin verdoppelt',
}


def _faulty_lines(result: ReadResult, table: str, faults: list[tuple[int, str, str]], lines: int) -> None:
    """Lines (row, rule, what is wrong) that cannot be read as a record: another number of fields
    than the header, or a stray quotation mark. A few (a ';' or '"' in a name left unquoted) are
    quarantined and the rest of the file loads; more, and the file is not laid out as its header
    says: rejected, naming the first."""
    if len(faults) > MAX_MISCOUNTED_LINES or 2 * len(faults) >= lines:
        row, rule, text = faults[0]
        result.reject(rule, text, row=row)
        return
    for row, rule, text in faults:
        result.note(
            row, None, rule, "row", f"{text} ({_LINE_FAULTS[rule]}): Zeile nicht gelesen", table=table
        )


def _fields_of(line: str, delimiter: str) -> int | None:
    """How many fields a line holds, read as CSV; None if a quotation mark stands inside an unquoted
    field or is never closed (no record)."""
    if '"' not in line:
        return line.count(delimiter) + 1
    if _REGULAR_LINE[delimiter].fullmatch(line):
        return len(next(csv.reader([line], delimiter=delimiter, quotechar='"')))
    return None


def _field_count(row: int, fields: int, width: int) -> tuple[int, str, str]:
    return (
        row,
        "field_count",
        f"Zeile {row} hat {fields} {'Feld' if fields == 1 else 'Felder'}, die Kopfzeile {width}",
    )


_LINE_BREAK_IN_FIELD = (
    "Zeilenumbruch in einem Feld (in Excel: Alt+Eingabe): als Leerzeichen gelesen; im Texteditor "
    "steht diese Zeile auf {lines} Zeilen"
)


def _joined_line_breaks(result: ReadResult, text: str, delimiter: str, table: str) -> str:
    """The text with each record whose quoted field holds a line break (legal CSV: Excel writes
    a cell's Alt+Enter so) on one line, the break read as a blank, with a warning naming the
    row and column. Rows are then counted by record, as Excel counts them: a break no longer
    split one record into two faulty lines and shifted every row number after it. Only a quote
    opened on one line and closed within a few lines, giving a whole record of the header's
    width, is joined; any other stray quote stays a fault of its line.

    In a value that identifies a person (a number, a name, a birth date) the break becomes a
    tab, which the plausibility checks set aside as a control character, as they do the same
    cell of a workbook: "Mei" Alt+Enter "er" read as "Mei er" made another person."""
    if '"' not in text:
        return text
    lines = text.split("\n")
    if not any(line.count('"') % 2 for line in lines[1:]):
        return text
    width, identifiers = len(SOURCE_TABLES[table].columns), set(SOURCE_TABLES[table].identifiers)
    found_before = len(result.issues)
    joined, record_of = lines[:1], [1]  # record_of[line index]: the row its record is counted as
    header = _header(lines[0], delimiter)
    breaks = 0
    index = 1
    while index < len(lines):
        line = lines[index]
        end = _record_end(lines, index, delimiter, width) if line.count('"') % 2 else None
        if end is None:
            joined.append(line)
            record_of.append(len(joined))
            index += 1
            continue
        record = "\n".join(lines[index : end + 1])
        row = len(joined) + 1
        fields = next(csv.reader([record.removesuffix("\r")], delimiter=delimiter, quotechar='"'))
        keys = set()  # the fields, by position, whose break is a control character
        for position, (column, value) in enumerate(zip(header, fields, strict=False)):
            if "\n" not in value:
                continue
            if column.strip() in identifiers:
                keys.add(position)
                continue
            breaks += 1
            if breaks <= ROWS_NAMED:
                message = _LINE_BREAK_IN_FIELD.format(lines=end - index + 1)
                result.note(row, column.strip(), "line_break_in_field", "warning", message)
        closing = "\r" if record.endswith("\r") else ""
        joined.append(_one_line(record.removesuffix("\r"), delimiter, keys) + closing)
        record_of.extend([row] * (end - index + 1))
        index = end + 1
    if len(joined) == len(lines):
        return text
    if breaks > ROWS_NAMED:
        more = breaks - ROWS_NAMED
        result.note(None, None, "line_break_in_field", "warning",
                    f"{_LINE_BREAK_IN_FIELD.format(lines='mehreren')}: in {more} weiteren Feldern")  # fmt: skip
    # what was found before the join (UTF-8 rows in a Windows-1252 file) by record, not by line;
    # the warnings above already name their record's row
    result.issues[:found_before] = [
        replace(i, row=record_of[i.row - 1]) if i.row is not None and i.row <= len(record_of) else i
        for i in result.issues[:found_before]
    ]
    return "\n".join(joined)


def _one_line(record: str, delimiter: str, keys: set[int]) -> str:
    """A record of several lines on one: each break (with a CR before it) a blank, in the fields
    at the positions ``keys`` a tab. Fields are counted outside quotes (a quote inside a quoted
    field is doubled, so toggling on each one keeps count)."""
    if not keys:
        return re.sub(r"\r?\n", " ", record)
    out, position, quoted, index = [], 0, False, 0
    while index < len(record):
        char = record[index]
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            position += 1
        elif char == "\r" and record.startswith("\r\n", index):
            index += 1  # the CR of a CRLF goes with its LF
            char = "\n"
        if char == "\n":
            char = "\t" if position in keys else " "
        out.append(char)
        index += 1
    return "".join(out)


def _record_end(lines: list[str], start: int, delimiter: str, width: int) -> int | None:
    """The last line of a record that opens a quoted field on line ``start`` and closes it
    within MAX_JOINED_LINES lines, if the lines together are one whole record of ``width`` fields
    and no line after the first is a whole record by itself (a stray quote before it would join
    and swallow it)."""
    quotes, length = 0, -1
    for end in range(start, min(start + MAX_JOINED_LINES, len(lines))):
        quotes += lines[end].count('"')
        length += len(lines[end]) + 1  # with the blank each break becomes
        if length > MAX_LINE_CHARACTERS:
            return None
        if end > start and lines[end].count(delimiter) + 1 >= width:
            return None
        if end > start and quotes % 2 == 0:
            record = "\n".join(lines[start : end + 1]).removesuffix("\r")
            if not _MULTILINE_RECORD[delimiter].fullmatch(record):
                return None
            try:
                fields = next(csv.reader([record], delimiter=delimiter, quotechar='"'))
            except csv.Error:
                return None
            return end if len(fields) == width else None
    return None


def _header(first: str, delimiter: str) -> list[str]:
    first = first.removesuffix("\r")
    if '"' not in first:
        return first.split(delimiter)
    try:
        return next(csv.reader([first], delimiter=delimiter))
    except csv.Error:  # a CR or NUL in it: judged by the line checks
        return first.split(delimiter)


CUT_IN_TRANSFER = (
    "Datei möglicherweise abgeschnitten: {which} endet ohne Zeilenumbruch. Eine beim Übertragen "
    "abgeschnittene Datei endet so, auch mitten in einem Wert, der dann noch gültig aussieht. Die Datei "
    "wird nicht geladen (" + STANDS + "). Bitte senden Sie die "
    "vollständige Datei erneut, mit einem Zeilenumbruch nach der letzten Zeile (Excel schreibt ihn immer)"
)


def _unended_last_line(result: ReadResult, text: str, delimiter: str, width: int) -> str | None:
    """A file whose last line has no line break is rejected (RFC 4180 allows it; Excel always
    writes one). It may have been cut in transfer anywhere in that line: before its last field (too
    few fields, a quote left open), or inside it, where the shorter value still looks valid (hours
    38,5 as 3), or inside a row long before the file's real end, which no reader can tell from the
    end of a file (a mutation review: a personen file cut to 100 of its 669 rows loaded 99 with one
    set aside; as a correction it replaced the complete delivery). The earlier delivery of the
    period stays valid. Blanks or a Ctrl-Z (an old DOS end-of-file mark) after the last line break
    are no line."""
    start = text.rfind("\n") + 1
    line, row = text[start:], text.count("\n") + 1
    if start and not line.strip(" \t\xa0\x1a"):  # blanks, or an old DOS end-of-file mark (Ctrl-Z)
        return text[:start]
    fields = _fields_of(line, delimiter)
    if start and (fields is None or fields < width):
        result.reject(
            "truncated_file",
            f"Datei abgeschnitten: die letzte Zeile (Zeile {row}) bricht mitten in der Zeile ab "
            "(ohne Zeilenumbruch am Ende, mit zu wenigen Feldern oder einem offenen Anführungszeichen); "
            "bitte die ganze Datei erneut senden",
            row=row,
        )
        return None
    which = f"die letzte Zeile (Zeile {row})" if start else "die Kopfzeile, die einzige Zeile der Datei,"
    result.reject("no_final_line_break", CUT_IN_TRANSFER.format(which=which), row=row)
    return None


def _read_csv(
    result: ReadResult,
    content: bytes,
    dialect: CsvDialect,
    table: str,
    plain: PlainCsv | None = None,
    max_rows: int | None = None,
) -> ReadResult:
    """A CSV file checked and parsed; with ``plain``, a plain file (the agreed header in order, no
    quotation mark anywhere) is only checked here and its data lines handed to ``plain``, which
    parses every such file of a table in one pass. A file of more than ``max_rows`` lines is
    rejected before anything else looks at them: 3.5 million lines of 60 MB took 9.6 GB to parse
    before the limit rejected them (a hostile-input review)."""
    text = _decode(result, content, dialect)
    if text is None:
        return result
    if max_rows is not None and (rows := text.rstrip("\r\n").count("\n")) > max_rows:
        return result.reject("too_many_rows", too_many_rows(rows, max_rows))
    expected = SOURCE_TABLES[table].columns
    if not text.strip():
        return result.reject("empty_file", f"leere Datei (keine Kopfzeile); {RESEND}")
    text = _joined_line_breaks(result, text, dialect.delimiter, table)
    text = text.removesuffix("\r")  # cut between CR and LF: a last line without its break
    text = _line_text(result, text)
    if text is None:
        return result
    if not text.endswith("\n"):
        text = _unended_last_line(result, text, dialect.delimiter, len(expected))
        if text is None:
            return result
    first, data = text.split("\n", 1)
    if not first.strip():
        return result.reject("empty_file", f"leere Datei (keine Kopfzeile); {RESEND}")
    # A header in quotes ("Personennummer";...) is legal CSV, as is any quoted field
    header = _header(first, dialect.delimiter)
    if len(header) == 1 and "," in first:
        return result.reject(
            "wrong_separator",
            "falsches Trennzeichen: ',' statt ';'; bitte mit Semikolon getrennt speichern (Excel mit "
            "deutschen Einstellungen trennt so)",
            row=1,
        )
    if not _check_header(result, header, expected):
        return result
    data = _without_blank_tail(result, data)
    if plain is not None and tuple(header) == expected and PlainCsv.takes(data, dialect.delimiter):
        plain.add(result, table, dialect.delimiter, data)
        return result
    return _parse_file(result, first, data, dialect.delimiter, table)


def _parse_file(result: ReadResult, first: str, data: str, delimiter: str, table: str) -> ReadResult:
    """One file's data lines checked per line and parsed (the file-by-file path)."""
    expected = SOURCE_TABLES[table].columns
    lines = data.split("\n")[:-1]
    if not _lengths_ok(result, lines):
        return result
    rows = _rows_to_read(result, table, lines, delimiter, len(expected))
    if rows is None:
        return result
    if len(rows) != len(lines):
        data = "".join(f"{lines[row - 2]}\n" for row in rows)
    frame = pl.read_csv(
        io.StringIO(f"{first}\n{data}"),
        separator=delimiter,
        quote_char='"',
        infer_schema=False,
        has_header=True,
    )
    if frame.height != len(rows):  # cannot happen for the lines kept: a reader bug, not a file's
        raise RuntimeError(f"{len(rows)} lines parsed as {frame.height} rows")
    frame = _restore_zeros(result, _trimmed(frame.select(expected)), table, rows)
    result.tables[table] = _with_origin(frame, result.delivery.name, rows)
    return result


def _without_blank_tail(result: ReadResult, data: str) -> str:
    """The data lines without the empty lines that end them (an editor's or Excel's extra line
    breaks; one rejected a whole file as "1 field, the header 7"), named in one warning: one per
    line made two million warnings of a file of 4 MB (a hostile-input review)."""
    if not data.endswith("\n\n") and data != "\n":  # the usual file: nothing to cut
        return data
    body = data.rstrip("\n")
    first = body.count("\n") + 3 if body else 2  # line 1 is the header, then the body's lines
    last = first + len(data) - len(body) - (2 if body else 1)
    if first == last:
        result.note(first, None, "blank_row", "warning", "Leerzeile am Dateiende übersprungen")
    else:
        result.note(
            first, None, "blank_row", "warning",
            f"Leerzeilen am Dateiende übersprungen (Zeilen {first} bis {last})",
        )  # fmt: skip
    return f"{body}\n" if body else ""


def _rows_to_read(
    result: ReadResult, table: str, lines: list[str], delimiter: str, width: int
) -> list[int] | None:
    """The file rows of the data lines to parse: all but those that cannot be read as a record,
    which are quarantined (None: there were so many that the file is rejected)."""
    faults = _unreadable_lines(lines, delimiter, width)
    if not faults:
        return list(range(2, len(lines) + 2))
    _faulty_lines(result, table, faults, len(lines))
    if result.rejected:
        return None
    dropped = {row for row, _, _ in faults}
    return [row for row in range(2, len(lines) + 2) if row not in dropped]


def _unreadable_lines(lines: list[str], delimiter: str, width: int) -> list[tuple[int, str, str]]:
    """(row, rule, what is wrong) of the data lines that are no record: a quotation mark inside
    an unquoted field or never closed (`O"Neill`: polars refused the whole file, and the finding
    named no row), or another number of fields than the header (polars would pad a short line with
    nulls). Counted as the table-by-table reader counts them (PlainCsv._reject_faulty)."""
    if not lines:
        return []
    series = pl.Series(lines)
    counts = series.str.count_matches(delimiter, literal=True) + 1
    suspicious = ((counts != width) | series.str.contains('"', literal=True)).arg_true().to_list()
    faults = []
    for index in suspicious:
        row = index + 2
        fields = _fields_of(lines[index], delimiter)
        if fields is None:
            faults.append((row, "stray_quote", f'Zeile {row}: ein Anführungszeichen (") {STRAY_QUOTE}'))
            fields = width
        if fields != width:
            faults.append(_field_count(row, fields, width))
        if len(faults) > MAX_MISCOUNTED_LINES:  # enough to reject the file
            break
    return faults


class PlainCsv:
    """The data lines of regular CSV files (the agreed header in its order, every line one whole
    record: a quoted field opens and closes on its line), parsed table by table: a thousand
    monthly files cost one pass, not a thousand. Each file was checked whole before it came here
    (encoding, line ends, header); what is checked per line (length, number of fields) and
    restored (leading zeros) is done here for all lines of a table at once, with exactly the
    findings the file-by-file reader gives."""

    def __init__(self) -> None:
        self._files: dict[str, list[tuple[ReadResult, str]]] = {}
        self._delimiters: dict[str, str] = {}

    @staticmethod
    def takes(data: str, delimiter: str) -> bool:
        """Whether every data line is one whole record (quotes only around whole fields). Line by
        line, the lines with a quotation mark only: one expression over a whole file of a million
        such lines held 2.8 GB (a hostile-input review)."""
        if '"' not in data:
            return True
        if not data.endswith("\n"):
            return False
        record = _REGULAR_LINE[delimiter]
        return all(record.fullmatch(line) for line in data[:-1].split("\n") if '"' in line)

    def add(self, result: ReadResult, table: str, delimiter: str, data: str) -> None:
        self._files.setdefault(table, []).append((result, data))
        self._delimiters[table] = delimiter
        result.plain_rows = data.count("\n")

    def parse(self) -> dict[str, pl.DataFrame]:
        """Each table's rows (text, ``_file`` and ``_row``) of the files it kept; a file with a
        line too long or a wrong number of fields is rejected (its ReadResult says why)."""
        tables = {}
        for table, added in self._files.items():
            files = [(result, data) for result, data in added if result.plain_rows]  # not rejected since
            frame = self._parse_table(table, files)
            if frame.height:
                tables[table] = frame
        self._files.clear()
        return tables

    def _parse_table(self, table: str, files: list[tuple[ReadResult, str]]) -> pl.DataFrame:
        expected = list(SOURCE_TABLES[table].columns)
        width, delimiter = len(expected), self._delimiters[table]
        by_name = {result.delivery.name: result for result, _ in files}
        with_rows = [(r.delivery.name, r.plain_rows) for r, _ in files if r.plain_rows]
        origin = pl.DataFrame(with_rows, schema={"_file": pl.String, "rows": pl.Int64}, orient="row")
        lines = origin.select(
            pl.col("_file").repeat_by("rows").explode(),
            pl.int_ranges(2, pl.col("rows") + 2).explode().alias("_row"),
        ).with_columns(pl.Series("_line", "".join(data for _, data in files).split("\n")[:-1], pl.String))
        dropped = self._reject_faulty(table, lines, by_name, delimiter, width)
        kept = lines.filter(pl.col("_file").is_in([n for n, r in by_name.items() if r.plain_rows]))
        if dropped is not None:
            kept = kept.join(dropped, on=["_file", "_row"], how="anti", maintain_order="left")
        if not kept.height:
            return pl.DataFrame(
                schema={**dict.fromkeys(expected, pl.String), "_file": pl.String, "_row": pl.Int64}
            )
        text = kept["_line"].str.join("\n").item() + "\n"
        frame = pl.read_csv(
            io.StringIO(text), separator=delimiter, quote_char='"', infer_schema=False, has_header=False,
            new_columns=expected,
        )  # fmt: skip
        if frame.height != kept.height:  # cannot happen for regular lines: a reader bug, not a file's
            raise RuntimeError(f"{table}: {kept.height} lines parsed as {frame.height} rows")
        frame = pl.concat([_trimmed(frame), kept.select("_file", "_row")], how="horizontal")
        return self._restore_zeros(table, frame, by_name)

    @staticmethod
    def _reject_faulty(
        table: str, lines: pl.DataFrame, by_name: dict[str, ReadResult], delimiter: str, width: int
    ) -> pl.DataFrame | None:
        """As file by file: the first line too long rejects a file; lines with another number of
        fields than the header (counted exactly where a line has quotes) are quarantined, or reject
        their file if there are many. -> the quarantined lines (``_file``, ``_row``), if any."""
        measured = lines.with_columns(
            pl.col("_line").str.len_chars().alias("length"),
            (pl.col("_line").str.count_matches(delimiter, literal=True) + 1).alias("fields"),
        )
        suspicious = measured.filter(
            (pl.col("length") > MAX_LINE_CHARACTERS)
            | (pl.col("fields") != width)
            | pl.col("_line").str.contains('"', literal=True)
        )
        too_long, miscounted = {}, {}
        for name, row, line, length, counted in suspicious.iter_rows():
            if length > MAX_LINE_CHARACTERS:
                too_long.setdefault(name, (row, length))
                continue
            fields = _fields_of(line, delimiter) if '"' in line else counted  # every line here is regular
            if fields != width and len(miscounted.setdefault(name, [])) <= MAX_MISCOUNTED_LINES:
                miscounted[name].append((row, fields))
        for name, (row, length) in too_long.items():
            _too_long(by_name[name], row, length)
        dropped = []
        for name, rows in miscounted.items():
            result = by_name[name]
            if name in too_long:
                continue
            _faulty_lines(
                result, table, [_field_count(row, fields, width) for row, fields in rows], result.plain_rows
            )
            if not result.rejected:
                result.plain_rows -= len(rows)
                dropped.extend((name, row) for row, _ in rows)
        if not dropped:
            return None
        return pl.DataFrame(dropped, schema={"_file": pl.String, "_row": pl.Int64}, orient="row")

    @staticmethod
    def _restore_zeros(table: str, frame: pl.DataFrame, by_name: dict[str, ReadResult]) -> pl.DataFrame:
        for column, digits in ZERO_PADDED.get(table, {}).items():
            short = pl.col(column).str.contains(rf"^[0-9]{{{digits - 1}}}$").fill_null(False)
            for name, row, value in frame.filter(short).select("_file", "_row", column).iter_rows():
                shown = _kreis_shown(value)
                by_name[name].note(
                    row, column, "leading_zero_restored", "warning", _restored(shown), value=shown
                )
            frame = frame.with_columns(
                pl.when(short).then(pl.col(column).str.zfill(digits)).otherwise(pl.col(column)).alias(column)
            )
        return frame


def _trimmed(frame: pl.DataFrame) -> pl.DataFrame:
    """Each field without the blanks around it (workbooks.BLANKS); a field of blanks only, or a
    quoted empty one (""), is an empty field, as an unquoted empty one is: a fully quoted export
    (legal CSV) had every empty Austritt read as a value, not a date."""
    return frame.with_columns(
        pl.col(c).str.strip_chars(BLANKS).replace("", None) for c, t in frame.schema.items() if t == pl.String
    )


def _restored(shown: str | None) -> str:
    """What a restored leading zero made of a value that may be shown (a senders' review: „ergänzt“
    beside 5512 did not say to what)."""
    return f"{RESTORED_ZERO} zu 0{shown}" if shown else RESTORED_ZERO


def _kreis_shown(value: str) -> str | None:
    """A Kreisschlüssel that lost its zero may be shown (NRW's are 05xxx); four other digits may be
    a postcode that lost its own (01067, Dresden): not shown."""
    return value if re.fullmatch(r"5[0-9]{3}", value) else None


def _restore_zeros(result: ReadResult, frame: pl.DataFrame, table: str, rows: list[int]) -> pl.DataFrame:
    for column, digits in ZERO_PADDED.get(table, {}).items():
        short = frame[column].str.contains(rf"^[0-9]{{{digits - 1}}}$").fill_null(False)
        for index in short.arg_true().to_list():
            shown = _kreis_shown(frame[column][index])
            result.note(
                rows[index], column, "leading_zero_restored", "warning", _restored(shown), value=shown
            )
        frame = frame.with_columns(
            pl.when(short).then(pl.col(column).str.zfill(digits)).otherwise(pl.col(column)).alias(column)
        )
    return frame


def _with_origin(frame: pl.DataFrame, name: str, rows: list[int]) -> pl.DataFrame:
    return frame.hstack(
        [pl.Series("_file", [name] * len(rows), dtype=pl.String), pl.Series("_row", rows, dtype=pl.Int64)]
    )


def _text_frame(columns: dict[str, list[str | None]], order: tuple[str, ...]) -> pl.DataFrame:
    """A sheet's text columns in the contract's order. Built eagerly, not by a polars query: a query
    waits for polars' threads, which the thread writing the previous chunk keeps busy (at NRW 5
    years ~12 ms per workbook, 29 s of the reading thread)."""
    return pl.DataFrame({c: columns[c] for c in order}, schema=dict.fromkeys(order, pl.String))


# --- Excel --------------------------------------------------------------------------------------


def _read_workbook(result: ReadResult, cells: Cells, received: dt.date) -> ReadResult:
    missing = [s for s in XLSX_SHEETS.values() if s not in cells.sheet_names]
    if missing:
        return result.reject("missing_sheet", f"Tabellenblatt/-blätter {listed(missing)} fehlen")
    blocks = {}
    for part, sheet_name in XLSX_SHEETS.items():
        rows = cells.rows[sheet_name]
        block = _title_block(result, rows, sheet_name)
        if block is None:
            return result
        blocks[sheet_name] = block
        header = [h for h in (rows[XLSX_HEADER_ROW - 1] if len(rows) >= XLSX_HEADER_ROW else []) if h != ""]
        mapping = XLSX_HEADERS[part]
        if not _check_header(result, [str(h) for h in header], tuple(mapping)):
            return result
        columns = [mapping[h] for h in header]
        data, row_numbers = _sheet_rows(result, sheet_name, cells.texts[sheet_name], f"wfbm_{part}", mapping)
        # Long texts to codes in Python, on the few hundred cells of a sheet (a polars replace would
        # wait for polars' threads, see _text_frame: ~6 ms per workbook at NRW 5 years).
        codes = XLSX_CODE_TEXTS[part]
        by_column = {
            c: [codes[c].get(v, v) for v in values] if c in codes else values
            for c, values in zip(columns, data, strict=True)
        }
        table = f"wfbm_{part}"
        frame = _text_frame(by_column, SOURCE_TABLES[table].columns)
        result.tables[table] = _with_origin(frame, result.delivery.name, row_numbers)
    if len(set(blocks.values())) != 1:
        named = "; ".join(f"{sheet}: {nr}, {day:%d.%m.%Y}" for sheet, (nr, day) in blocks.items())
        return result.reject(
            "title_block",
            "die Kopfblöcke der Tabellenblätter nennen verschiedene Werkstätten oder Stichtage (B2 und B3: "
            f"{named}); alle Blätter einer Meldung gehören zu einer Werkstatt und einem Stichtag",
            row=2,
            column="B",
        )
    sender, stichtag = next(iter(blocks.values()))
    if problem := _name_against_title_block(result.delivery.name, sender, f"{stichtag:%Y-%m}"):
        return result.reject("title_block", problem, row=2, column="B")
    result.delivery = result.delivery.with_title_block(sender, f"{stichtag:%Y-%m}")
    if problem := implausible_period(result.delivery.period, received):
        return result.reject(
            "implausible_period", f"Stichtag im Kopfblock (B3): {problem}", row=3, column="B"
        )
    return result


def _name_against_title_block(name: str, sender: str, month: str) -> str | None:
    """Why a workbook whose name plainly says another workshop or month than its title block is
    not loaded: last month's file copied and renamed, or a title block not updated, loaded under
    the title block and replaced the real month without a word (a hostile-input review)."""
    senders, months = named_in(name)
    other_sender = len(senders) == 1 and sender not in senders
    other_month = len(months) == 1 and month not in months
    if not (other_sender or other_month):
        return None
    said = " und ".join(
        [
            *([next(iter(senders))] if other_sender else []),
            *([_month_words(next(iter(months)))] if other_month else []),
        ]
    )
    block = " und ".join(
        [*([sender] if other_sender else []), *([_month_words(month)] if other_month else [])]
    )
    return (
        f"der Dateiname nennt {said}, der Kopfblock (B2, B3) {block}: welche Angabe stimmt? Bitte "
        "Dateiname oder Kopfblock berichtigen und erneut senden"
    )


def _month_words(month: str) -> str:
    return f"{month[5:]}/{month[:4]}"


def _title_block(result: ReadResult, rows: list[list], sheet: str) -> tuple[str, dt.date] | None:
    def cell(r: int, c: int) -> object:
        return rows[r][c] if len(rows) > r and len(rows[r]) > c else ""

    if cell(0, 0) != XLSX_TITLE or cell(1, 0) != "Werkstatt-Nr.:" or cell(2, 0) != "Stichtag:":
        result.reject(
            "title_block",
            f"Tabellenblatt {sheet}: kein Kopfblock ({XLSX_TITLE!r}, 'Werkstatt-Nr.:', 'Stichtag:' in A1:A3)",
            row=1,
        )
        return None
    sender, stichtag = str(cell(1, 1)).strip(), cell(2, 1)
    if isinstance(stichtag, dt.datetime):
        stichtag = stichtag.date()
    if not isinstance(stichtag, dt.date):
        # a date typed as text ("31.12.2024" with an apostrophe, or a text cell) was told it was no
        # month's last day (a hostile-input review)
        result.reject(
            "title_block",
            f"Tabellenblatt {sheet}: B3 enthält kein Datum, sondern Text oder eine Zahl; bitte den Stichtag "
            "als Datum eintragen (etwa 31.12.2024, als Datum formatiert)",
            row=3,
            column="B",
        )
        return None
    if (stichtag + dt.timedelta(days=1)).day != 1:
        result.reject(
            "title_block",
            f"Tabellenblatt {sheet}: der Stichtag in B3 ist nicht der letzte Tag eines Monats",
            row=3,
            column="B",
        )
        return None
    if not re.fullmatch(WERKSTATT_NR, sender):
        result.reject(
            "title_block",
            f"Tabellenblatt {sheet}: keine Werkstatt-Nr. (LWL-NNNN oder LVR-NNNN) in B2",
            row=2,
            column="B",
        )
        return None
    return sender, stichtag


# A cell calamine reads as no value or as no text of the sender's (ingest/workbooks.py cell_kinds).
CELL_KIND_MESSAGES = {
    "formula_without_value": "eine Formel ohne gespeichertes Ergebnis (das Programm, das die Datei schrieb, hat "
    "sie nicht berechnet; Öffnen und Speichern in Excel berechnet sie)",
    "boolean_cell": "ein Wahrheitswert (WAHR/FALSCH) statt einer Zahl oder eines Textes",
    "error_cell": "ein Excel-Fehlerwert (etwa #NV oder #DIV/0!) statt einer Zahl oder eines Textes",
    "merged_cell": "Teil verbundener Zellen, deren Wert nur in der ersten steht; bitte den Zellverbund aufheben "
    "und den Wert in jede Zeile schreiben",
}


def _sheet_rows(
    result: ReadResult, sheet: str, text: SheetText, table: str, columns: dict[str, str] | None = None
) -> tuple[list[list[str | None]], list[int]]:
    """A sheet's data columns (as its worker converted them, ingest/workbooks.py ``sheet_text``) and
    their Excel row numbers; its notes and rows with a cell of no value quarantined (``columns``: the
    sheet's header texts as the table's columns), its blank rows between data a warning."""
    for excel_row in text.notes:
        message = f"Tabellenblatt {sheet}: keine Datenzeile (eine Notiz oder Bemerkung)"
        result.note(excel_row, None, "note_row", "row", message, table=table)
    for excel_row, header, kind, address in text.flagged:
        message = f"Tabellenblatt {sheet}, Zelle {address}: {CELL_KIND_MESSAGES[kind]}"
        column = (columns or {}).get(header, header)
        result.note(excel_row, column, kind, "row", message, table=table)
    for excel_row in text.blanks:
        result.note(excel_row, None, "blank_row", "warning", f"Tabellenblatt {sheet}: Leerzeile übersprungen")
    return text.columns, text.rows


def _read_ld(result: ReadResult, cells: Cells) -> ReadResult:
    if LV_LD_SHEET not in cells.sheet_names:
        return result.reject("missing_sheet", f"Tabellenblatt {LV_LD_SHEET!r} fehlt")
    rows = cells.rows[LV_LD_SHEET]
    expected = SOURCE_TABLES["lv_leistungsdokumentation"].columns
    header = [str(h) for h in (rows[0] if rows else []) if h != ""]
    if not _check_header(result, header, expected):
        return result
    data, numbers = _sheet_rows(result, LV_LD_SHEET, cells.texts[LV_LD_SHEET], "lv_leistungsdokumentation")
    frame = _text_frame(dict(zip(header, data, strict=True)), expected)
    result.tables["lv_leistungsdokumentation"] = _with_origin(frame, result.delivery.name, numbers)
    return result
