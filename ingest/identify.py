"""Who sent a file, which part, for which period: from its name, or from a workbook's title block."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from ingest.formats import FILE_NAME_PATTERNS, WFBM_PARTS
from ingest.issues import Issue
from schemas.base import WERKSTATT_NR_PATTERN
from teilhabe.reference import nrw_kreise

# Examples, not patterns: a clerk reads "wfbm_<Werkstatt-Nr>_<JJJJ>-<MM>" as a riddle (a senders' review)
EXPECTED_NAMES = (
    "wfbm_LWL-0101_2024-05_personen.csv (ebenso _aussenarbeitsplaetze, _uebergaenge), "
    "jc_05913_202405_kunden.csv (ebenso _bestand, _massnahmen, _integrationen), lv_LWL_werkstaetten.csv, "
    "lv_LWL_leistungsdokumentation_2024.xlsx, lv_LWL_budget_fuer_arbeit_2024.csv oder die Monatsmeldung "
    "einer Werkstatt (.xlsx mit Kopfblock); mit Ihrer Werkstatt-Nr. oder Ihrem Kreisschlüssel und dem "
    "Monat der Daten"
)
FIRST_YEAR = 2000  # no export is older; an earlier year in a name is a typing error


@dataclass(frozen=True)
class Delivery:
    """A file as identified: its format, sender, part and period."""

    name: str
    format: str  # wfbm_csv | wfbm_xlsx | jc_csv | lv_register | lv_ld | lv_bfa
    sender: str | None  # Werkstatt-Nr., Kreisschlüssel or LWL/LVR; a workbook's comes from its title block
    part: str  # personen, ..., "workbook" for W-XLSX, kunden, ..., werkstaetten, ...
    period: str  # JJJJ-MM for monthly files, JJJJ for yearly ones, "" for the register

    @property
    def tables(self) -> tuple[str, ...]:
        """The landing tables this delivery feeds."""
        if self.format == "wfbm_xlsx":
            return tuple(f"wfbm_{part}" for part in WFBM_PARTS)
        if self.format in ("wfbm_csv", "jc_csv"):
            return (f"{self.format[:-4]}_{self.part}",)
        return (
            {
                "lv_register": "lv_werkstaetten",
                "lv_ld": "lv_leistungsdokumentation",
                "lv_bfa": "lv_budget_fuer_arbeit",
            }[self.format],
        )

    def with_title_block(self, sender: str, period: str) -> Delivery:
        return replace(self, sender=sender, period=period)


_WORKSHOP_IN_NAME = re.compile(rf"(?<![A-Za-z0-9])({WERKSTATT_NR_PATTERN})(?![0-9])")
_JOBCENTER_IN_NAME = re.compile(r"(?<![A-Za-z0-9])jc[_-]([0-9]{5})(?![0-9])", re.IGNORECASE)
_MONTH_IN_NAME = re.compile(r"(?<![0-9])(20[0-9]{2})[-_. ]?(0[1-9]|1[0-2])(?![0-9])")


def named_in(name: str) -> tuple[set[str], set[str]]:
    """The senders (Werkstatt-Nr., Jobcenter's Kreisschlüssel) and months (JJJJ-MM) a file name
    names plainly (also with a character that only looks like a hyphen or a blank)."""
    name = _without_look_alikes(name)
    workshop, jobcenter = _WORKSHOP_IN_NAME.findall(name), _JOBCENTER_IN_NAME.findall(name)
    senders = set(workshop) | set(jobcenter)
    rest = _JOBCENTER_IN_NAME.sub(" ", _WORKSHOP_IN_NAME.sub(" ", name))
    return senders, {f"{year}-{month}" for year, month in _MONTH_IN_NAME.findall(rest)}


def sender_named_in(name: str) -> tuple[str, str] | None:
    """The sender and month a file name that matches no agreed pattern still names plainly (a copy
    "Kopie von wfbm_LVR-0205_2024-02_uebergaenge (1).csv", "LVR-0202 Werkstattmeldung 2024_10.xlsx"),
    so that its sender hears why it was rejected; None where it names neither clearly. Nothing is
    loaded on this reading: it only addresses the Rückmeldung (to a sender the registers know)."""
    senders, months = named_in(name)
    if len(senders) != 1 or len(months) != 1:
        return None
    return senders.pop(), months.pop()


# A part as senders write it in a name they typed themselves ("Übergänge", "Personen", "Kunden")
_PART_IN_NAME = {
    re.compile(pattern, re.IGNORECASE): part
    for pattern, part in (
        (r"personen", "personen"), (r"au(?:ss|ß)enarbeitspl(?:ae|ä)tze", "aussenarbeitsplaetze"),
        (r"(?:ue|ü)berg(?:ae|ä)nge", "uebergaenge"), (r"bestand", "bestand"), (r"kunden", "kunden"),
        (r"ma(?:ss|ß)nahmen", "massnahmen"), (r"integrationen", "integrationen"),
    )
}  # fmt: skip


def intended_name(name: str) -> str | None:
    """The agreed name a monthly CSV file misnamed by hand most likely meant
    ("WfbM LWL-0101 Übergänge 2024-12.csv" -> wfbm_LWL-0101_2024-12_uebergaenge.csv): its sender,
    month and part, each named once. None where the name does not say all three clearly."""
    named = sender_named_in(name)
    parts = {part for pattern, part in _PART_IN_NAME.items() if pattern.search(name)}
    if not name.lower().endswith(".csv") or named is None or len(parts) != 1:
        return None
    (sender, month), part = named, parts.pop()
    if sender[:3] in ("LWL", "LVR") and part in WFBM_PARTS:
        return f"wfbm_{sender}_{month}_{part}.csv"
    if sender.isdigit() and part not in WFBM_PARTS:
        return f"jc_{sender}_{month.replace('-', '')}_{part}.csv"
    return None


def implausible_period(period: str, received: dt.date) -> str | None:
    """Why a period (JJJJ-MM or JJJJ) cannot be what a file received on ``received`` reports, or
    None: it lies before 2000, or it begins after the month the file arrived in."""
    said = f"{period[5:]}/{period[:4]}" if len(period) == 7 else period  # months as findings write them
    if int(period[:4]) < FIRST_YEAR:
        return f"der Zeitraum {said} liegt vor {FIRST_YEAR}"
    if (period if len(period) == 7 else f"{period}-01") > f"{received:%Y-%m}":
        return f"der Zeitraum {said} liegt nach dem Eingangsmonat {received:%m/%Y} (ein Tippfehler im Namen?)"
    return None


def beyond_retention(period: str, received: dt.date, years: int) -> str | None:
    """Why the archive could not keep a file of ``period`` received on ``received``: the period
    ended more than ``years`` (the archive's retention, privacy.md §2) before; else None. A quiet
    month of 2000 was valid and set the delivery calendar back to 2000 (9,609 files overdue)."""
    end = f"{period}-12" if len(period) == 4 else period
    cutoff = dt.date(received.year - years, received.month, 1)
    if end >= f"{cutoff:%Y-%m}":
        return None
    return (
        f"der Zeitraum {period} endete vor mehr als {years} Jahren: Meldungen werden {years} Jahre "
        "nach ihrem Zeitraum gelöscht (Aufbewahrungsfrist) und so alte nicht mehr angenommen"
    )


def identify(name: str) -> Delivery | Issue:
    """The delivery a file name announces, or a finding that says what was expected. The whole name
    must match (a trailing newline or other control character never does)."""
    for fmt, pattern in FILE_NAME_PATTERNS.items():
        match = pattern.fullmatch(name)
        if not match:
            continue
        groups = match.groupdict()
        if fmt == "wfbm_xlsx":
            return Delivery(name, fmt, None, "workbook", "")
        year, month = groups.get("year"), groups.get("month")
        if month is not None and not 1 <= int(month) <= 12:
            return Issue(name, None, None, "file_name", "file", f"der Dateiname nennt den Monat {month}")
        period = f"{year}-{month}" if month else (year or "")
        sender = groups["sender"]
        if fmt == "jc_csv" and sender not in set(nrw_kreise()["kreisschluessel"]):
            return Issue(
                name,
                None,
                None,
                "unknown_kreis",
                "file",
                f"der Kreisschlüssel {sender} im Dateinamen ist kein Kreis in NRW",
            )
        return Delivery(name, fmt, sender, groups["part"], period)
    if (plain := _without_look_alikes(name)) != name and isinstance(identify(plain), Delivery):
        at, character = next((i, c) for i, c in enumerate(name, start=1) if c != plain[i - 1])
        return Issue(
            name, None, None, "file_name", "file",
            f"der Dateiname enthält an Stelle {at} das Zeichen U+{ord(character):04X}, das nur aussieht wie "
            f"'{LOOK_ALIKES[character]}'; bitte so benennen und erneut senden: {plain}",
        )  # fmt: skip
    meant = intended_name(name)
    return Issue(
        name,
        None,
        None,
        "file_name",
        "file",
        "der Dateiname passt zu keiner vereinbarten Meldung; "
        + (
            f"gemeint ist wohl {meant} (bitte so benennen und erneut senden)"
            if meant
            else f"erwartet etwa: {EXPECTED_NAMES}"
        ),
    )


# Characters that look like those of an agreed name (a word processor's hyphens and dashes, a
# no-break or narrow space): "wfbm_LWL‐0101_…" with U+2010 displays exactly like the right name and
# was told only the patterns (a hostile-input review). Said, never read as the right name.
LOOK_ALIKES = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d", "-"),
    **dict.fromkeys("\u00a0\u2007\u202f", " "),
    "\uff3f": "_",
}


def _without_look_alikes(name: str) -> str:
    return name.translate(str.maketrans(LOOK_ALIKES))
