"""Extract files a partner can open: CSV as German Excel reads it (';', UTF-8 with BOM, decimal
comma), an XLSX workbook (one sheet per KPI, header row, widths, frozen header, a sheet describing
every column and the symbols), and Parquet for data teams.

Suppressed cells are "*" in CSV and XLSX; in Parquet they are null and named in the row's
``suppressed`` column. Missing values (the KPI cannot be computed) are empty; ``missing_reason``
says why. Text that Excel would read as a formula is neutralised (privacy.md §5).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter

from publish.suppression import SUPPRESSED

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LEGEND = (
    ("*", "Geheimhaltung: Fallzahl 1 oder 2, Quote mit Nenner unter 10 (samt Zähler), Mittelwert aus "
          "weniger als 3 Fällen, oder sekundär gesperrt, damit kein gesperrter Wert aus Summen "
          "zurückgerechnet werden kann (Praxis der Statistik der BA). / Suppressed for confidentiality."),
    ("(leer)", "Wert fehlt, der Grund steht in missing_reason (fehlt, nicht null). / Missing, see missing_reason."),
    ("insgesamt", "Zeilen mit level landschaftsverband oder nrw sind Summen der Zeilen darüber. / Totals."),
)  # fmt: skip


@dataclass(frozen=True)
class Sheet:
    """One KPI of a delivery: the partner's rows (suppressed cells null) and which cells are suppressed."""

    kpi: str
    title: str
    frame: pl.DataFrame
    suppressed: pl.DataFrame  # bool, one column per decided column of ``frame``
    descriptions: dict[str, str]
    keys: pl.DataFrame | None = None  # per row: _period, _tier, _region, _landschaftsverband (never leaves)


def neutralise(text: str) -> str:
    """A text cell Excel would evaluate as a formula gets a leading apostrophe."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _cell_text(value: object, dtype: pl.DataType, hidden: bool) -> str:
    if hidden:
        return SUPPRESSED
    if value is None:
        return ""
    if dtype == pl.Boolean:
        return "ja" if value else "nein"
    if dtype.is_float():
        return f"{value:.2f}".replace(".", ",")
    if dtype.is_numeric():
        return str(value)
    return neutralise(str(value))


def _hidden(sheet: Sheet, column: str) -> list[bool]:
    if column in sheet.suppressed.columns:
        return sheet.suppressed[column].to_list()
    return [False] * sheet.frame.height


def csv_bytes(sheet: Sheet) -> bytes:
    """The sheet as German Excel opens it with a double click."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(sheet.frame.columns)
    columns = [
        (sheet.frame[c].to_list(), sheet.frame.schema[c], _hidden(sheet, c)) for c in sheet.frame.columns
    ]
    for i in range(sheet.frame.height):
        writer.writerow(_cell_text(values[i], dtype, hidden[i]) for values, dtype, hidden in columns)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def write_parquet(sheet: Sheet, path: Path) -> None:
    """Typed columns; suppressed cells null and listed by name in ``suppressed``."""
    names = [
        ",".join(c for c in sheet.suppressed.columns if row[c])
        for row in sheet.suppressed.iter_rows(named=True)
    ]
    frame = sheet.frame.with_columns(pl.Series("suppressed", names, dtype=pl.String))
    frame.write_parquet(path, statistics=False)


def write_xlsx(sheets: list[Sheet], path: Path, title: str) -> None:
    """One workbook: a sheet per KPI and a sheet "Erläuterungen" describing every column."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    workbook.set_properties({"title": title, "author": "Teilhabe Warehouse"})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    decimal = workbook.add_format({"num_format": "0.00"})
    right = workbook.add_format({"align": "right"})
    for sheet in sheets:
        ws = workbook.add_worksheet(re.sub(r"[\[\]:*?/\\]", "-", f"{sheet.kpi.upper()} {sheet.title}")[:31])
        for j, column in enumerate(sheet.frame.columns):
            dtype = sheet.frame.schema[column]
            values, hidden = sheet.frame[column].to_list(), _hidden(sheet, column)
            ws.write_string(0, j, column, bold)
            width = len(column)
            for i, value in enumerate(values, start=1):
                if hidden[i - 1]:
                    ws.write_string(i, j, SUPPRESSED, right)
                elif value is None:
                    continue
                elif dtype == pl.Boolean:
                    ws.write_string(i, j, "ja" if value else "nein")
                elif dtype.is_numeric():
                    ws.write_number(i, j, value, decimal if dtype.is_float() else None)
                else:
                    text = neutralise(str(value))
                    ws.write_string(i, j, text)
                    width = max(width, len(text))
            ws.set_column(j, j, min(max(width, 8) + 2, 60))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, sheet.frame.height, len(sheet.frame.columns) - 1)
    ws = workbook.add_worksheet("Erläuterungen")
    for j, header in enumerate(("Tabelle", "Spalte", "Beschreibung")):
        ws.write_string(0, j, header, bold)
    row = 1
    for sheet in sheets:
        for column in sheet.frame.columns:
            ws.write_string(row, 0, f"{sheet.kpi.upper()} {sheet.title}")
            ws.write_string(row, 1, column)
            ws.write_string(row, 2, sheet.descriptions.get(column, ""))
            row += 1
    row += 1
    ws.write_string(row, 0, "Zeichen", bold)
    ws.write_string(row, 1, "Bedeutung", bold)
    for symbol, meaning in LEGEND:
        row += 1
        ws.write_string(row, 0, symbol)
        ws.write_string(row, 1, meaning)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 28)
    ws.set_column(2, 2, 100)
    ws.freeze_panes(1, 0)
    workbook.close()
