"""The rule of a finding in words a sender reads: the Rückmeldung's column "Regel" in German.

A finding's rule is an internal code (``wrong_separator``, ``gdb_step``), which a workshop's clerk
cannot read; the page shows these words instead. The CSV keeps the codes, for the sender's IT and
for asking about a finding (the message beside the rule says what exactly was found).
"""

from __future__ import annotations

# Every rule the pipeline writes into ops.quarantine: ingest's readers, plausibility and load
# stage, and the contracts' checks (schemas/, named so by ingest/validate.py).
RULE_WORDS: dict[str, str] = {
    # the file's name and period (ingest/identify.py, ingest/batch.py)
    "file_name": "Dateiname nicht erkannt",
    "unknown_kreis": "Kreisschlüssel im Dateinamen unbekannt",
    "implausible_period": "Meldezeitraum nicht plausibel",
    "beyond_retention": "Meldezeitraum zu alt",
    "file_too_large": "Datei zu groß",
    "too_many_rows": "zu viele Zeilen",
    "unknown_werkstatt_nr": "Werkstatt nicht im Verzeichnis",
    "no_valid_row": "keine gültige Zeile",
    "register_incomplete": "Verzeichnis mit fehlerhaften Zeilen",
    "correction_shrank": "Korrektur viel kürzer",
    "persons_of_another_workshop": "Personen einer anderen Werkstatt",
    # reading a file (ingest/readers.py, ingest/workbooks.py)
    "empty_file": "leere Datei",
    "wrong_file_type": "falscher Dateityp",
    "unreadable": "Datei nicht lesbar",
    "workbook_too_large": "Arbeitsmappe zu groß",
    "reader_limit": "Arbeitsmappe zu groß zum Lesen",
    "missing_sheet": "Tabellenblatt fehlt",
    "title_block": "Kopfblock fehlerhaft",
    "wrong_encoding": "falsche Zeichenkodierung",
    "utf8_with_bom": "Zeichenkodierung UTF-8",
    "no_bom": "UTF-8-Kennung (BOM) fehlt",
    "utf8_in_cp1252": "Sonderzeichen falsch kodiert",
    "line_ends": "Zeilenende fehlerhaft",
    "mixed_line_ends": "Zeilenenden gemischt",
    "nul_bytes": "Null-Bytes in der Datei",
    "line_too_long": "Zeile zu lang",
    "line_break_in_field": "Zeilenumbruch im Feld",
    "no_final_line_break": "letzte Zeile ohne Zeilenumbruch",
    "truncated_file": "Datei abgeschnitten",
    "wrong_separator": "falsches Trennzeichen",
    "missing_header": "Kopfzeile fehlt",
    "duplicate_column": "Spalte doppelt",
    "renamed_column": "Spalte umbenannt",
    "missing_column": "Spalte fehlt",
    "extra_column": "Spalte nicht vereinbart",
    "reordered_columns": "Spalten in anderer Reihenfolge",
    "field_count": "Anzahl der Felder falsch",
    "stray_quote": "einzelnes Anführungszeichen",
    "blank_row": "Leerzeile übersprungen",
    "note_row": "Notiz statt Datenzeile",
    "formula_without_value": "Formel ohne Ergebnis",
    "boolean_cell": "Wahrheitswert statt Wert",
    "error_cell": "Excel-Fehlerwert",
    "merged_cell": "verbundene Zellen",
    "leading_zero_restored": "führende Null ergänzt",
    # content against the period (ingest/plausibility.py)
    "after_stichtag": "Datum nach dem Stichtag",
    "before_period": "Datum vor dem Meldezeitraum",
    "born_after_stichtag": "Geburtsdatum nach dem Stichtag",
    "left_before_period": "Austritt vor dem Meldezeitraum",
    "wrong_period": "Datei gehört zu anderem Zeitraum",
    "period_mismatch": "Monat passt nicht zum Dateinamen",
    "control_character": "unsichtbares Sonderzeichen",
    "other_landschaftsverband": "Werkstatt eines anderen Landschaftsverbands",
    "recognised_ahead": "Anerkennung weit in der Zukunft",
    # the load stage (ingest/chunk.py)
    "same_bytes_other_period": "Datei gleich anderem Zeitraum",
    "same_bytes_other_sender": "Datei gleich der eines anderen Absenders",
    "unknown_person": "Person nicht in der Personenmeldung",
    "late_transition": "Übergang nachgemeldet?",
    # the contracts' checks (schemas/rules.py)
    "not_nullable": "Wert fehlt",
    "date_format": "Datumsformat",
    "impossible_date": "Datum gibt es nicht",
    "code": "unbekannter Code",
    "known_kreis": "unbekannter Kreisschlüssel",
    "pattern": "Format nicht eingehalten",
    "decimal": "keine gültige Zahl",
    "decimal_range": "Zahl außerhalb des Bereichs",
    "max_length": "Text zu lang",
    "has_letter": "Name ohne Buchstaben",
    "end_before_start": "Ende vor Beginn",
    "only_with": "nur mit anderer Angabe erlaubt",
    "needs": "zugehörige Angabe fehlt",
    "part_of": "Teil größer als Ganzes",
    "gdb_step": "Grad der Behinderung ungültig",
    "no_duplicate_row": "doppelte Zeile",
    "one_version_per_file": "doppelt mit verschiedenen Angaben",
    "one_version_per_key": "am selben Datum doppelt",
    # no longer written, but in ops.quarantine of earlier runs, which Rückmeldungen still show
    "line_breaks": "Feld über mehrere Zeilen",
}
RETIRED = {"line_breaks"}

# Rules about the value in one cell. A finding of these without a value has one that is not shown,
# because it might identify a person (ingest/validate.py shows only what looks like a code): the
# sender reads why the cell "Wert" is empty, not an empty field (a senders' review: a GdB of 35 and a
# date 31.02.1980 showed an empty cell).
VALUE_RULES = frozenset({
    "date_format", "impossible_date", "code", "known_kreis", "pattern", "decimal", "decimal_range",
    "max_length", "has_letter", "gdb_step", "end_before_start", "part_of", "after_stichtag",
    "before_period", "born_after_stichtag", "left_before_period", "control_character",
})  # fmt: skip
NOT_SHOWN = "(nicht angezeigt)"


def rule_word(rule: str) -> str:
    """The words for a rule; a rule without words (one added since) shows its code, never fails."""
    return RULE_WORDS.get(rule, rule)


def value_shown(rule: str, value: str | None) -> str:
    """A finding's cell "Wert": its value, or why there is none where the rule is about one."""
    if value:
        return value
    return NOT_SHOWN if rule in VALUE_RULES else ""
