"""Extract files a partner can open: CSV as German Excel reads it (';', UTF-8 with BOM, decimal
comma), an XLSX workbook (one sheet per KPI, header row, widths, frozen header, a sheet explaining
every column and the symbols), both with German headers and words (publish/labels.py), and Parquet
with the typed snake_case columns for data teams.

Suppressed cells are "*" in CSV and XLSX; in Parquet they are null and named in the row's
``suppressed`` column. A figure that cannot be computed is "x" in CSV and XLSX (null in Parquet);
``missing_reason`` ("fehlt, weil") says why. Text that Excel would read as a formula is neutralised
(privacy.md §5).

Excel opening a CSV by double click turns a Kreisschlüssel 05513 into 5513 and a month 2024-12 into
a date. No CSV form keeps them as text without a formula (="05513"), which privacy.md §5 rules out,
or without changing the value a program reads; the Erläuterungen say so and point to the XLSX.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter

from publish.expected import german_count
from publish.labels import (
    DEFINITIONS,
    NOT_COMPUTABLE,
    PROVISIONAL,
    SHEET_NAMES,
    SUPPRESSED,
    SYMBOLS,
    column,
    translated,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_AND_EXCEL = (
    "CSV und Excel: Öffnet Excel die CSV-Datei per Doppelklick, macht es aus dem Kreisschlüssel 05513 die "
    "Zahl 5513 und aus dem Monat 2024-12 ein Datum. Eine CSV-Form, die das verhindert, ohne eine Formel "
    '(="05513", aus Sicherheitsgründen ausgeschlossen) oder einen veränderten Wert zu schreiben, gibt es '
    "nicht. Bitte in Excel die XLSX-Datei verwenden, die diese Spalten als Text hält, oder die CSV-Datei "
    "über Daten > Aus Text/CSV mit dem Spaltentyp Text importieren."
)


@dataclass(frozen=True)
class Sheet:
    """One KPI of a delivery: the partner's rows (suppressed cells null) and which cells are suppressed."""

    kpi: str
    title: str
    frame: pl.DataFrame
    suppressed: pl.DataFrame  # bool, one column per decided column of ``frame``
    keys: pl.DataFrame | None = None  # per row: _period, _tier, _region, _landschaftsverband (never leaves)

    def headers(self) -> list[str]:
        return [column(self.kpi, name).header for name in self.frame.columns]


NEGATIVE_NUMBER = re.compile(r"-\d+(?:[.,]\d+)?")  # Excel reads it as a number, not a formula


def neutralise(text: str) -> str:
    """A text cell Excel would evaluate as a formula gets a leading apostrophe (a negative number,
    say a value a sender wrote, stays as it is)."""
    if NEGATIVE_NUMBER.fullmatch(text):
        return text
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def findings_csv(header: tuple[str, ...], rows: list[list]) -> bytes:
    """A sender's list of findings (Rückmeldung, Prüfbericht) as CSV for Excel: semicolons, a
    byte-order mark, every cell text and neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([neutralise(str(cell)) for cell in row] for row in rows)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def findings_xlsx(sheet: str, header: tuple[str, ...], rows: list[list]) -> bytes:
    """The same list as a workbook: row numbers as numbers, every other cell text, as it was
    written (Excel reads a CSV's „05999“ as the number 5999, and the sender looks for the wrong
    value; a senders' review). Text cells are never formulas here, so nothing is neutralised."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True}
    )
    workbook.set_properties({"author": "Teilhabe Warehouse", "language": "de-DE"})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    ws = workbook.add_worksheet(sheet)
    widths = [len(heading) for heading in header]
    for j, heading in enumerate(header):
        ws.write_string(0, j, heading, bold)
    for i, row in enumerate(rows, start=1):
        for j, cell in enumerate(row):
            if isinstance(cell, int) and not isinstance(cell, bool):
                ws.write_number(i, j, cell)
            else:
                ws.write_string(i, j, str(cell))
                widths[j] = max(widths[j], len(str(cell)))
    for j, width in enumerate(widths):
        ws.set_column(j, j, min(width + 2, 80))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(header) - 1)
    workbook.close()
    return buffer.getvalue()


NOT_QUANTITIES = ("year", "rank", "rank_prev_year")  # 2024 and rank 12 are no amounts: never 2.024
FIGURE = re.compile(r"(-?)(\d{4,})(,\d+)?")


def grouped(text: str) -> str:
    """A figure with German thousands separators, as a reader expects it (2.209; 1.631,44). Only
    for reading (report, Excel's display): the CSV keeps 2209, which a program reads as the number
    and German Excel shows as it is told."""
    if not (match := FIGURE.fullmatch(text)):
        return text
    sign, digits, decimals = match.groups()
    return f"{sign}{german_count(int(digits))}{decimals or ''}"


def cell_text(kpi: str, name: str, value: object, dtype: pl.DataType, hidden: bool) -> str:
    if hidden:
        return SUPPRESSED
    if value is None:
        return NOT_COMPUTABLE if dtype.is_numeric() else ""
    if dtype == pl.Boolean:
        return PROVISIONAL if value and name == "is_provisional" else "ja" if value else ""
    if dtype.is_float():
        return f"{value:.2f}".replace(".", ",")
    if dtype.is_numeric():
        return str(value)
    return neutralise(translated(kpi, name, str(value)))


def hidden_cells(sheet: Sheet, column: str) -> list[bool]:
    if column in sheet.suppressed.columns:
        return sheet.suppressed[column].to_list()
    return [False] * sheet.frame.height


def texts(sheet: Sheet, name: str, for_reading: bool = False) -> list[str]:
    """A column's cells as every human-readable file shows them (CSV, report): one source. The
    report (``for_reading``) groups the digits of amounts."""
    dtype, hidden = sheet.frame.schema[name], hidden_cells(sheet, name)
    shown = [cell_text(sheet.kpi, name, v, dtype, h) for v, h in zip(sheet.frame[name], hidden, strict=True)]
    if for_reading and dtype.is_numeric() and name not in NOT_QUANTITIES:
        return [grouped(text) for text in shown]
    return shown


def csv_bytes(sheet: Sheet) -> bytes:
    """The sheet as German Excel opens it with a double click."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(sheet.headers())
    writer.writerows(zip(*(texts(sheet, name) for name in sheet.frame.columns), strict=True))
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def csv_files(sheets: list[Sheet]) -> dict[str, bytes]:
    """Each KPI's CSV: what a delivery's figures are (their checksums decide whether a version is
    new), made once per partner and run."""
    return {sheet.kpi: csv_bytes(sheet) for sheet in sheets}


READ_ALOUD = ("missing_reason", "note")  # sentences, in German in every file; codes stay codes in Parquet


def write_parquet(sheet: Sheet, path: Path) -> None:
    """Typed columns; suppressed cells null and listed by name in ``suppressed``; why a figure is
    missing in German, as in the CSV."""
    names = [
        ",".join(c for c in sheet.suppressed.columns if row[c])
        for row in sheet.suppressed.iter_rows(named=True)
    ]
    frame = sheet.frame.with_columns(
        pl.col(c).map_elements(lambda text, c=c: translated(sheet.kpi, c, text), return_dtype=pl.String)
        for c in READ_ALOUD
        if c in sheet.frame.columns
    )
    frame = frame.with_columns(pl.Series("suppressed", names, dtype=pl.String))
    frame.write_parquet(path, statistics=False)


def write_xlsx(
    sheets: list[Sheet], path: Path, title: str, edition: list[str] = (), *, with_parquet: bool = True
) -> None:
    """One workbook: a sheet per KPI and a sheet "Erläuterungen" explaining every column (its
    German header, its stable name, which Parquet uses where the partner receives it) and the
    symbols, and which version of the delivery this is (``edition``: publish/outbox.py)."""
    workbook = xlsxwriter.Workbook(  # in memory: no temporary file per sheet (a small workbook)
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True}
    )
    workbook.set_properties(
        {"title": title, "author": "Teilhabe Warehouse", "language": "de-DE", "comments": " ".join(edition)}
    )
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    # Excel shows these by the reader's locale: 2.209 and 1.631,44 in a German Excel
    amount, decimal = (
        workbook.add_format({"num_format": "#,##0"}),
        workbook.add_format({"num_format": "#,##0.00"}),
    )
    right = workbook.add_format({"align": "right"})
    for sheet in sheets:
        ws = workbook.add_worksheet(SHEET_NAMES[sheet.kpi])
        for j, (name, heading) in enumerate(zip(sheet.frame.columns, sheet.headers(), strict=True)):
            dtype = sheet.frame.schema[name]
            values, hidden = sheet.frame[name].to_list(), hidden_cells(sheet, name)
            ws.write_string(0, j, heading, bold)
            width = min(len(heading), 24)
            for i, value in enumerate(values, start=1):
                if hidden[i - 1] or value is None or dtype == pl.Boolean:
                    text = cell_text(sheet.kpi, name, value, dtype, hidden[i - 1])
                    ws.write_string(i, j, text, right if dtype.is_numeric() else None)
                elif dtype.is_numeric():
                    shape = decimal if dtype.is_float() else None if name in NOT_QUANTITIES else amount
                    ws.write_number(i, j, value, shape)
                else:
                    text = neutralise(translated(sheet.kpi, name, str(value)))
                    ws.write_string(i, j, text)
                    width = max(width, len(text))
            ws.set_column(j, j, min(max(width, 8) + 2, 60))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, sheet.frame.height, len(sheet.frame.columns) - 1)
    _write_explanations(workbook, sheets, bold, edition, with_parquet)
    workbook.close()


def _write_explanations(
    workbook: xlsxwriter.Workbook, sheets: list[Sheet], bold, edition: list[str], with_parquet: bool
) -> None:
    """The sheet "Erläuterungen": each KPI's definition, then each of its columns (German header,
    its stable name, as in Parquet, explanation); the symbols; why the CSV cannot keep key columns
    as text in Excel."""
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    italic = workbook.add_format({"italic": True})
    ws = workbook.add_worksheet("Erläuterungen")
    key_heading = "Kennung (auch in Parquet)" if with_parquet else "Kennung"
    for j, heading in enumerate(("Tabelle", "Spalte", key_heading, "Erläuterung")):
        ws.write_string(0, j, heading, bold)
    row = 1
    for sheet in sheets:
        ws.write_string(row, 0, SHEET_NAMES[sheet.kpi])
        ws.write_string(row, 1, "Kennzahl", italic)
        ws.write_string(row, 3, DEFINITIONS[sheet.kpi], wrap)
        row += 1
        for name in sheet.frame.columns:
            ws.write_string(row, 0, SHEET_NAMES[sheet.kpi])
            ws.write_string(row, 1, column(sheet.kpi, name).header)
            ws.write_string(row, 2, name)
            ws.write_string(row, 3, column(sheet.kpi, name).explanation, wrap)
            row += 1
    row += 1
    ws.write_string(row, 0, "Zeichen", bold)
    ws.write_string(row, 3, "Bedeutung", bold)
    for symbol, meaning in SYMBOLS:
        row += 1
        ws.write_string(row, 0, symbol)
        ws.write_string(row, 3, meaning, wrap)
    row += 2
    ws.write_string(row, 0, "CSV und Excel", bold)
    ws.write_string(row, 3, CSV_AND_EXCEL, wrap)
    if edition:
        row += 2
        ws.write_string(row, 0, "Fassung", bold)
        for line in edition:
            ws.write_string(row, 3, line, wrap)
            row += 1
    ws.set_column(0, 0, 30)
    ws.set_column(1, 1, 40)
    ws.set_column(2, 2, 26)
    ws.set_column(3, 3, 90)
    ws.freeze_panes(1, 0)
