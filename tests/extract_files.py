"""A delivered CSV extract read as a data team would: its German headers mapped back to the
documented snake_case names (publish/labels.py, the names Parquet keeps) and the level words back
to their codes; every other cell as written."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from publish.labels import COLUMNS, VALUES

LEVEL_CODES = {word: code for code, word in VALUES["level"].items()}


def names_by_header(kpi: str) -> dict[str, str]:
    generic = {c.header: name for (k, name), c in COLUMNS.items() if not k}
    return generic | {c.header: name for (k, name), c in COLUMNS.items() if k == kpi}


def csv_rows(path: Path) -> list[dict[str, str]]:
    names = names_by_header(path.stem)
    rows = []
    for row in csv.DictReader(path.read_text("utf-8-sig").splitlines(), delimiter=";"):
        named = {names[header]: value for header, value in row.items()}
        if "level" in named:
            named["level"] = LEVEL_CODES[named["level"]]
        rows.append(named)
    return rows


def read_csv(path: Path) -> pl.DataFrame:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    frame = pl.read_csv(raw[3:], separator=";", infer_schema_length=0)
    frame = frame.rename(names_by_header(path.stem), strict=False)
    if "level" in frame.columns:
        frame = frame.with_columns(pl.col("level").replace_strict(LEVEL_CODES))
    return frame
