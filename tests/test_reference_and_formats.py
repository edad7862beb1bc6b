"""The project's own copy of the reference data and its format descriptions agree with the spec."""

from __future__ import annotations

import polars as pl
from python_calamine import CalamineWorkbook

from ingest.formats import (
    JC_COLUMNS,
    LV_BFA_COLUMNS,
    LV_LD_COLUMNS,
    LV_REGISTER_COLUMNS,
    WFBM_CSV_COLUMNS,
    XLSX_CODE_TEXTS,
    XLSX_HEADER_ROW,
    XLSX_HEADERS,
    XLSX_SHEETS,
    XLSX_TITLE,
)
from teilhabe.reference import KREISE_CSV, nrw_kreise


def test_reference_kreise_equal_the_spec(spec_dir):
    assert KREISE_CSV.read_bytes() == (spec_dir / "reference" / "nrw_kreise.csv").read_bytes()


def test_reference_kreise_keep_leading_zeros():
    kreise = nrw_kreise()
    assert kreise.height == 53
    assert kreise["kreisschluessel"].str.contains(r"^05\d{3}$").all()
    assert set(kreise["landschaftsverband"]) == {"LWL", "LVR"}


def _header(path, encoding):
    return path.read_bytes().decode(encoding).splitlines()[0].lstrip("\ufeff").split(";")


def test_csv_headers_match_the_samples(spec_dir):
    samples = spec_dir / "samples"
    for part in WFBM_CSV_COLUMNS:
        (path,) = samples.glob(f"wfbm_*_{part}.csv")
        assert tuple(_header(path, "cp1252")) == WFBM_CSV_COLUMNS[part]
    for part in JC_COLUMNS:
        (path,) = samples.glob(f"jc_*_{part}.csv")
        assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "JC files are UTF-8 with BOM"
        assert tuple(_header(path, "utf-8-sig")) == JC_COLUMNS[part]
    assert tuple(_header(samples / "lv_LWL_werkstaetten.csv", "cp1252")) == LV_REGISTER_COLUMNS
    assert tuple(_header(samples / "lv_LWL_budget_fuer_arbeit_2024.csv", "cp1252")) == LV_BFA_COLUMNS


def test_workbook_layout_matches_the_samples(spec_dir):
    (path,) = (spec_dir / "samples").glob("*Meldung*.xlsx")
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == list(XLSX_SHEETS.values())
    for part, sheet_name in XLSX_SHEETS.items():
        rows = book.get_sheet_by_name(sheet_name).to_python()
        assert rows[0][0] == XLSX_TITLE
        assert rows[1][0] == "Werkstatt-Nr.:"
        assert rows[2][0] == "Stichtag:"
        assert [c for c in rows[XLSX_HEADER_ROW - 1] if c] == list(XLSX_HEADERS[part])
        for column, texts in XLSX_CODE_TEXTS[part].items():
            index = list(XLSX_HEADERS[part].values()).index(column)
            seen = {r[index] for r in rows[XLSX_HEADER_ROW:] if r[index]}
            assert seen <= set(texts), (part, column, seen - set(texts))
    ld = CalamineWorkbook.from_path(str(spec_dir / "samples" / "lv_LWL_leistungsdokumentation_2024.xlsx"))
    assert tuple(ld.get_sheet_by_name("Leistungsdokumentation").to_python()[0]) == LV_LD_COLUMNS


def test_kreise_frame_is_text_only():
    assert all(dtype == pl.String for dtype in nrw_kreise().dtypes)
