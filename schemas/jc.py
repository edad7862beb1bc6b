"""Contracts of the Jobcenters' monthly tables (format JC, spec/sources.md §3)."""

from __future__ import annotations

import pandera.polars as pa

from schemas.base import COUNT, LONG_TEXT, NAME_TEXT, PLZ, WZ, YES_NO, Contract
from schemas.rules import ISO_DATE

D = ISO_DATE
KUNDENNUMMER = {"regex": r"^[0-9]{3}D[0-9]{6}$", "hint": "3 Ziffern, D, 6 Ziffern (etwa 914D004711)"}


class Bestand(Contract):
    """Totals for denominators, one row per sex."""

    monat: str = pa.Field(pattern={"regex": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "hint": "JJJJ-MM"})
    geschlecht: str = pa.Field(code=["M", "W", "D"], no_duplicate_row=(), one_version_per_file=())
    elb: str = pa.Field(pattern=COUNT)
    arbeitslose: str = pa.Field(pattern=COUNT, part_of={"whole": "elb"})


class Kunden(Contract):
    """The customers in the target group on the Stichtag."""

    kundennummer: str = pa.Field(pattern=KUNDENNUMMER, no_duplicate_row=(), one_version_per_file=())
    nachname: str = pa.Field(max_length=NAME_TEXT, has_letter=())
    vorname: str = pa.Field(max_length=NAME_TEXT, has_letter=())
    geburtsdatum: str = pa.Field(date_format=D, impossible_date=D)
    geschlecht: str = pa.Field(code=["M", "W", "D"])
    plz: str = pa.Field(pattern=PLZ)
    gdb: str = pa.Field(nullable=True, gdb_step=())
    gleichstellung: str = pa.Field(code=list(YES_NO))
    rehabilitand: str = pa.Field(code=list(YES_NO))
    arbeitslos: str = pa.Field(code=list(YES_NO))
    elb_seit: str = pa.Field(date_format=D, impossible_date=D)


class Massnahmen(Contract):
    """Measure spells active in the month."""

    kundennummer: str = pa.Field(pattern=KUNDENNUMMER, no_duplicate_row=())
    massnahme: str = pa.Field(code=["WAK", "MAG", "AGH", "FBW", "REHA"])
    eintritt: str = pa.Field(date_format=D, impossible_date=D)
    austritt: str = pa.Field(
        nullable=True, date_format=D, impossible_date=D, end_before_start={"start": "eintritt", "fmt": D}
    )
    arbeitgeber: str = pa.Field(nullable=True, max_length=LONG_TEXT)
    arbeitgeber_plz: str = pa.Field(nullable=True, pattern=PLZ)
    abbruch: str = pa.Field(code=list(YES_NO))


class Integrationen(Contract):
    """Job starts in the month."""

    kundennummer: str = pa.Field(pattern=KUNDENNUMMER, no_duplicate_row=())
    datum: str = pa.Field(date_format=D, impossible_date=D)
    art: str = pa.Field(code=["SVB", "AUSB", "SELB"])
    arbeitgeber: str = pa.Field(max_length=LONG_TEXT)
    arbeitgeber_plz: str = pa.Field(pattern=PLZ)
    branche_wz: str = pa.Field(pattern=WZ)
    befristet: str = pa.Field(code=list(YES_NO))
    foerderung: str = pa.Field(code=["EGZ", "ESG", "16I", "KEINE"])
