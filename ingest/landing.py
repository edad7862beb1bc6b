"""From validated text to landing rows: typed, pseudonymised, each row tagged with its delivery.

Landing columns keep the source's names in snake_case (``Werkstatt-Nr.`` -> ``werkstatt_nr``); their
types follow from the contract (a column checked as a date is a DATE, as a decimal a DOUBLE, as a
count an INTEGER). Names, birth dates and source ids never reach a landing table: they become
``person_key`` (cross-agency), ``birth_year`` and a sender-salted local key; the residence postcode
is dropped (the Kreisschlüssel stays).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

from ingest.encodings import PURPOSE, SEAL_PURPOSE, encode, record_ids, seal
from ingest.pseudonymise import UMLAUTS, local_key, person_key, subkey
from schemas import SOURCE_TABLES
from schemas.base import COUNT
from schemas.rules import GERMAN_DATE, parse_date, parse_decimal

# Per table: the person's (surname, first name, birth date) columns and the source-local id.
PERSON_COLUMNS = {
    "wfbm_personen": ("Nachname", "Vorname", "Geburtsdatum"),
    "jc_kunden": ("nachname", "vorname", "geburtsdatum"),
    "lv_budget_fuer_arbeit": ("Nachname", "Vorname", "Geburtsdatum"),
}
# Validated as delivered (a malformed residence postcode is still a fault of its row), then dropped
# before anything is written: residence is kept as the Kreisschlüssel, nothing finer (privacy.md §1).
DROPPED = {"wfbm_personen": ("PLZ",), "jc_kunden": ("plz",)}
LOCAL_IDS = {
    "Personennummer": "person_local_key",
    "kundennummer": "kunde_key",
    "Aktenzeichen": "case_key",
}


def snake(header: str) -> str:
    """``Werkstatt-Nr.`` -> ``werkstatt_nr``; ``Beschäftigte AB 31.12.`` -> ``beschaeftigte_ab_31_12``."""
    return re.sub(r"[^a-z0-9]+", "_", header.translate(UMLAUTS).lower()).strip("_")


def _kind(table: str, column: str) -> tuple[str, dict]:
    """The type of a column, read off the contract's checks."""
    checks = SOURCE_TABLES[table].contract.to_schema().columns[column].checks
    stats = {check.name: dict(check.statistics or {}) for check in checks}
    if "date_format" in stats:
        return "date", stats["date_format"]
    if "decimal" in stats:
        return "decimal", stats["decimal"]
    if "gdb_step" in stats or (stats.get("pattern", {}).get("regex") == COUNT["regex"]):
        return "int", {}
    return "text", {}


def identified(table: str, valid: pl.DataFrame, deliveries: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """Valid rows with their delivery (``deliveries``: _file -> delivery_id, sender, period) and
    their keys, computed once for the landing rows and the linkage records alike: a person's birth
    date as JJJJ-MM-TT and person key, each source-local id's keyed local key."""
    frame = valid.join(deliveries, on="_file", how="inner")
    if person := PERSON_COLUMNS.get(table):
        surname, first_name, birth = person
        birth_iso = parse_date(pl.col(birth), GERMAN_DATE if birth[0].isupper() else "%Y-%m-%d")
        frame = frame.with_columns(birth_iso.cast(pl.String).alias("_birth_iso"))
        frame = frame.with_columns(
            person_key(frame, key, surname, first_name, "_birth_iso").alias("_person_key")
        )
    return frame.with_columns(
        local_key(frame, key, pl.col("sender"), column).alias(f"_key {column}")
        for column in SOURCE_TABLES[table].columns
        if column in LOCAL_IDS
    )


def landing_frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Typed, pseudonymised landing rows of ``identified`` rows."""
    source = SOURCE_TABLES[table]
    person = PERSON_COLUMNS.get(table)
    out: list[pl.Expr] = [
        pl.col("delivery_id"),
        pl.col("sender"),
        pl.col("period"),
        pl.col("_row").alias("source_row"),
    ]
    if person:
        out += [
            pl.col("_person_key").alias("person_key"),
            pl.col("_birth_iso").str.slice(0, 4).cast(pl.Int32).alias("birth_year"),
        ]
    for column in source.columns:
        if (person and column in person) or column in DROPPED.get(table, ()):
            continue
        if column in LOCAL_IDS:
            out.append(pl.col(f"_key {column}").alias(LOCAL_IDS[column]))
            continue
        kind, stats = _kind(table, column)
        expr = pl.col(column)
        if kind == "date":
            expr = parse_date(expr, stats["fmt"])
        elif kind == "decimal":
            expr = parse_decimal(expr, stats["decimal"])
        elif kind == "int":
            expr = expr.cast(pl.Int32)  # validated: a value that does not fit is a bug, not a NULL
        out.append(expr.alias(snake(column)))
    return frame.select(out)


# Sex, Kreis of residence and workshop of a person record, where its source has them (linkage.md
# §2): a Budget für Arbeit case names the workshop its person came from.
NONE = pl.lit(None, pl.String)
LINKAGE_EVIDENCE = {
    "wfbm_personen": (pl.col("Geschlecht"), pl.col("Wohnort_Kreis"), pl.col("sender")),
    "jc_kunden": (pl.col("geschlecht"), pl.col("sender"), NONE),  # a Jobcenter's customers live in its Kreis
    "lv_budget_fuer_arbeit": (NONE, NONE, pl.col("Herkunft Werkstatt-Nr.")),
}


RECORD_IDENTITY = ["source_table", "local_key", "person_key"]


def linkage_frame(
    table: str, frame: pl.DataFrame, key: bytes, not_recorded: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """The comparison encodings of each person record of ``identified`` rows (ingest/encodings.py),
    one row per source-local person and identity as first delivered; nothing of the plaintext.
    ``not_recorded`` keeps the identities not recorded yet (a recorded one keeps its first
    encodings), before any encoding is computed: a monthly snapshot repeats nearly everyone."""
    records = _record_identity(table, frame).with_row_index("_frame_row")
    records = not_recorded(records.unique(RECORD_IDENTITY, keep="first", maintain_order=True))
    surname, first_name, _ = PERSON_COLUMNS[table]
    rows = frame[records["_frame_row"]]
    encodings = encode(rows, subkey(key, PURPOSE), surname, first_name, "_birth_iso")
    ids, seal_key = record_ids(records), subkey(key, SEAL_PURPOSE)
    encodings = encodings.with_columns(
        seal(encodings[name], ids, seal_key, name) for name in ("surname_bloom", "first_name_bloom")
    )
    return pl.concat([records.drop("_frame_row"), encodings], how="horizontal")


def record_rows(table: str, valid: pl.DataFrame, deliveries: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """For clerical review only (``teilhabe linkage review``, by the operator who may read the
    archive): each row's record identity beside its plaintext name, birth date and local id."""
    frame = identified(table, valid, deliveries, key)
    shown = frame.select(
        "_row", *(pl.col(c).alias(n) for c, n in zip(PERSON_COLUMNS[table], ("Nachname", "Vorname", "Geburtsdatum"), strict=True)),
        pl.col(_local_id(table)).alias("lokale Nummer"),
    )  # fmt: skip
    return pl.concat([_record_identity(table, frame), shown], how="horizontal")


def _local_id(table: str) -> str:
    return next(c for c in SOURCE_TABLES[table].columns if c in LOCAL_IDS)


def _record_identity(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    sex, kreis, workshop = LINKAGE_EVIDENCE[table]
    return frame.select(
        pl.lit(table).alias("source_table"),
        pl.col("sender"),
        pl.col(f"_key {_local_id(table)}").alias("local_key"),
        pl.col("_person_key").alias("person_key"),
        sex.str.to_lowercase().alias("sex"),
        kreis.alias("kreisschluessel"),
        workshop.alias("werkstatt_nr"),
        pl.col("delivery_id").alias("first_delivery_id"),
    )


def empty_landing_frame(table: str) -> pl.DataFrame:
    """The landing table's columns and types (for its DDL)."""
    columns = dict.fromkeys(SOURCE_TABLES[table].columns, pl.String)
    valid = pl.DataFrame(schema={**columns, "_file": pl.String, "_row": pl.Int64})
    deliveries = pl.DataFrame(
        schema={"_file": pl.String, "delivery_id": pl.Int64, "sender": pl.String, "period": pl.String}
    )
    return landing_frame(table, identified(table, valid, deliveries, b"-"))
