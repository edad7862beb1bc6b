"""Excel workbooks are opened in child processes, under a memory and a time limit.

An .xlsx file is a ZIP of XML parts, and its size says little about what reading it costs: 26 KB
can declare a cell at XFD1048576 (the reader then allocates 512 GiB and the process aborts), 2 MB
can unpack to gigabytes. So the parsing of every workbook happens in a worker process that
cannot take more than its memory limit or its time: a workbook that would exhaust it fails alone,
as one rejected file, and the run goes on. Cheap structural checks come first (ZIP entries and
unpacked size, each wanted sheet's declared range), so the common hostile cases get a precise
message; the limits catch everything else.

The workers import nothing but the standard library and calamine (a start takes ~0.1 s) and send
back the cells of the wanted sheets; given a sheet's layout, its data rows already as the text a
CSV export would hold (so that this conversion, a Python loop over every cell, runs on every core
and not in the ingesting process). They run as the same user: this is a resource boundary, not
a security boundary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from multiprocessing.connection import Connection, wait
from pathlib import Path

MAX_ENTRIES = 2_000  # a workbook of three sheets has about a dozen parts
MAX_UNPACKED_BYTES = 256 << 20  # a workshop's monthly workbook unpacks to a few MB
MAX_SHEET_CELLS = 2_000_000  # rows x columns of one sheet's range (a workshop: some 30,000)
_HEAD = 1 << 16  # bytes of an XML part read for the structural checks


# Blanks around a field's value are the exporting program's padding, not part of the value: a
# Personennummer "4711 " beside "4711" made two persons of one. Trimmed in every format (CSV:
# readers._trimmed); a field of blanks only is empty.
BLANKS = " \t\u00a0"


@dataclass(frozen=True)
class SheetLayout:
    """Where a sheet's header is, and the columns (by header text) whose numbers are keys with
    leading zeros (a PLZ 1067 is "01067")."""

    header_row: int  # 1-based
    zero_padded: dict[str, int]  # header text -> digits


@dataclass(frozen=True)
class SheetText:
    """A sheet's data below its header, as W-CSV text columns (one per non-empty header cell)."""

    columns: list[list[str | None]]
    rows: list[int]  # the data rows' Excel row numbers
    notes: list[int]  # rows with text in their first cell only (a remark, not data)
    blanks: list[int]  # empty rows between data rows
    # data rows set aside for a cell calamine reads as no value or as no text of the sender's: (Excel
    # row, header text, kind of cell, cell address); see ``cell_kinds``
    flagged: list[tuple[int, str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Cells:
    """What a workbook holds: its sheet names and the rows of the sheets asked for (with a layout:
    the rows down to the header, and the data below it in ``texts``)."""

    sheet_names: list[str]
    rows: dict[str, list[list]]
    texts: dict[str, SheetText] = field(default_factory=dict)


@dataclass(frozen=True)
class Unreadable:
    """Why a workbook was not read (a German message for the sender)."""

    rule: str
    message: str


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _column_letters(index: int) -> str:
    """A column's letters from its index from 0 (0: A, 26: AA): the inverse of _column_number, less one."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _declared_range(xml_head: bytes) -> tuple[str, int, int] | None:
    """The last cell of a sheet's <dimension ref="A1:XFD1048576"/>, with its rows and columns."""
    match = re.search(
        rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,3})(\d{1,7})(?::([A-Z]{1,3})(\d{1,7}))?"', xml_head
    )
    if not match:
        return None
    letters, row = (match.group(3), match.group(4)) if match.group(3) else (match.group(1), match.group(2))
    cell = f"{letters.decode()}{row.decode()}"
    return cell, int(row), _column_number(letters.decode())


def _read_head(book: zipfile.ZipFile, name: str) -> bytes:
    with book.open(name) as part:
        return part.read(_HEAD)


def _sheet_parts(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML part, from xl/workbook.xml and its relationships."""
    workbook = _read_head(book, "xl/workbook.xml").decode("utf-8", "replace")
    rels = _read_head(book, "xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = {}
    for tag in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", rels):
        ident, target = re.search(r'\bId="([^"]*)"', tag), re.search(r'\bTarget="([^"]*)"', tag)
        if ident and target:
            path = target.group(1)
            targets[ident.group(1)] = path.lstrip("/") if path.startswith("/") else "xl/" + path
    parts = {}
    for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", workbook):
        name, ident = re.search(r'\bname="([^"]*)"', tag), re.search(r'\b\w+:id="([^"]*)"', tag)
        if name and ident and ident.group(1) in targets:
            parts[html.unescape(name.group(1))] = targets[ident.group(1)]
    return parts


def _structure_problem(content: bytes, wanted: tuple[str, ...]) -> Unreadable | None:
    try:
        book = zipfile.ZipFile(io.BytesIO(content))
        entries = book.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        return Unreadable(
            "unreadable",
            "keine lesbare Excel-Arbeitsmappe (.xlsx): die Datei ist beschädigt oder unvollständig",
        )
    if len(entries) > MAX_ENTRIES:
        return Unreadable(
            "workbook_too_large",
            f"die Arbeitsmappe besteht aus {len(entries):,} Teilen (erlaubt: höchstens {MAX_ENTRIES:,})".replace(
                ",", "."
            ),
        )
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        return Unreadable(
            "workbook_too_large",
            f"die Arbeitsmappe würde entpackt {unpacked / 2**20:,.0f} MB belegen (erlaubt: höchstens "
            f"{MAX_UNPACKED_BYTES >> 20} MB); eine Monatsmeldung hat wenige MB".replace(",", "."),
        )
    try:
        parts = _sheet_parts(book)
        for sheet in wanted:
            declared = _declared_range(_read_head(book, parts[sheet])) if sheet in parts else None
            if declared and declared[1] * declared[2] > MAX_SHEET_CELLS:
                cell, rows, columns = declared
                return Unreadable(
                    "workbook_too_large",
                    f"Tabellenblatt {sheet!r} reicht laut Datei bis Zelle {cell} ({rows:,} Zeilen × "
                    f"{columns:,} Spalten); erlaubt sind höchstens {MAX_SHEET_CELLS:,} Zellen".replace(
                        ",", "."
                    ),
                )
    except (KeyError, zipfile.BadZipFile, ValueError, OSError, EOFError):
        pass  # no usable structure to check: calamine decides, under the limits
    return None


# What calamine reads without a word, found in a sheet's XML before it is read (a mutation review of
# the readers): a shared-string index that is no whole number in range reads as the workbook's first
# text (a first name became "Meldung Werkstattbeschäftigte"); a cell address given twice, outside
# its row or in lower case puts a value into another cell (a row written over the next one: a
# person gone, or another's exit date). These mean a damaged file. A formula without a stored
# result (as programs write that do not calculate: no value, an empty one, or any value in a
# workbook marked to be calculated when opened, as xlsxwriter writes 0) reads as empty or 0, a
# true/false cell as the text "True", an error cell (#NV) as its code: the cell's row is set aside.
# Only the sheet's data (<sheetData>) is read: elsewhere other elements carry addresses too (a watch
# window's cell). No pattern scans past the next '<' or '>' from where it starts, so a crafted
# sheet costs time in proportion to its size (a review made 43 KB take a minute before); most
# start with a literal, which is searched fast: ~7 ms of a workshop's workbook (its read ~10 ms).
_NAMESPACE = rb"[A-Za-z_][\w.-]{0,30}:"  # a tag's prefix (x:), as some writers put it
_SHEET_DATA = re.compile(rb"<(" + _NAMESPACE + rb")?sheetData\b")
_QUOTE = rb"[\"']"
_CELL_ADDRESS = re.compile(rb" r=" + _QUOTE + rb"([A-Za-z]{1,3}\d{1,7})" + _QUOTE)
_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_LOWER_CASE = re.compile(rb"[a-z]")
_TYPED_MARK = re.compile(rb"t=" + _QUOTE + rb"[be]" + _QUOTE)
_STRING_RESULT = re.compile(rb"\bt=" + _QUOTE + rb"str" + _QUOTE)


@dataclass(frozen=True)
class _Patterns:
    row_number: re.Pattern
    shared_index: re.Pattern
    typed_cell: re.Pattern
    formula_cell: re.Pattern


@cache
def _patterns(prefix: bytes) -> _Patterns:
    """The patterns for a sheet whose tags carry ``prefix`` (b"" or e.g. b"x:"), each starting with
    its tag as a literal."""
    tag = re.escape(prefix)

    def opening(name: bytes) -> bytes:
        return b"<" + tag + name + rb"\b"

    formula = opening(b"f") + rb"[^<>]*(?:/>|>[^<]*</" + tag + rb"f>)"
    value = opening(b"v")
    return _Patterns(
        re.compile(opening(b"row") + rb"[^<>]*?\br=" + _QUOTE + rb"(\d{1,7})" + _QUOTE),
        re.compile(rb"t=" + _QUOTE + rb"s" + _QUOTE + rb"[^<>]*>\s*(?:" + formula + rb"\s*)?" + value + rb"[^<>]*>([^<]*)<"),
        re.compile(opening(b"c") + rb"([^<>]*?\bt=" + _QUOTE + rb"([be])" + _QUOTE + rb"[^<>]*)>"),
        re.compile(
            opening(b"c") + rb"([^<>]*)>\s*" + formula + rb"\s*(" + value + rb"[^<>]*/>|" + value
            + rb"[^<>]*>([^<]*)</" + tag + rb"v>)?"
        ),
    )  # fmt: skip


_RECALCULATED = re.compile(rb"\bfullCalcOnLoad=" + _QUOTE + rb"(?:1|true)" + _QUOTE)
CELL_KINDS = {b"b": "boolean_cell", b"e": "error_cell"}
DAMAGED = (
    "keine lesbare Excel-Arbeitsmappe (.xlsx): die Datei ist beschädigt (Tabellenblatt {sheet}: {what}); bitte "
    "die Meldung neu exportieren oder in Excel öffnen, speichern und erneut senden"
)


def _shared_strings(book: zipfile.ZipFile) -> int | None:
    """How many texts the workbook's shared-string table holds (None: it has none)."""
    name = next((n for n in book.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
    return len(re.findall(rb"<(?:" + _NAMESPACE + rb")?si[\s/>]", book.read(name))) if name else None


def _recalculated(book: zipfile.ZipFile) -> bool:
    """The workbook asks to be calculated when opened: its formulas' stored results are not theirs."""
    try:
        return bool(_RECALCULATED.search(book.read("xl/workbook.xml")))
    except KeyError:
        return False


def _misplaced_cell(data: bytes, row_number: re.Pattern) -> str | None:
    """A cell address given twice, in lower case, in a row the sheet has no element for or before
    the row of the cell written before it, or a row number given twice or out of order (as "Zelle
    A7" or "Zeile 7"); None when none is. (A cell's address is not matched with its own row element:
    a loop over the cells costs more than the rest of the workbook's read; a file of Excel's is
    compressed with a checksum, so such damage is a writer's, not the disk's.)"""
    numbered = row_number.findall(data)
    rows = list(map(int, numbered))
    if rows != sorted(set(rows)):
        return f"Zeile {next(r for i, r in enumerate(rows) if i and r <= rows[i - 1])}"
    cells = _CELL_ADDRESS.findall(data)
    if not cells:
        return None
    joined = b" ".join(cells)  # the addresses' rows, and their case, in whole-list operations
    numbers = joined.translate(None, _LETTERS).split()
    cell_rows = list(map(int, numbers))
    if (
        len(set(cells)) == len(cells)
        and not _LOWER_CASE.search(joined)
        and (not rows or set(numbers) <= set(numbered))
        and cell_rows == sorted(cell_rows)
    ):
        return None
    seen: set[bytes] = set()
    for i, cell in enumerate(cells):  # only for the message
        if (
            cell in seen or not cell.isupper() or (rows and numbers[i] not in numbered)
            or (i and cell_rows[i] < cell_rows[i - 1])
        ):  # fmt: skip
            return f"Zelle {cell.decode()}"
        seen.add(cell)
    return f"Zelle {cells[0].decode()}"


def cell_kinds(
    xml: bytes, strings: int | None, sheet: str, recalculated: bool = False
) -> Unreadable | dict[tuple[int, int], tuple[str, str]]:
    """A sheet's XML checked for what calamine reads without a word: damage (a shared-string index
    out of range, a cell out of place) as Unreadable; else the cells whose row is set aside, by
    (Excel row, column index from 0): (kind, address). ``recalculated``: the workbook is marked to
    be calculated when opened."""
    begins = _SHEET_DATA.search(xml)
    data = xml[begins.start() : xml.rfind(b"sheetData>") + 1] if begins else b""
    patterns = _patterns(begins.group(1) or b"" if begins else b"")
    indexes = patterns.shared_index.findall(data)
    if indexes and (
        not all(indexes) or not b"".join(indexes).isdigit() or max(map(int, indexes)) >= (strings or 0)
    ):
        return Unreadable(
            "unreadable", DAMAGED.format(sheet=sheet, what="eine Zelle verweist auf keinen Text")
        )
    if misplaced := _misplaced_cell(data, patterns.row_number):
        what = f"{misplaced} steht zweimal darin oder nicht an ihrem Platz"
        return Unreadable("unreadable", DAMAGED.format(sheet=sheet, what=what))
    found = []
    if _TYPED_MARK.search(data):
        found += [(attributes, CELL_KINDS[kind]) for attributes, kind in patterns.typed_cell.findall(data)]
    if b"<f" in data or b":f" in data:
        found += [
            (attributes, "formula_without_value")
            for attributes, stored, value in patterns.formula_cell.findall(data)
            if recalculated or not stored or (not value and not _STRING_RESULT.search(attributes))
        ]
    kinds = {}
    for attributes, kind in found:
        if found_at := _CELL_ADDRESS.search(b" " + attributes):
            address = found_at.group(1).decode().upper()
            letters = address.rstrip("0123456789")
            kinds[(int(address[len(letters) :]), _column_number(letters) - 1)] = (kind, address)
    return kinds


def _merged_below(ranges, rows: list[list], header_row: int) -> Unreadable | dict:
    """The cells of merged ranges in the data below the header, but the first of each, whose value
    calamine (like Excel) keeps only in the first: by (Excel row, column index from 0), as
    ``cell_kinds``, the first named column of each row only. Read as empty, such a cell made "Wert
    fehlt" of a value the sender sees, or no value at all where one may be empty (a Kostenträger
    merged over ten rows). Ranges are cut to the sheet; together they may not cover more cells
    than a sheet may hold (real ones never overlap)."""
    header = rows[header_row - 1] if len(rows) >= header_row else []
    named = [i for i, h in enumerate(header) if h != ""]
    cells: dict[tuple[int, int], tuple[str, str]] = {}
    covered = 0
    for (top, left), (end_row, end_column) in ranges or ():
        first, last = max(top, header_row), min(end_row, len(rows) - 1)
        columns = [i for i in named if left <= i <= end_column]
        if not columns or last < first:  # beside the named columns, or above the data: nothing read
            continue
        covered += (last - first + 1) * len(columns)  # the work below, bounded
        if covered > MAX_SHEET_CELLS:
            return Unreadable("unreadable", "die verbundenen Zellen eines Tabellenblatts überlappen sich")
        for row in range(first, last + 1):  # 0-based: the data start at index header_row
            column = next((i for i in columns if (row, i) != (top, left)), None)
            if column is not None and (row + 1, column) not in cells:
                cells[(row + 1, column)] = ("merged_cell", f"{_column_letters(column)}{row + 1}")
    return cells


def _german_date(day: dt.date) -> str:
    """TT.MM.JJJJ (as strftime, a third of its time: a year of workbooks holds a million dates)."""
    return f"{day.day:02d}.{day.month:02d}.{day.year}"


def _cell_text(value: object, digits: int | None) -> str | None:
    """An Excel cell as W-CSV text; ``digits``: a key number's width (zero-padded)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return _german_date(value)
    if isinstance(value, float):
        if digits and value.is_integer():
            return str(int(value)).zfill(digits)
        return _number_text(value)
    if isinstance(value, str):
        return value.strip(BLANKS) or None
    return str(value)


def _number_text(value: float) -> str:
    """An Excel number as the W-CSV writes it: a whole number without decimals (a Pers.-Nr.
    4000001, where "{:g}" gave 4e+06 and made 288 persons one), others to Excel's 15 significant
    digits with a decimal comma (never rounded to 6, never in exponent form below 10^15)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}".replace(".", ",")


def _column_text(values: list, digits: int | None) -> list[str | None]:
    """A sheet column as W-CSV text: one loop per column for the usual single-typed columns (text,
    dates), the cell-by-cell rule only for mixed ones."""
    kinds = {type(v) for v in values if v is not None and v != ""}
    if kinds <= {str}:
        return [(v.strip(BLANKS) or None) if v else None for v in values]
    if kinds <= {dt.date}:
        return [_german_date(v) if v else None for v in values]
    if kinds <= {float} and not digits:
        return [_number_text(v) if v != "" and v is not None else None for v in values]
    return [_cell_text(v, digits) for v in values]


def sheet_text(rows: list[list], layout: SheetLayout, kinds: dict | None = None) -> SheetText:
    """The data rows below the header as text columns, one per non-empty header cell. Empty rows
    are skipped (noted where data follows); a row with text in its first cell only is a note; a row
    with a cell of ``kinds`` (``cell_kinds``) in a named column is flagged."""
    header_row = rows[layout.header_row - 1] if len(rows) >= layout.header_row else []
    # Each named column read from its own position: a blank header cell between named ones (an
    # inserted column) shifted every column after it, and "Rückkehr am" read an empty column.
    positions = [i for i, h in enumerate(header_row) if h != ""]
    header = [header_row[i] for i in positions]
    kept, numbers, notes, blank, flagged = [], [], [], [], []
    kinds = kinds or {}
    for offset, raw in enumerate(rows[layout.header_row :]):
        excel_row = layout.header_row + 1 + offset
        if all(c == "" or c is None for c in raw):
            blank.append(excel_row)
            continue
        cells = [raw[i] if i < len(raw) else "" for i in positions]
        if isinstance(cells[0], str) and all(c == "" or c is None for c in cells[1:]):
            notes.append(excel_row)
            continue
        if kinds and (odd := [(i, kinds[excel_row, i]) for i in positions if (excel_row, i) in kinds]):
            column, (kind, address) = odd[0]
            flagged.append((excel_row, str(header_row[column]), kind, address))
            continue
        kept.append(cells)
        numbers.append(excel_row)
    last = max(numbers, default=0)
    if not kept:
        return SheetText([[] for _ in header], numbers, notes, [r for r in blank if r < last], flagged)
    columns = [
        _column_text(list(values), layout.zero_padded.get(str(name)))
        for values, name in zip(zip(*kept, strict=True), header, strict=True)
    ]
    return SheetText(columns, numbers, notes, [r for r in blank if r < last], flagged)


def _checked_sheets(content: bytes, wanted: tuple[str, ...]) -> Unreadable | dict[str, dict]:
    """``cell_kinds`` of each wanted sheet (the ZIP's structure checked before: its parts fit)."""
    book = zipfile.ZipFile(io.BytesIO(content))
    try:
        parts, strings, recalculated = _sheet_parts(book), _shared_strings(book), _recalculated(book)
        found = {sheet: book.read(parts[sheet]) for sheet in wanted if sheet in parts}
    except (KeyError, zipfile.BadZipFile, ValueError, OSError, EOFError):
        return {}  # no usable structure to check: calamine decides, under the limits
    kinds = {}
    for sheet, xml in found.items():
        checked = cell_kinds(xml, strings, sheet, recalculated)
        if isinstance(checked, Unreadable):
            return checked
        kinds[sheet] = checked
    return kinds


def open_workbook(
    content: bytes, wanted: tuple[str, ...], layout: dict[str, SheetLayout] | None = None
) -> Cells | Unreadable:
    """The wanted sheets' rows (dense from A1, Excel dates as datetime), after the structural
    checks; with a ``layout`` for a sheet, its rows down to the header and its data as text.
    Runs in a worker; in the parent only for trusted files (tests)."""
    from python_calamine import CalamineWorkbook

    if problem := _structure_problem(content, wanted):
        return problem
    try:
        kinds = _checked_sheets(content, wanted)
        if isinstance(kinds, Unreadable):
            return kinds
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
        names = list(book.sheet_names)
        rows, texts = {}, {}
        for sheet in (s for s in wanted if s in names):
            found = book.get_sheet_by_name(sheet)
            end = found.end or (0, 0)
            if (end[0] + 1) * (end[1] + 1) > MAX_SHEET_CELLS:
                return Unreadable(
                    "workbook_too_large",
                    f"Tabellenblatt {sheet!r} hat Inhalt bis Zeile {end[0] + 1:,}, Spalte {end[1] + 1:,}; "
                    f"erlaubt sind höchstens {MAX_SHEET_CELLS:,} Zellen".replace(",", "."),
                )
            rows[sheet] = found.to_python(skip_empty_area=False)
            if layout and sheet in layout:
                merged = _merged_below(found.merged_cell_ranges, rows[sheet], layout[sheet].header_row)
                if isinstance(merged, Unreadable):
                    return merged
                texts[sheet] = sheet_text(rows[sheet], layout[sheet], {**merged, **kinds.get(sheet, {})})
                del rows[sheet][layout[sheet].header_row :]
    except MemoryError:
        return Unreadable("reader_limit", "die Arbeitsmappe braucht beim Lesen mehr Speicher als erlaubt")
    except Exception:  # calamine's errors: a damaged or not-really-xlsx file
        return Unreadable(
            "unreadable",
            "keine lesbare Excel-Arbeitsmappe (.xlsx): die Datei ist beschädigt oder unvollständig",
        )
    return Cells(names, rows, texts)


def _serve(descriptor: int, memory_bytes: int) -> None:
    """A worker: read workbooks until the parent closes the socket. The address-space limit makes
    an oversized allocation fail here (calamine then aborts this process, not the run)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    connection = Connection(descriptor)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        key, content, wanted, layout = task
        connection.send((key, open_workbook(content, wanted, layout)))


@dataclass
class _Worker:
    process: subprocess.Popen
    connection: Connection
    task: tuple | None = None  # (key, started) while busy


class WorkbookReader:
    """A small pool of workbook workers. ``submit`` queues a workbook, ``result`` waits for it; a
    worker that dies (memory limit) or overruns its time is replaced and its workbook reported
    as Unreadable. Use as a context manager; workers start on the first workbook."""

    def __init__(self, workers: int = 2, memory_bytes: int = 512 << 20, timeout_seconds: float = 60.0):
        self.size, self.memory_bytes, self.timeout = workers, memory_bytes, timeout_seconds
        self._workers: list[_Worker] = []
        self._queue: deque = deque()
        self._results: dict = {}

    def __enter__(self) -> WorkbookReader:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def submit(
        self, key, content: bytes, wanted: tuple[str, ...], layout: dict[str, SheetLayout] | None = None
    ) -> None:
        self._queue.append((key, content, wanted, layout))
        self._dispatch()

    def result(self, key) -> Cells | Unreadable:
        while key not in self._results:
            if not any(w.task for w in self._workers) and not self._queue:
                raise KeyError(f"workbook {key!r} was never submitted")
            self._pump()
        return self._results.pop(key)

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self._workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.connection.close()
        self._workers.clear()

    def _start(self) -> _Worker:
        """A new interpreter (never a fork of this process and its threads; not multiprocessing's
        spawn, which re-imports the caller's main module), talking over a socket pair. Its stderr
        is discarded: a Rust abort prints a backtrace, and the failure is reported here."""
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-I", "-c", _WORKER, str(theirs.fileno()), str(self.memory_bytes)]
        process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
            command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, "RUST_BACKTRACE": "0"},
        )  # fmt: skip
        theirs.close()
        return _Worker(process, Connection(ours.detach()))

    def _dispatch(self) -> None:
        while self._queue:
            idle = next((w for w in self._workers if w.task is None), None)
            if idle is None and len(self._workers) < self.size:
                idle = self._start()
                self._workers.append(idle)
            if idle is None:
                return
            task = self._queue.popleft()
            try:
                idle.connection.send(task)
            except OSError:  # the worker is gone: replace it, try again
                self._replace(idle)
                self._queue.appendleft(task)
                continue
            idle.task = (task[0], time.monotonic())

    def _replace(self, worker: _Worker) -> None:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        worker.connection.close()
        self._workers.remove(worker)

    def _fail(self, worker: _Worker, message: str) -> None:
        key = worker.task[0]
        self._results[key] = Unreadable("reader_limit", message)
        self._replace(worker)

    def _pump(self) -> None:
        busy = [w for w in self._workers if w.task]
        deadline = min(started for _, started in (w.task for w in busy)) + self.timeout
        ready = wait(
            [w.connection for w in busy],  # a worker that dies closes its end: readable, EOF
            timeout=max(0.0, deadline - time.monotonic()),
        )
        for worker in busy:
            if worker.connection in ready:
                try:
                    key, result = worker.connection.recv()
                except (EOFError, OSError):
                    self._fail(worker, self._death_message(worker))
                    continue
                self._results[key] = result
                worker.task = None
            elif time.monotonic() - worker.task[1] > self.timeout:
                self._fail(
                    worker,
                    f"das Lesen der Arbeitsmappe dauerte länger als {self.timeout:.0f} s und wurde "
                    "abgebrochen (eine Monatsmeldung braucht Bruchteile einer Sekunde)",
                )
        self._dispatch()

    def _death_message(self, worker: _Worker) -> str:
        return (
            "die Arbeitsmappe brauchte beim Lesen mehr als die erlaubten "
            f"{self.memory_bytes >> 20} MB Speicher und wurde abgebrochen (sie enthält weit mehr, "
            "als ihre Größe vermuten lässt)"
        )


# The worker process: this very file's package (not whichever one the environment would find first,
# as `-m` in isolated mode would), imported as ingest.workbooks so that results pickle as such.
_WORKER = (
    f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
    "from ingest.workbooks import _serve; _serve(int(sys.argv[1]), int(sys.argv[2]))"
)
