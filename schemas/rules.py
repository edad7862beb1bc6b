"""Shared field rules of the contracts, as polars expressions over the delivered text.

The contracts validate the text as delivered (every column a string, empty = null), so that one bad
value fails one row with a specific rule instead of failing the conversion of a whole column. Each
rule has an id (the pandera check name) and a message template; the messages never show the value
of an identifier (privacy.md §1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import polars as pl
from pandera import extensions
from pandera.api.polars.types import PolarsData

from ingest.pseudonymise import normalise_name

GERMAN_DATE = "%d.%m.%Y"
ISO_DATE = "%Y-%m-%d"
_DATE_SHAPE = {GERMAN_DATE: r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$", ISO_DATE: r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_DATE_HINT = {GERMAN_DATE: "TT.MM.JJJJ", ISO_DATE: "JJJJ-MM-TT"}

# Rule id -> message (completed by the column's name and, where shown, the value). In German: the
# findings go back to the agencies that sent the files.
MESSAGES = {
    "not_nullable": "Wert fehlt",
    "date_format": "Datum nicht im Format {hint}",
    "impossible_date": "dieses Datum gibt es nicht (etwa ein 31.02. oder ein Monat 13)",
    "code": "unbekannter Code, erlaubt: {allowed}",
    "known_kreis": (
        "kein Kreisschlüssel eines Kreises oder einer kreisfreien Stadt in NRW (fünf Ziffern, etwa 05913 für "
        "Dortmund; nicht die Postleitzahl)"
    ),
    "pattern": "nicht in der vereinbarten Form: {hint}",
    "decimal_range": "muss größer als {low_exclusive} und höchstens {high} sein",
    "decimal": "keine Zahl mit Dezimaltrennzeichen '{decimal}'",
    "dtype": "falscher Datentyp",
    "end_before_start": "liegt vor dem Datum der Spalte {start}",
    "only_with": "nur zusammen mit {other} erlaubt",
    "needs": "verlangt auch {other}",
    "part_of": "größer als {whole}, wovon die Zahl ein Teil ist, oder {whole} fehlt (Spalten vertauscht?)",
    "gdb_step": "Grad der Behinderung muss leer sein oder 20 bis 100 in Zehnerschritten",
    "no_duplicate_row": "doppelte Zeile: gleich einer früheren Zeile der Datei (welcher: siehe Wert)",
    "one_version_per_file": "kommt in der Datei mehrfach mit verschiedenen Angaben vor (wo noch: siehe Wert)",
    "one_version_per_key": (
        "kommt mit demselben {also} in der Datei mehrfach mit verschiedenen Angaben vor (wo noch: siehe Wert)"
    ),
    "note_row": "keine Datenzeile (eine Notiz oder Bemerkung)",
    "max_length": "länger als {limit} Zeichen",
    "has_letter": (
        "enthält keinen Buchstaben A-Z (auch keinen mit Umlaut oder Akzent), etwa nur Fragezeichen: "
        "beim Export verlorene Zeichen? Ein Name in anderer Schrift bitte so, wie er im Ausweis in "
        "lateinischer Schrift steht"
    ),
}


def _rows(expr: pl.Expr) -> Callable[[PolarsData], pl.LazyFrame]:
    return lambda data: data.lazyframe.select(expr.fill_null(True))


def parse_date(expr: pl.Expr, fmt: str) -> pl.Expr:
    return expr.str.to_date(fmt, strict=False)


def parse_decimal(expr: pl.Expr, decimal: str) -> pl.Expr:
    text = expr.str.replace(decimal, ".", literal=True) if decimal != "." else expr
    return text.cast(pl.Float64, strict=False)


def _number_shape(decimal: str) -> str:
    return r"^-?[0-9]+(" + ("," if decimal == "," else r"\.") + r"[0-9]+)?$"


# Registered checks: usable in any contract as Field(<rule>=<argument>), reported under <rule>.


@extensions.register_check_method(statistics=["fmt"])
def date_format(data: PolarsData, *, fmt: str) -> pl.LazyFrame:
    return _rows(pl.col(data.key).str.contains(_DATE_SHAPE[fmt]))(data)


@extensions.register_check_method(statistics=["fmt"])
def impossible_date(data: PolarsData, *, fmt: str) -> pl.LazyFrame:
    c = pl.col(data.key)
    return _rows(~c.str.contains(_DATE_SHAPE[fmt]) | parse_date(c, fmt).is_not_null())(data)


@extensions.register_check_method(statistics=["decimal"])
def decimal(data: PolarsData, *, decimal: str) -> pl.LazyFrame:
    return _rows(pl.col(data.key).str.contains(_number_shape(decimal)))(data)


@extensions.register_check_method(statistics=["low_exclusive", "high", "decimal"])
def decimal_range(data: PolarsData, *, low_exclusive: float, high: float, decimal: str) -> pl.LazyFrame:
    c = pl.col(data.key)
    value = parse_decimal(c, decimal)
    return _rows(~c.str.contains(_number_shape(decimal)) | ((value > low_exclusive) & (value <= high)))(data)


@extensions.register_check_method(statistics=["limit"])
def max_length(data: PolarsData, *, limit: int) -> pl.LazyFrame:
    """A free text no export writes so long: 6,200 names of 4,900 letters each (60 MB, every line
    within the reader's limit) held a run for three minutes in the names' encodings."""
    return _rows(pl.col(data.key).str.len_chars() <= limit)(data)


# The last code point whose normalisation can give a letter a-z (mathematical alphanumerics, the
# enclosed letters; tests/test_ingest_contracts.py checks all of Unicode).
LAST_LATIN_SOURCE = 0x1F1FF


@cache
def latin_letter() -> str:
    """A character class of every character that leaves a letter a-z in a name's normalisation
    (privacy.md §1): A-Z, ä and é and their kind, ligatures, fullwidth and mathematical forms."""
    ranges: list[list[int]] = []
    for point in range(LAST_LATIN_SOURCE + 1):
        if 0xD800 <= point <= 0xDFFF or not normalise_name(chr(point)):
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges) + "]"


@extensions.register_check_method()
def has_letter(data: PolarsData) -> pl.LazyFrame:
    """A name must keep a letter in its normalisation: "????????" (letters lost in an export to
    Windows-1252) gave the empty name, and every such person born on one day the same person key
    (two different people in two agencies were linked as one)."""
    return _rows(pl.col(data.key).str.contains(latin_letter()))(data)


@extensions.register_check_method(statistics=["allowed"])
def code(data: PolarsData, *, allowed: list[str]) -> pl.LazyFrame:
    return _rows(pl.col(data.key).is_in(list(allowed)))(data)


@extensions.register_check_method(statistics=["regex", "hint"])
def pattern(data: PolarsData, *, regex: str, hint: str) -> pl.LazyFrame:
    return _rows(pl.col(data.key).str.contains(regex))(data)


@extensions.register_check_method(statistics=["allowed"])
def known_kreis(data: PolarsData, *, allowed: list[str]) -> pl.LazyFrame:
    return _rows(pl.col(data.key).is_in(list(allowed)))(data)


@extensions.register_check_method(statistics=["start", "fmt"])
def end_before_start(data: PolarsData, *, start: str, fmt: str) -> pl.LazyFrame:
    return _rows(parse_date(pl.col(data.key), fmt) >= parse_date(pl.col(start), fmt))(data)


@extensions.register_check_method
def gdb_step(data: PolarsData) -> pl.LazyFrame:
    # Empty, or an ASCII number: "abc", "50 %" or "５０" cast to null and passed (a review found them)
    text = pl.col(data.key)
    value = text.cast(pl.Int64, strict=False)
    number = text.str.contains(r"^[0-9]+$") & value.is_between(20, 100) & (value % 10 == 0)
    return _rows(text.is_null() | number.fill_null(False))(data)


@extensions.register_check_method(statistics=["other"])
def only_with(data: PolarsData, *, other: str) -> pl.LazyFrame:
    return _rows(pl.col(data.key).is_null() | pl.col(other).is_not_null())(data)


@extensions.register_check_method(statistics=["whole"])
def part_of(data: PolarsData, *, whole: str) -> pl.LazyFrame:
    """A count that is part of another column's count is at most that count (a mutation review: a
    bestand file whose headers elb and arbeitslose were swapped without their data loaded more
    unemployed than employable recipients, with only a warning that the columns were reordered), and
    a part other than 0 needs its whole. A part or a whole that is no number passes: its own rule
    says so."""
    part, total = (pl.col(column).cast(pl.Float64, strict=False) for column in (data.key, whole))
    # a whole that is not empty but no number has a finding of its own
    without_whole = pl.col(whole).is_null() & part.is_not_null() & (part != 0)
    return _rows(~without_whole & ((part <= total) | total.is_null()))(data)


@extensions.register_check_method(statistics=["other"])
def needs(data: PolarsData, *, other: str) -> pl.LazyFrame:
    return _rows(pl.col(data.key).is_null() | pl.col(other).is_not_null())(data)


def _data_columns() -> pl.Expr:
    return pl.all().exclude("_file", "_row")


@extensions.register_check_method
def one_version_per_file(data: PolarsData) -> pl.LazyFrame:
    """A key (a person in a snapshot, a sex in bestand) has one version of its data per file."""
    return _rows(pl.struct(_data_columns()).n_unique().over("_file", data.key) == 1)(data)


@extensions.register_check_method(statistics=["also"])
def one_version_per_key(data: PolarsData, *, also: str) -> pl.LazyFrame:
    """A key of two columns (a transition: the person and its Datum) has one version of its data
    per file: two rows of one transition, one with a Rückkehr, made the published K04 depend on
    their order."""
    return _rows(pl.struct(_data_columns()).n_unique().over("_file", data.key, also) == 1)(data)


@extensions.register_check_method
def no_duplicate_row(data: PolarsData) -> pl.LazyFrame:
    """The repeat of a row already in the file (its first occurrence is kept)."""
    return _rows(pl.struct(_data_columns()).is_first_distinct().over("_file"))(data)


def describe(rule: str, column: str, schema) -> str:
    """The message of a rule as configured on a column (e.g. the allowed codes), without values."""
    statistics: dict = {}
    if column in schema.columns:
        for check in schema.columns[column].checks:
            if check.name == rule:
                statistics = dict(check.statistics or {})
    if "fmt" in statistics:
        statistics["hint"] = _DATE_HINT[statistics["fmt"]]
    for bound in ("low_exclusive", "high"):  # a German number: 0,5 not 0.5
        if isinstance(statistics.get(bound), int | float):
            statistics[bound] = f"{statistics[bound]:g}".replace(".", ",")
    if "allowed" in statistics:
        allowed = list(statistics["allowed"])
        statistics["allowed"] = (
            ", ".join(allowed) if len(allowed) <= 12 else f"{len(allowed)} vereinbarte Werte"
        )
    template = MESSAGES.get(rule, rule.replace("_", " "))
    try:
        return template.format(**statistics)
    except (KeyError, IndexError):
        return template
