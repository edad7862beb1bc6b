"""Who sent a file, which part, for which period: from its name, or from a workbook's title block."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ingest.formats import FILE_NAME_PATTERNS, WFBM_PARTS
from ingest.issues import Issue
from teilhabe.reference import nrw_kreise

EXPECTED_NAMES = (
    "wfbm_<Werkstatt-Nr>_<JJJJ>-<MM>_<personen|aussenarbeitsplaetze|uebergaenge>.csv, "
    "jc_<Kreisschlüssel>_<JJJJMM>_<bestand|kunden|massnahmen|integrationen>.csv, "
    "lv_<LWL|LVR>_werkstaetten.csv, lv_<LWL|LVR>_leistungsdokumentation_<JJJJ>.xlsx, "
    "lv_<LWL|LVR>_budget_fuer_arbeit_<JJJJ>.csv, or a workshop's monthly workbook (.xlsx with title block)"
)


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


def identify(name: str) -> Delivery | Issue:
    """The delivery a file name announces, or a finding that says what was expected."""
    for fmt, pattern in FILE_NAME_PATTERNS.items():
        match = pattern.match(name)
        if not match:
            continue
        groups = match.groupdict()
        if fmt == "wfbm_xlsx":
            return Delivery(name, fmt, None, "workbook", "")
        year, month = groups.get("year"), groups.get("month")
        if month is not None and not 1 <= int(month) <= 12:
            return Issue(name, None, None, "file_name", "file", f"no month {month} in the file name")
        period = f"{year}-{month}" if month else (year or "")
        sender = groups["sender"]
        if fmt == "jc_csv" and sender not in set(nrw_kreise()["kreisschluessel"]):
            return Issue(
                name,
                None,
                None,
                "unknown_kreis",
                "file",
                f"Kreisschlüssel {sender} of the file name is not an NRW Kreis",
            )
        return Delivery(name, fmt, sender, groups["part"], period)
    return Issue(
        name,
        None,
        None,
        "file_name",
        "file",
        f"the file name matches no known export; expected {EXPECTED_NAMES}",
    )
