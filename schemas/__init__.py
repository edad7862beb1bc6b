"""pandera contracts for every source table, one module per agency (``wfbm``, ``jc``, ``lv``).

Contracts validate the delivered text (every column a string, empty = null) under the column
names of the W-CSV, JC and LV formats; the W-XLSX reader renames its headers and maps its long
texts to the W-CSV codes first, so one contract serves both workshop vendors. ``SOURCE_TABLES``
lists each landing table with its contract and the columns that hold identifiers (never shown in
a message; pseudonymised or dropped at the door).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa

from schemas import jc, lv, wfbm


@dataclass(frozen=True)
class SourceTable:
    name: str  # the landing table, e.g. "wfbm_personen"
    contract: type[pa.DataFrameModel]
    # columns whose values identify or locate a person (a residence's PLZ: privacy.md keeps only
    # its Kreis, and a malformed one was echoed in the sender's Rückmeldung)
    identifiers: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The delivered columns in contract order (without the origin columns _file, _row)."""
        return tuple(c for c in self.contract.to_schema().columns if not c.startswith("_"))


SOURCE_TABLES = {
    t.name: t
    for t in (
        SourceTable(
            "wfbm_personen", wfbm.Personen, ("Personennummer", "Nachname", "Vorname", "Geburtsdatum", "PLZ")
        ),
        SourceTable("wfbm_aussenarbeitsplaetze", wfbm.Aussenarbeitsplaetze, ("Personennummer",)),
        SourceTable("wfbm_uebergaenge", wfbm.Uebergaenge, ("Personennummer",)),
        SourceTable("jc_bestand", jc.Bestand, ()),
        SourceTable("jc_kunden", jc.Kunden, ("kundennummer", "nachname", "vorname", "geburtsdatum", "plz")),
        SourceTable("jc_massnahmen", jc.Massnahmen, ("kundennummer",)),
        SourceTable("jc_integrationen", jc.Integrationen, ("kundennummer",)),
        SourceTable("lv_werkstaetten", lv.Werkstaetten, ()),
        SourceTable("lv_leistungsdokumentation", lv.Leistungsdokumentation, ()),
        SourceTable(
            "lv_budget_fuer_arbeit",
            lv.BudgetFuerArbeit,
            ("Aktenzeichen", "Nachname", "Vorname", "Geburtsdatum"),
        ),
    )
}

__all__ = ["SOURCE_TABLES", "SourceTable"]
