"""Contracts of the workshops' monthly tables (formats W-CSV and W-XLSX, spec/sources.md §1-2)."""

from __future__ import annotations

import pandera.polars as pa

from schemas.base import KEY_TEXT, KREISE, LONG_TEXT, NAME_TEXT, PLZ, WZ, Contract
from schemas.rules import GERMAN_DATE

D = GERMAN_DATE


class Personen(Contract):
    """Every person who belonged to the workshop on any day of the month (a full snapshot)."""

    personennummer: str = pa.Field(
        alias="Personennummer", max_length=KEY_TEXT, no_duplicate_row=(), one_version_per_file=()
    )
    nachname: str = pa.Field(alias="Nachname", max_length=NAME_TEXT, has_letter=())
    vorname: str = pa.Field(alias="Vorname", max_length=NAME_TEXT, has_letter=())
    geburtsdatum: str = pa.Field(alias="Geburtsdatum", date_format=D, impossible_date=D)
    geschlecht: str = pa.Field(alias="Geschlecht", code=["m", "w", "d"])
    plz: str = pa.Field(alias="PLZ", pattern=PLZ)
    wohnort_kreis: str = pa.Field(alias="Wohnort_Kreis", known_kreis=list(KREISE))
    bereich: str = pa.Field(alias="Bereich", code=["EV", "BBB", "AB"])
    eintritt: str = pa.Field(alias="Eintritt", date_format=D, impossible_date=D)
    austritt: str = pa.Field(
        alias="Austritt",
        nullable=True,
        date_format=D,
        impossible_date=D,
        end_before_start={"start": "Eintritt", "fmt": D},
        needs={"other": "Austrittsgrund"},
    )
    austrittsgrund: str = pa.Field(
        alias="Austrittsgrund",
        nullable=True,
        code=["UEB", "WFB", "ALA", "REN", "TOD", "SON"],
        only_with={"other": "Austritt"},
    )
    behinderungsart: str = pa.Field(alias="Behinderungsart", code=["G", "P", "K", "S", "M", "X"])
    kostentraeger: str = pa.Field(alias="Kostentraeger", code=["LWL", "LVR", "BA", "DRV", "DGUV", "SON"])
    arbeitszeit_std: str = pa.Field(
        alias="Arbeitszeit_Std",
        decimal={"decimal": ","},
        decimal_range={"low_exclusive": 0, "high": 40, "decimal": ","},
    )


class Aussenarbeitsplaetze(Contract):
    """Placements in regular companies active on any day of the month."""

    personennummer: str = pa.Field(alias="Personennummer", max_length=KEY_TEXT, no_duplicate_row=())
    art: str = pa.Field(alias="Art", code=["BIAP", "BIG", "PRA"])
    betrieb: str = pa.Field(alias="Betrieb", max_length=LONG_TEXT)
    betrieb_plz: str = pa.Field(alias="Betrieb_PLZ", pattern=PLZ)
    branche_wz: str = pa.Field(alias="Branche_WZ", pattern=WZ)
    beginn: str = pa.Field(alias="Beginn", date_format=D, impossible_date=D)
    ende: str = pa.Field(
        alias="Ende",
        nullable=True,
        date_format=D,
        impossible_date=D,
        end_before_start={"start": "Beginn", "fmt": D},
    )
    std_woche: str = pa.Field(
        alias="Std_Woche",
        decimal={"decimal": ","},
        decimal_range={"low_exclusive": 0, "high": 40, "decimal": ","},
    )
    jobcoach: str = pa.Field(alias="Jobcoach", nullable=True, max_length=NAME_TEXT)


class Uebergaenge(Contract):
    """Transitions whose Datum lies in the month, re-sent when their Rueckkehr changes."""

    personennummer: str = pa.Field(
        alias="Personennummer",
        max_length=KEY_TEXT,
        no_duplicate_row=(),
        one_version_per_key={"also": "Datum"},
    )
    datum: str = pa.Field(alias="Datum", date_format=D, impossible_date=D)
    art: str = pa.Field(alias="Art", code=["SVB", "BFA", "BFAUS", "INK", "AUS"])
    arbeitgeber: str = pa.Field(alias="Arbeitgeber", max_length=LONG_TEXT)
    arbeitgeber_plz: str = pa.Field(alias="Arbeitgeber_PLZ", pattern=PLZ)
    branche_wz: str = pa.Field(alias="Branche_WZ", pattern=WZ)
    rueckkehr: str = pa.Field(
        alias="Rueckkehr",
        nullable=True,
        date_format=D,
        impossible_date=D,
        end_before_start={"start": "Datum", "fmt": D},
    )
