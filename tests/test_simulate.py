"""The delivery simulator: files in the documented formats, one consistent world, the seeds' story
in the oracle, determinism by seed, and every fault kind injected and recorded."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from ingest.formats import (
    JC_COLUMNS,
    WFBM_CSV_COLUMNS,
    XLSX_HEADER_ROW,
    XLSX_HEADERS,
    XLSX_SHEETS,
    XLSX_TITLE,
)
from teilhabe.simulate.names import normalise_name
from teilhabe.simulate.oracle import competition_ranks, round_half_away

GERMAN_DATE = re.compile(r"^(\d{2}\.\d{2}\.\d{4})?$")
ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})?$")


def truth(inbox: Path) -> Path:
    return inbox.with_name(inbox.name + ".truth")


def read_wfbm(path: Path) -> pl.DataFrame:
    """Read a W-CSV file by the documented conventions (not by the project's readers)."""
    raw = path.read_bytes()
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"), "CRLF line ends"
    text = raw.decode("cp1252")
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    return (
        pl.DataFrame(rows[1:], schema=rows[0], orient="row")
        if len(rows) > 1
        else pl.DataFrame(schema=rows[0])
    )


def oracle(inbox: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(truth(inbox) / "oracle" / f"{name}.csv", infer_schema_length=0)


# --- formats -------------------------------------------------------------------------------------


def test_wfbm_csv_files_follow_the_conventions(demo):
    files = sorted(demo.glob("wfbm_LWL-0101_2024-*_personen.csv"))
    assert len(files) == 12
    for path in files:
        frame = read_wfbm(path)
        assert tuple(frame.columns) == WFBM_CSV_COLUMNS["personen"]
        for column in ("Geburtsdatum", "Eintritt", "Austritt"):
            assert frame[column].str.contains(GERMAN_DATE.pattern).all()
        assert frame["Wohnort_Kreis"].str.contains(r"^05\d{3}$").all(), "Kreisschlüssel with leading zero"
        assert frame["Arbeitszeit_Std"].str.contains(r"^\d+,\d$").all(), "decimal comma"
        assert set(frame["Bereich"]) <= {"EV", "BBB", "AB"}
        assert frame["Personennummer"].is_unique().all(), "a person once per snapshot"
        assert ((frame["Austritt"] == "") == (frame["Austrittsgrund"] == "")).all()


def test_jc_files_follow_the_conventions(demo):
    for part in JC_COLUMNS:
        path = demo / f"jc_05914_202412_{part}.csv"
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
        frame = pl.read_csv(path, separator=";", infer_schema=False, encoding="utf8")
        assert tuple(frame.columns) == JC_COLUMNS[part]
    kunden = pl.read_csv(demo / "jc_05914_202412_kunden.csv", separator=";", infer_schema=False)
    assert kunden["kundennummer"].str.contains(r"^914D\d{6}$").all()
    assert kunden["geburtsdatum"].str.contains(ISO_DATE.pattern).all()
    gdb = kunden["gdb"].drop_nulls().cast(pl.Int64)
    assert ((gdb >= 20) & (gdb <= 100) & (gdb % 10 == 0)).all()


def test_workbooks_have_the_title_block_and_excel_dates(demo):
    books = [p for p in demo.glob("*.xlsx") if not p.name.startswith("lv_")]
    assert books, "some workshops use the W-XLSX vendor"
    book = CalamineWorkbook.from_path(str(books[0]))
    assert book.sheet_names == list(XLSX_SHEETS.values())
    rows = book.get_sheet_by_name("Beschäftigte").to_python()
    assert rows[0][0] == XLSX_TITLE
    assert rows[1][0] == "Werkstatt-Nr.:" and re.match(r"^(LWL|LVR)-\d{4}$", rows[1][1])
    assert rows[2][0] == "Stichtag:" and isinstance(rows[2][1], dt.date)
    assert not any(rows[3])
    assert rows[XLSX_HEADER_ROW - 1] == list(XLSX_HEADERS["personen"])
    data = rows[XLSX_HEADER_ROW:]
    assert data and all(isinstance(r[3], dt.date) for r in data), "Geb.-Datum as Excel dates"
    assert all(isinstance(r[6], float) and 5000 <= r[6] < 6000 for r in data), "Kreis as a number (zero lost)"
    assert {r[7] for r in data} <= {"Eingangsverfahren", "Berufsbildungsbereich", "Arbeitsbereich"}


def test_file_names_and_the_lv_files(demo):
    names = {p.name for p in demo.iterdir()}
    assert {"lv_LWL_werkstaetten.csv", "lv_LVR_werkstaetten.csv"} <= names
    assert {"lv_LWL_leistungsdokumentation_2024.xlsx", "lv_LWL_budget_fuer_arbeit_2023.csv"} <= names
    bfa = read_wfbm(demo / "lv_LWL_budget_fuer_arbeit_2024.csv")
    assert set(bfa["Status"]) <= {"bewilligt", "laufend", "beendet", "abgelehnt"}
    assert bfa["Lohnkostenzuschuss EUR/Monat"].str.contains(r"^\d+,\d{2}$").all()


def test_arrival_times_are_file_mtimes(demo):
    deliveries = pl.read_csv(truth(demo) / "deliveries.csv", infer_schema_length=0)
    row = deliveries.filter(pl.col("file") == "jc_05914_202401_kunden.csv").row(0, named=True)
    arrived = dt.datetime.fromisoformat(row["received_at"])
    assert dt.date(2024, 2, 1) < arrived.date() < dt.date(2024, 2, 28)
    assert (demo / row["file"]).stat().st_mtime == pytest.approx(arrived.replace(tzinfo=dt.UTC).timestamp())


# --- one world ------------------------------------------------------------------------------------


def test_every_transition_leaves_a_workshop_membership(demo):
    """No transition without a workshop spell: the person is in the snapshot of the month before the
    Datum (or of the Datum's month) and left on the day before, for a transition (UEB)."""
    checked = 0
    for path in sorted(demo.glob("wfbm_*_uebergaenge.csv")):
        nr = path.name.split("_")[1]
        for row in read_wfbm(path).iter_rows(named=True):
            datum = dt.datetime.strptime(row["Datum"], "%d.%m.%Y").date()
            austritt = datum - dt.timedelta(days=1)
            snap = demo / f"wfbm_{nr}_{austritt:%Y-%m}_personen.csv"
            if not snap.exists() or datum.year < 2023 or f"{austritt:%Y-%m}" < "2023-01":
                continue
            persons = read_wfbm(snap).filter(pl.col("Personennummer") == row["Personennummer"])
            assert persons.height >= 1, (path.name, row["Personennummer"])
            left = persons.filter(pl.col("Austritt") == f"{austritt:%d.%m.%Y}")
            assert left["Austrittsgrund"].to_list() == ["UEB"], (path.name, row)
            checked += 1
    assert checked > 50


def test_budget_fuer_arbeit_cases_match_bfa_transitions(demo):
    """Every BFA transition has a Budget für Arbeit case of the same person, origin and start."""
    cases = pl.concat([read_wfbm(p) for p in demo.glob("lv_*_budget_fuer_arbeit_*.csv")])
    case_keys = {
        (
            normalise_name(r["Nachname"]),
            normalise_name(r["Vorname"]),
            r["Geburtsdatum"],
            r["Herkunft Werkstatt-Nr."],
            r["Beginn"],
        )
        for r in cases.filter(pl.col("Status") != "abgelehnt").iter_rows(named=True)
    }
    people = {}
    for path in demo.glob("wfbm_*_personen.csv"):
        nr = path.name.split("_")[1]
        for r in read_wfbm(path).iter_rows(named=True):
            people[(nr, r["Personennummer"])] = (
                normalise_name(r["Nachname"]),
                normalise_name(r["Vorname"]),
                r["Geburtsdatum"],
            )
    matched = 0
    for path in demo.glob("wfbm_*_uebergaenge.csv"):
        nr = path.name.split("_")[1]
        for r in read_wfbm(path).filter(pl.col("Art") == "BFA").iter_rows(named=True):
            if (nr, r["Personennummer"]) not in people:
                continue
            assert (*people[(nr, r["Personennummer"])], nr, r["Datum"]) in case_keys, r
            matched += 1
    assert matched >= 10


def test_people_cross_agencies(demo):
    """Some Jobcenter customers turn up in a workshop, and some who left a workshop at a Jobcenter."""
    wfbm = set()
    for path in demo.glob("wfbm_*_personen.csv"):
        frame = read_wfbm(path)
        wfbm |= {
            (normalise_name(a), normalise_name(b), c)
            for a, b, c in frame.select("Nachname", "Vorname", "Geburtsdatum").iter_rows()
        }
    jc = set()
    for path in demo.glob("jc_*_kunden.csv"):
        frame = pl.read_csv(path, separator=";", infer_schema=False)
        jc |= {
            (normalise_name(a), normalise_name(b), dt.date.fromisoformat(c).strftime("%d.%m.%Y"))
            for a, b, c in frame.select("nachname", "vorname", "geburtsdatum").iter_rows()
        }
    assert len(wfbm & jc) >= 20


def test_name_variants_link_to_one_identity():
    assert normalise_name(" MÜLLER ") == normalise_name("Mueller") == normalise_name("Müller")
    assert normalise_name("Anna-Lena") == normalise_name("Anna Lena")


# --- the oracle ------------------------------------------------------------------------------------


def test_demo_story_holds_in_the_oracle(demo):
    k01 = oracle(demo, "k01_biap_quote")
    emscher = {r["year"]: r for r in k01.filter(pl.col("werkstatt_nr") == "LWL-0101").iter_rows(named=True)}
    assert (emscher["2024"]["numerator"], emscher["2024"]["denominator"]) == ("114", "576")
    assert emscher["2024"]["value"] == "19.79" and emscher["2024"]["rank"] == "1"
    assert emscher["2023"]["numerator"] == "78" and emscher["2023"]["rank"] == "3"
    assert emscher["2024"]["rank_prev_year"] == "3"
    lwl_2024 = k01.filter((pl.col("year") == "2024") & (pl.col("landschaftsverband") == "LWL"))
    ranks = dict(lwl_2024.select("werkstatt_nr", "rank").iter_rows())
    assert ranks["LWL-0102"] == "2" and ranks["LWL-0103"] == "3", "Iserlohn and Bottrop just behind"


def test_hagen_figures_as_in_the_seeds(demo):
    k06 = (
        oracle(demo, "k06_zielgruppenbestand")
        .filter(pl.col("jobcenter") == "05914")
        .with_columns(pl.col("sb", "gl", "rehabilitanden").cast(pl.Int64))
    )
    assert 1000 <= (k06["sb"] + k06["gl"]).mean() <= 1200
    assert 250 <= k06["rehabilitanden"].mean() <= 350
    k08 = oracle(demo, "k08_werkakademie_integrationsquote").filter(pl.col("jobcenter") == "05914")
    assert all(35 <= float(v) <= 40 for v in k08["value"])


def test_oracle_k01_agrees_with_the_files(demo):
    """The oracle (from the world) and a direct count in the delivered files agree."""
    persons = read_wfbm(demo / "wfbm_LWL-0103_2024-12_personen.csv")
    placements = read_wfbm(demo / "wfbm_LWL-0103_2024-12_aussenarbeitsplaetze.csv")
    d = "31.12.2024"
    ab = set(
        persons.filter((pl.col("Bereich") == "AB") & (pl.col("Austritt").is_in(["", d])))["Personennummer"]
    )
    biap = (
        set(
            placements.filter(pl.col("Art").is_in(["BIAP", "BIG"]) & (pl.col("Ende") == ""))["Personennummer"]
        )
        & ab
    )
    row = (
        oracle(demo, "k01_biap_quote")
        .filter((pl.col("werkstatt_nr") == "LWL-0103") & (pl.col("year") == "2024"))
        .row(0, named=True)
    )
    assert (len(biap), len(ab)) == (int(row["numerator"]), int(row["denominator"]))


def test_missing_snapshot_is_missing_not_zero(demo):
    deliveries = pl.read_csv(truth(demo) / "deliveries.csv", infer_schema_length=0)
    k01 = oracle(demo, "k01_biap_quote").filter(pl.col("missing_reason").is_not_null())
    assert k01.height == 1
    row = k01.row(0, named=True)
    assert row["value"] is None and "December 2023" in row["missing_reason"]
    assert not (demo / f"wfbm_{row['werkstatt_nr']}_2023-12_personen.csv").exists()
    assert (
        deliveries.filter(pl.col("file") == f"wfbm_{row['werkstatt_nr']}_2023-12_uebergaenge.csv").height == 1
    )


def test_k12_shows_every_status(demo):
    assert set(oracle(demo, "k12_abgleich_leistungsdokumentation")["status"]) == {"ok", "abweichung", "fehlt"}


def test_rounding_and_ranking_rules():
    assert str(round_half_away(Fraction(625, 1000))) == "0.63"
    assert str(round_half_away(Fraction(-625, 1000))) == "-0.63"
    assert str(round_half_away(Fraction(114 * 100, 576))) == "19.79"
    ranks = competition_ranks(
        {"a": Fraction(3), "b": Fraction(2), "c": Fraction(2), "d": Fraction(1), "e": None}
    )
    assert ranks == {"a": 1, "b": 2, "c": 2, "d": 4, "e": None}


# --- deliveries and determinism -------------------------------------------------------------------


def test_corrections_and_duplicates(demo):
    deliveries = pl.read_csv(truth(demo) / "deliveries.csv", infer_schema_length=0)
    kinds = deliveries.group_by("kind").len()
    assert set(kinds["kind"]) >= {"regular", "duplicate", "correction", "corrected_original", "update"}
    later = truth(demo) / "later"
    for name in ("wfbm_LWL-0101_2024-03_personen.csv",):
        assert (demo / name).exists() and (later / name).exists()
        assert (demo / name).read_bytes() != (later / name).read_bytes(), "a correction under the same name"
    dup = deliveries.filter(pl.col("kind") == "duplicate")
    for row in dup.iter_rows(named=True):
        originals = deliveries.filter((pl.col("sha256") == row["sha256"]) & (pl.col("kind") != "duplicate"))
        assert originals.height == 1, "a duplicate has the bytes of an earlier delivery"
        assert originals["received_at"][0] < row["received_at"]


def _digest(inbox: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(inbox.iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(demo, tmp_path):
    from teilhabe.simulate import simulate

    again = tmp_path / "inbox"
    simulate(out=again, profile="demo", years=(2023, 2024), seed=7, progress=False)
    assert _digest(again) == _digest(demo)
    assert (truth(again) / "oracle" / "k07_integrationsquote_sb.csv").read_bytes() == (
        truth(demo) / "oracle" / "k07_integrationsquote_sb.csv"
    ).read_bytes()


def test_another_seed_other_people(demo, tmp_path):
    from teilhabe.simulate import simulate

    other = tmp_path / "inbox"
    simulate(out=other, profile="demo", years=(2024, 2024), seed=8, progress=False)
    a = (demo / "jc_05914_202412_kunden.csv").read_bytes()
    assert a != (other / "jc_05914_202412_kunden.csv").read_bytes()


# --- faults --------------------------------------------------------------------------------------

ALL_FAULTS = {
    "wrong_encoding",
    "renamed_column",
    "missing_column",
    "extra_column",
    "reordered_columns",
    "wrong_separator",
    "empty_file",
    "missing_header",
    "truncated_file",
    "unmatched_file_name",
    "unknown_werkstatt_nr",
    "bad_date_format",
    "impossible_date",
    "end_before_start",
    "unknown_code",
    "bad_hours",
    "duplicate_row",
    "conflicting_person",
    "unknown_kreis",
    "lost_leading_zero",
    "invalid_gdb",
    "excel_blank_row",
    "excel_note_row",
}


def test_every_fault_kind_is_injected_and_recorded(faulty):
    defects = pl.read_csv(truth(faulty) / "defects.csv", infer_schema_length=0)
    assert set(defects["fault"]) == ALL_FAULTS
    for row in defects.iter_rows(named=True):
        assert (faulty / row["file"]).exists(), row
        assert row["level"] in {"file", "row", "warning"}


def _line(path: Path, row: int, encoding: str) -> str:
    return path.read_bytes().decode(encoding).splitlines()[row - 1]


def test_recorded_rows_hold_the_fault(faulty):
    defects = pl.read_csv(truth(faulty) / "defects.csv", infer_schema_length=0)
    for row in defects.filter(pl.col("file").str.ends_with(".csv") & (pl.col("level") != "file")).iter_rows(
        named=True
    ):
        path = faulty / row["file"]
        encoding = "utf-8-sig" if row["file"].startswith("jc_") else "cp1252"
        line = _line(path, int(row["row"]), encoding)
        header = _line(path, 1, encoding).split(";")
        value = line.split(";")[header.index(row["column"])] if row["column"] in header else None
        match row["fault"]:
            case "impossible_date":
                assert "31.02." in value or "-02-31" in value
            case "bad_date_format":
                assert not GERMAN_DATE.match(value) if encoding == "cp1252" else not ISO_DATE.match(value)
            case "unknown_kreis":
                assert value == "05999"
            case "lost_leading_zero":
                assert re.fullmatch(r"5\d{3}", value)
            case "duplicate_row":
                assert line == _line(path, int(row["row"]) - 1, encoding)
            case "invalid_gdb":
                assert value in {"35", "110"}
    assert (faulty / defects.filter(pl.col("fault") == "empty_file")["file"][0]).stat().st_size == 0
