"""Contracts of the Landschaftsverbände's files (format LV, spec/sources.md §4)."""

from __future__ import annotations

import pandera.polars as pa

from schemas.base import COUNT, KEY_TEXT, KREISE, LONG_TEXT, NAME_TEXT, PLZ, WERKSTATT_NR, Contract
from schemas.rules import GERMAN_DATE

D = GERMAN_DATE


class Werkstaetten(Contract):
    """The register of recognised workshops."""

    werkstatt_nr: str = pa.Field(
        alias="Werkstatt-Nr.", pattern=WERKSTATT_NR, no_duplicate_row=(), one_version_per_file=()
    )
    name: str = pa.Field(alias="Name", max_length=LONG_TEXT)
    traeger: str = pa.Field(alias="Träger", max_length=LONG_TEXT)
    strasse: str = pa.Field(alias="Straße", nullable=True, max_length=LONG_TEXT)
    plz: str = pa.Field(alias="PLZ", pattern=PLZ)
    ort: str = pa.Field(alias="Ort", max_length=LONG_TEXT)
    kreisschluessel: str = pa.Field(alias="Kreisschlüssel", known_kreis=list(KREISE))
    plaetze: str = pa.Field(alias="Plätze", pattern=COUNT)
    anerkannt_seit: str = pa.Field(alias="anerkannt seit", nullable=True, date_format=D, impossible_date=D)


class Leistungsdokumentation(Contract):
    """The figures each workshop reported for a year."""

    werkstatt_nr: str = pa.Field(
        alias="Werkstatt-Nr.", pattern=WERKSTATT_NR, no_duplicate_row=(), one_version_per_file=()
    )
    werkstatt: str = pa.Field(alias="Werkstatt", max_length=LONG_TEXT)
    ab: str = pa.Field(alias="Beschäftigte AB 31.12.", nullable=True, pattern=COUNT)
    biap: str = pa.Field(alias="BiAp 31.12.", nullable=True, pattern=COUNT)
    uebergaenge: str = pa.Field(alias="Übergänge", nullable=True, pattern=COUNT)
    bfa: str = pa.Field(
        alias="davon Budget für Arbeit", nullable=True, pattern=COUNT, part_of={"whole": "Übergänge"}
    )
    plaetze: str = pa.Field(alias="Plätze", nullable=True, pattern=COUNT)


class BudgetFuerArbeit(Contract):
    """Budget für Arbeit cases touching the year."""

    aktenzeichen: str = pa.Field(
        alias="Aktenzeichen", max_length=KEY_TEXT, no_duplicate_row=(), one_version_per_file=()
    )
    nachname: str = pa.Field(alias="Nachname", max_length=NAME_TEXT, has_letter=())
    vorname: str = pa.Field(alias="Vorname", max_length=NAME_TEXT, has_letter=())
    geburtsdatum: str = pa.Field(alias="Geburtsdatum", date_format=D, impossible_date=D)
    herkunft: str = pa.Field(alias="Herkunft Werkstatt-Nr.", nullable=True, pattern=WERKSTATT_NR)
    arbeitgeber: str = pa.Field(alias="Arbeitgeber", max_length=LONG_TEXT)
    arbeitgeber_plz: str = pa.Field(alias="Arbeitgeber PLZ", pattern=PLZ)
    beginn: str = pa.Field(alias="Beginn", date_format=D, impossible_date=D)
    ende: str = pa.Field(
        alias="Ende",
        nullable=True,
        date_format=D,
        impossible_date=D,
        end_before_start={"start": "Beginn", "fmt": D},
    )
    zuschuss: str = pa.Field(
        alias="Lohnkostenzuschuss EUR/Monat",
        decimal={"decimal": ","},
        decimal_range={"low_exclusive": 0, "high": 10000, "decimal": ","},
    )
    status: str = pa.Field(alias="Status", code=["bewilligt", "laufend", "beendet", "abgelehnt"])
