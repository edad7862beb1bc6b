"""Readers: bytes of one delivery in, its tables as text out (all columns strings, empty = null,
``_file`` and ``_row`` added), or one clear file-level finding.

The text follows the W-CSV conventions for workshop and Landschaftsverband tables and the JC
conventions for Jobcenter tables, whichever vendor sent it: the W-XLSX reader turns Excel dates into
``TT.MM.JJJJ``, numbers into text and long texts into codes. Validation (schemas/) comes next.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

import polars as pl
from python_calamine import CalamineWorkbook

from ingest.formats import (
    JC_CSV,
    LV_CSV,
    LV_LD_SHEET,
    WFBM_CSV,
    XLSX_CODE_TEXTS,
    XLSX_HEADER_ROW,
    XLSX_HEADERS,
    XLSX_SHEETS,
    XLSX_TITLE,
    CsvDialect,
)
from ingest.identify import Delivery, identify
from ingest.issues import Issue
from schemas import SOURCE_TABLES

BOM = b"\xef\xbb\xbf"
DIALECTS = {"wfbm_csv": WFBM_CSV, "jc_csv": JC_CSV, "lv_register": LV_CSV, "lv_bfa": LV_CSV}
# Keys that Excel may turn into numbers: restored to this many digits (sources.md: unambiguous).
ZERO_PADDED = {"wfbm_personen": {"Wohnort_Kreis": 5}}
XLSX_NUMBER_KEYS = {"PLZ": 5, "Wohnort_Kreis": 5, "Betrieb_PLZ": 5, "Arbeitgeber_PLZ": 5}


@dataclass
class ReadResult:
    delivery: Delivery | None
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(i.level == "file" for i in self.issues)

    def reject(
        self, rule: str, message: str, row: int | None = None, column: str | None = None
    ) -> ReadResult:
        name = self.delivery.name if self.delivery else "?"
        self.issues.append(Issue(name, row, column, rule, "file", message))
        self.tables = {}
        return self


def read_delivery(name: str, content: bytes) -> ReadResult:
    """Identify and read one file; never raises on bad input."""
    delivery = identify(name)
    if isinstance(delivery, Issue):
        return ReadResult(None, issues=[delivery])
    result = ReadResult(delivery)
    if not content:
        return result.reject("empty_file", "empty file (0 bytes)")
    try:
        if delivery.format == "wfbm_xlsx":
            return _read_workbook(result, content)
        if delivery.format == "lv_ld":
            return _read_ld(result, content)
        return _read_csv(result, content, DIALECTS[delivery.format], delivery.tables[0])
    except Exception as error:  # a reader bug or an unforeseen file: one finding, never a crash
        return result.reject("unreadable", f"the file could not be read ({type(error).__name__})")


# --- CSV ----------------------------------------------------------------------------------------


def _decode(result: ReadResult, content: bytes, dialect: CsvDialect) -> str | None:
    if dialect.encoding == "cp1252":
        if content.startswith(BOM) or (not content.isascii() and _is_utf8(content)):
            result.reject("wrong_encoding", "wrong encoding: the file is UTF-8, Windows-1252 is promised")
            return None
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError as error:
            line = content[: error.start].count(b"\n") + 1
            result.reject(
                "wrong_encoding", "wrong encoding: a byte that Windows-1252 does not define", row=line
            )
            return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        result.reject(
            "wrong_encoding",
            "wrong encoding: not UTF-8 (Windows-1252?), UTF-8 with BOM is promised",
            row=line,
        )
        return None
    if not text.startswith("\ufeff"):
        result.issues.append(
            Issue(result.delivery.name, 1, None, "no_bom", "warning", "UTF-8 without BOM (read as UTF-8)")
        )
    return text.removeprefix("\ufeff")


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_header(result: ReadResult, header: list[str], expected: tuple[str, ...]) -> bool:
    """A header exactly as the contract says, or one file-level finding (reordered: a warning)."""
    if tuple(header) == expected:
        return True
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if not missing and not extra and len(header) == len(expected):
        result.issues.append(
            Issue(
                result.delivery.name,
                1,
                ", ".join(h for h, e in zip(header, expected, strict=True) if h != e),
                "reordered_columns",
                "warning",
                "columns in another order than specified; read by name",
            )
        )
        return True
    if len(missing) == len(expected):
        result.reject(
            "missing_header", f"no header row: row 1 does not name the columns {', '.join(expected)}", row=1
        )
    elif len(missing) == 1 and len(extra) == 1:
        result.reject(
            "renamed_column",
            f"column {missing[0]!r} is missing and {extra[0]!r} is not specified (renamed?)",
            row=1,
            column=missing[0],
        )
    elif missing:
        result.reject(
            "missing_column",
            f"column(s) {', '.join(map(repr, missing))} missing",
            row=1,
            column=", ".join(missing),
        )
    else:
        result.reject(
            "extra_column",
            f"column(s) {', '.join(map(repr, extra))} not specified",
            row=1,
            column=", ".join(extra),
        )
    return False


def _read_csv(result: ReadResult, content: bytes, dialect: CsvDialect, table: str) -> ReadResult:
    text = _decode(result, content, dialect)
    if text is None:
        return result
    expected = SOURCE_TABLES[table].columns
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        return result.reject("empty_file", "empty file (no header)")
    if not text.endswith("\n"):
        return result.reject(
            "truncated_file",
            f"truncated file: the last row (row {len(lines)}) ends without a line break",
            row=len(lines),
        )
    header = lines[0].split(dialect.delimiter)
    if len(header) == 1 and "," in lines[0]:
        return result.reject("wrong_separator", "wrong separator: ',' instead of ';'", row=1)
    if not _check_header(result, header, expected):
        return result
    if not _field_counts_ok(result, lines[1:], dialect, len(header)):
        return result
    frame = pl.read_csv(
        io.StringIO(text), separator=dialect.delimiter, quote_char='"', infer_schema=False, has_header=True
    )
    if frame.height != len(lines) - 1:
        return result.reject("line_breaks", "a quoted field spans lines; every row must be one line")
    frame = _restore_zeros(result, frame.select(expected), table)
    result.tables[table] = _with_origin(frame, result.delivery.name, list(range(2, frame.height + 2)))
    return result


def _field_counts_ok(result: ReadResult, lines: list[str], dialect: CsvDialect, width: int) -> bool:
    """Every data line has as many fields as the header (polars would pad a short one with nulls)."""
    if not lines:
        return True
    series = pl.Series(lines)
    counts = series.str.count_matches(dialect.delimiter, literal=True) + 1
    suspicious = ((counts != width) | series.str.contains('"', literal=True)).arg_true().to_list()
    for index in suspicious:  # exact count for the few lines with quotes or an odd count
        (fields,) = csv.reader([lines[index]], delimiter=dialect.delimiter, quotechar='"')
        if len(fields) != width:
            result.reject(
                "field_count", f"row {index + 2} has {len(fields)} fields, the header {width}", row=index + 2
            )
            return False
    return True


def _restore_zeros(result: ReadResult, frame: pl.DataFrame, table: str) -> pl.DataFrame:
    for column, digits in ZERO_PADDED.get(table, {}).items():
        short = frame[column].str.contains(rf"^\d{{{digits - 1}}}$").fill_null(False)
        for index in short.arg_true().to_list():
            result.issues.append(
                Issue(
                    result.delivery.name,
                    index + 2,
                    column,
                    "leading_zero_restored",
                    "warning",
                    "leading zero lost (Excel?): restored",
                    frame[column][index],
                )
            )
        frame = frame.with_columns(
            pl.when(short).then(pl.col(column).str.zfill(digits)).otherwise(pl.col(column)).alias(column)
        )
    return frame


def _with_origin(frame: pl.DataFrame, name: str, rows: list[int]) -> pl.DataFrame:
    return frame.with_columns(pl.lit(name).alias("_file"), pl.Series("_row", rows, dtype=pl.Int64))


# --- Excel --------------------------------------------------------------------------------------


def _text(value: object, column: str) -> str | None:
    """An Excel cell as the W-CSV text of its column."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float):
        if column in XLSX_NUMBER_KEYS and value.is_integer():
            return str(int(value)).zfill(XLSX_NUMBER_KEYS[column])
        return f"{value:g}".replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return str(value)


def _read_workbook(result: ReadResult, content: bytes) -> ReadResult:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception:
        return result.reject("unreadable", "not a readable Excel workbook")
    missing = [s for s in XLSX_SHEETS.values() if s not in book.sheet_names]
    if missing:
        return result.reject("missing_sheet", f"sheet(s) {', '.join(map(repr, missing))} missing")
    senders = set()
    for part, sheet_name in XLSX_SHEETS.items():
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        block = _title_block(result, rows, sheet_name)
        if block is None:
            return result
        senders.add(block)
        header = [h for h in (rows[XLSX_HEADER_ROW - 1] if len(rows) >= XLSX_HEADER_ROW else []) if h != ""]
        mapping = XLSX_HEADERS[part]
        if not _check_header(result, header, tuple(mapping)):
            return result
        columns = [mapping[h] for h in header]
        data, row_numbers = _sheet_rows(result, sheet_name, rows, XLSX_HEADER_ROW, columns)
        frame = pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String), orient="col")
        codes = XLSX_CODE_TEXTS[part]
        frame = frame.with_columns(pl.col(c).replace(m) for c, m in codes.items())
        table = f"wfbm_{part}"
        result.tables[table] = _with_origin(
            frame.select(SOURCE_TABLES[table].columns), result.delivery.name, row_numbers
        )
    if len(senders) != 1:
        return result.reject("title_block", "the sheets' title blocks name different workshops or Stichtage")
    sender, stichtag = senders.pop()
    result.delivery = result.delivery.with_title_block(sender, f"{stichtag:%Y-%m}")
    return result


def _title_block(result: ReadResult, rows: list[list], sheet: str) -> tuple[str, dt.date] | None:
    def cell(r: int, c: int) -> object:
        return rows[r][c] if len(rows) > r and len(rows[r]) > c else ""

    if cell(0, 0) != XLSX_TITLE or cell(1, 0) != "Werkstatt-Nr.:" or cell(2, 0) != "Stichtag:":
        result.reject(
            "title_block",
            f"sheet {sheet}: no title block ({XLSX_TITLE!r}, 'Werkstatt-Nr.:', 'Stichtag:' in A1:A3)",
            row=1,
        )
        return None
    sender, stichtag = str(cell(1, 1)).strip(), cell(2, 1)
    if isinstance(stichtag, dt.datetime):
        stichtag = stichtag.date()
    if not isinstance(stichtag, dt.date) or (stichtag + dt.timedelta(days=1)).day != 1:
        result.reject(
            "title_block",
            f"sheet {sheet}: the Stichtag in B3 is not the last day of a month",
            row=3,
            column="B",
        )
        return None
    if not re.fullmatch(r"(LWL|LVR)-\d{4}", sender):
        result.reject(
            "title_block", f"sheet {sheet}: no Werkstatt-Nr. (LWL-NNNN or LVR-NNNN) in B2", row=2, column="B"
        )
        return None
    return sender, stichtag


def _sheet_rows(
    result: ReadResult, sheet: str, rows: list[list], header_row: int, columns: list[str]
) -> tuple[list[list[str | None]], list[int]]:
    """The data rows below the header as text columns, with their Excel row numbers. Blank rows
    between data are skipped with a warning; a row with text only in its first cell is a note,
    quarantined."""
    kept, numbers, blank = [], [], []
    width = len(columns)
    for offset, raw in enumerate(rows[header_row:]):
        excel_row = header_row + 1 + offset
        if all(c == "" or c is None for c in raw):
            blank.append(excel_row)
            continue
        cells = raw[:width] if len(raw) >= width else list(raw) + [""] * (width - len(raw))
        if isinstance(cells[0], str) and all(c == "" or c is None for c in cells[1:]):
            message = f"sheet {sheet}: not a data row (a note or comment line)"
            result.issues.append(Issue(result.delivery.name, excel_row, None, "note_row", "row", message))
            continue
        kept.append(cells)
        numbers.append(excel_row)
    last = max(numbers, default=0)
    for excel_row in blank:
        if excel_row < last:
            message = f"sheet {sheet}: blank row skipped"
            result.issues.append(
                Issue(result.delivery.name, excel_row, None, "blank_row", "warning", message)
            )
    if not kept:
        return [[] for _ in columns], numbers
    data = [
        _column_text(list(values), column)
        for values, column in zip(zip(*kept, strict=True), columns, strict=True)
    ]
    return data, numbers


def _column_text(values: list, column: str) -> list[str | None]:
    """A sheet column as W-CSV text: one loop per column for the usual single-typed columns (text,
    dates), the cell-by-cell rule only for mixed ones."""
    kinds = {type(v) for v in values if v is not None and v != ""}
    if kinds <= {str}:
        return [v or None for v in values]
    if kinds <= {dt.date}:
        return [v.strftime("%d.%m.%Y") if v else None for v in values]
    if kinds <= {float} and column not in XLSX_NUMBER_KEYS:
        return [f"{v:g}".replace(".", ",") if v != "" and v is not None else None for v in values]
    return [_text(v, column) for v in values]


def _read_ld(result: ReadResult, content: bytes) -> ReadResult:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception:
        return result.reject("unreadable", "not a readable Excel workbook")
    if LV_LD_SHEET not in book.sheet_names:
        return result.reject("missing_sheet", f"sheet {LV_LD_SHEET!r} missing")
    rows = book.get_sheet_by_name(LV_LD_SHEET).to_python(skip_empty_area=False)
    expected = SOURCE_TABLES["lv_leistungsdokumentation"].columns
    header = [h for h in (rows[0] if rows else []) if h != ""]
    if not _check_header(result, header, expected):
        return result
    data, numbers = _sheet_rows(result, LV_LD_SHEET, rows, 1, header)
    frame = pl.DataFrame(data, schema=dict.fromkeys(header, pl.String), orient="col").select(expected)
    result.tables["lv_leistungsdokumentation"] = _with_origin(frame, result.delivery.name, numbers)
    return result
