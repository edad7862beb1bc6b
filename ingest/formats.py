"""The agencies' export formats as data (spec/sources.md): file names, bytes, headers, code texts.
Column names and their order are the contracts' (schemas/), written here as each file's header.

One description per format, read by the readers and written by the delivery simulator. A quirk of a
format lives here and nowhere else; the tests check it against the spec's byte-exact samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas import SOURCE_TABLES
from schemas.base import WERKSTATT_NR_PATTERN as WERKSTATT_NR


@dataclass(frozen=True)
class CsvDialect:
    encoding: str  # "cp1252" or "utf-8-sig" (UTF-8 with BOM)
    line_end: str
    date_format: str  # strftime pattern
    decimal: str
    delimiter: str = ";"


WFBM_CSV = CsvDialect(encoding="cp1252", line_end="\r\n", date_format="%d.%m.%Y", decimal=",")
JC_CSV = CsvDialect(encoding="utf-8-sig", line_end="\n", date_format="%Y-%m-%d", decimal=".")
LV_CSV = CsvDialect(encoding="cp1252", line_end="\r\n", date_format="%d.%m.%Y", decimal=",")

# --- Workshops, W-CSV: three files a month ------------------------------------------------------

# Column names and order live in the contracts (schemas/); the files carry them as the header.
WFBM_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    part: SOURCE_TABLES[f"wfbm_{part}"].columns
    for part in ("personen", "aussenarbeitsplaetze", "uebergaenge")
}
WFBM_PARTS = tuple(WFBM_CSV_COLUMNS)

# --- Workshops, W-XLSX: one workbook a month, a title block on every sheet -----------------------

XLSX_TITLE = "Meldung Werkstattbeschäftigte"
XLSX_HEADER_ROW = 5  # 1-based Excel row of the header; data from row 6
XLSX_SHEETS: dict[str, str] = {
    "personen": "Beschäftigte",
    "aussenarbeitsplaetze": "Außenarbeitsplätze",
    "uebergaenge": "Übergänge",
}
# W-XLSX header -> W-CSV column, per part (the two vendors' exports describe the same tables).
XLSX_HEADERS: dict[str, dict[str, str]] = {
    "personen": {
        "Pers.-Nr.": "Personennummer",
        "Name": "Nachname",
        "Vorname": "Vorname",
        "Geb.-Datum": "Geburtsdatum",
        "Geschlecht": "Geschlecht",
        "PLZ": "PLZ",
        "Kreis": "Wohnort_Kreis",
        "Bereich": "Bereich",
        "Aufnahme": "Eintritt",
        "Entlassung": "Austritt",
        "Entlassungsgrund": "Austrittsgrund",
        "Art der Behinderung": "Behinderungsart",
        "Leistungsträger": "Kostentraeger",
        "Wochenstunden": "Arbeitszeit_Std",
    },
    "aussenarbeitsplaetze": {
        "Pers.-Nr.": "Personennummer",
        "Form": "Art",
        "Betrieb": "Betrieb",
        "PLZ Betrieb": "Betrieb_PLZ",
        "WZ": "Branche_WZ",
        "von": "Beginn",
        "bis": "Ende",
        "Std./Woche": "Std_Woche",
        "Jobcoach": "Jobcoach",
    },
    "uebergaenge": {
        "Pers.-Nr.": "Personennummer",
        "Datum": "Datum",
        "Art": "Art",
        "Arbeitgeber": "Arbeitgeber",
        "PLZ Arbeitgeber": "Arbeitgeber_PLZ",
        "WZ": "Branche_WZ",
        "Rückkehr am": "Rueckkehr",
    },
}
# W-XLSX long texts -> codes, per W-CSV column.
XLSX_CODE_TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "personen": {
        "Geschlecht": {"männlich": "m", "weiblich": "w", "divers": "d"},
        "Bereich": {"Eingangsverfahren": "EV", "Berufsbildungsbereich": "BBB", "Arbeitsbereich": "AB"},
        "Austrittsgrund": {
            "Übergang allgemeiner Arbeitsmarkt": "UEB",
            "Wechsel Werkstatt": "WFB",
            "Anderer Leistungsanbieter": "ALA",
            "Rente": "REN",
            "Verstorben": "TOD",
            "Sonstiges": "SON",
        },
        "Behinderungsart": {
            "geistig": "G",
            "seelisch": "P",
            "körperlich": "K",
            "Sinne": "S",
            "mehrfach": "M",
            "unbekannt": "X",
        },
        "Kostentraeger": {
            "LWL": "LWL",
            "LVR": "LVR",
            "Agentur für Arbeit": "BA",
            "Rentenversicherung": "DRV",
            "Unfallversicherung": "DGUV",
            "Sonstige": "SON",
        },
    },
    "aussenarbeitsplaetze": {"Art": {"Einzelarbeitsplatz": "BIAP", "Gruppe": "BIG", "Praktikum": "PRA"}},
    "uebergaenge": {
        "Art": {
            "sozialversicherungspflichtig": "SVB",
            "Budget für Arbeit": "BFA",
            "Budget für Ausbildung": "BFAUS",
            "Inklusionsbetrieb": "INK",
            "Ausbildung": "AUS",
        }
    },
}

# --- Jobcenters, JC: four files a month ----------------------------------------------------------

JC_COLUMNS: dict[str, tuple[str, ...]] = {
    part: SOURCE_TABLES[f"jc_{part}"].columns for part in ("bestand", "kunden", "massnahmen", "integrationen")
}
JC_PARTS = tuple(JC_COLUMNS)

# --- Landschaftsverband, LV ----------------------------------------------------------------------

LV_REGISTER_COLUMNS = SOURCE_TABLES["lv_werkstaetten"].columns
LV_LD_SHEET = "Leistungsdokumentation"
LV_LD_COLUMNS = SOURCE_TABLES["lv_leistungsdokumentation"].columns
LV_BFA_COLUMNS = SOURCE_TABLES["lv_budget_fuer_arbeit"].columns
LANDSCHAFTSVERBAENDE = ("LWL", "LVR")

# --- File names ----------------------------------------------------------------------------------


# Matched with fullmatch(): the whole name, nothing before or after (not even a newline).
FILE_NAME_PATTERNS: dict[str, re.Pattern[str]] = {
    "wfbm_csv": re.compile(
        rf"wfbm_(?P<sender>{WERKSTATT_NR})_(?P<year>[0-9]{{4}})-(?P<month>[0-9]{{2}})_(?P<part>personen|aussenarbeitsplaetze|uebergaenge)\.csv"
    ),
    "jc_csv": re.compile(
        r"jc_(?P<sender>05[0-9]{3})_(?P<year>[0-9]{4})(?P<month>[0-9]{2})_(?P<part>bestand|kunden|massnahmen|integrationen)\.csv"
    ),
    "lv_register": re.compile(r"lv_(?P<sender>LWL|LVR)_(?P<part>werkstaetten)\.csv"),
    "lv_ld": re.compile(r"lv_(?P<sender>LWL|LVR)_(?P<part>leistungsdokumentation)_(?P<year>[0-9]{4})\.xlsx"),
    "lv_bfa": re.compile(r"lv_(?P<sender>LWL|LVR)_(?P<part>budget_fuer_arbeit)_(?P<year>[0-9]{4})\.csv"),
    "wfbm_xlsx": re.compile(
        r"(?!lv_|jc_|wfbm_).+\.xlsx", re.IGNORECASE
    ),  # free text; the title block says who
}


def in_workbook_terms(
    table: str | None, column: str | None, rule: str, message: str
) -> tuple[str | None, str]:
    """A finding about a row of a workshop's workbook as its sender reads the workbook: the sheet
    and its own header instead of the CSV export's column ("Entlassung (Blatt Beschäftigte)" for
    "Austritt"), the texts its lists offer instead of the codes behind them, and the workbook's
    headers in a message that names another column. (The warehouse keeps the CSV names.)"""
    part = (table or "").removeprefix("wfbm_")
    if part not in XLSX_HEADERS:
        return column, message
    header_of = {csv_name: header for header, csv_name in XLSX_HEADERS[part].items()}
    texts = XLSX_CODE_TEXTS.get(part, {}).get(column or "")
    if rule == "code" and texts:
        message = f"unbekannter Eintrag, erlaubt: {', '.join(texts)}"
    if rule == "date_format":  # a date cell holds dates; this one holds text (or a bare number)
        message = (
            "kein Datum: die Zelle enthält Text oder eine Zahl; bitte als Datum eintragen (etwa 01.01.2000)"
        )
    for csv_name, header in header_of.items():
        if csv_name != header:
            message = re.sub(rf"(?<![\w-]){re.escape(csv_name)}(?![\w-])", header, message)
    if column:
        shown = ", ".join(header_of.get(name, name) for name in column.split(", "))
        column = f"{shown} (Blatt {XLSX_SHEETS[part]})"
    return column, message
