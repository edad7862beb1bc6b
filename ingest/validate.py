"""Validation at the door: one lazy pandera run per source table over every new file at once, the
failures turned into findings (file, row, column, rule), the rows split into valid and quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from ingest.issues import ISSUE_SCHEMA, SHOWN_CHARACTERS
from ingest.plausibility import CONTROL_CHARACTER
from schemas import SOURCE_TABLES
from schemas.rules import describe


@dataclass(frozen=True)
class Validated:
    valid: pl.DataFrame  # rows that passed every rule (text, with _file and _row)
    findings: pl.DataFrame  # one row per failed rule and row (ISSUE_SCHEMA, level "row")
    quarantined_rows: int


def _shown(value: pl.Expr) -> pl.Expr:
    """A value as a finding may show it (as issues.shown does): printable, at most SHOWN_CHARACTERS
    (a company name of 10,000 characters was repeated whole, in ops.quarantine and the CSV)."""
    printable = value.str.replace_all(CONTROL_CHARACTER, "?")
    return (
        pl.when(printable.str.len_chars() > SHOWN_CHARACTERS)
        .then(printable.str.slice(0, SHOWN_CHARACTERS - 1) + "…")
        .otherwise(printable)
    )


# A finding shows the value only where it cannot be a person's: an unknown code or Kreisschlüssel no
# longer than the codes allowed there, and not written like a word (a name begins with a capital and
# goes on in small letters). A row whose columns slipped puts names and birth dates into other
# columns: a first name reached a Rückmeldung as an unknown Geschlecht (a senders' review). Every
# other value (a date, a number) stays hidden; the row and column say where to look.
SHOWN_RULES = ("code", "known_kreis")


def _may_show(kinds: pl.DataFrame, schema) -> dict[tuple[str, str], int]:
    """(column, rule) -> the longest value that may be shown there."""
    longest = {}
    for column, rule in kinds.iter_rows():
        if rule in SHOWN_RULES and column in schema.columns:
            for check in schema.columns[column].checks:
                if check.name == rule and (allowed := (check.statistics or {}).get("allowed")):
                    longest[(column, rule)] = max(len(str(code)) for code in allowed)
    return longest


def _looks_like_a_code(value: pl.Expr, longest: dict[tuple[str, str], int]) -> pl.Expr:
    limit = pl.lit(None, pl.Int64)
    for (column, rule), length in longest.items():
        limit = pl.when((pl.col("column") == column) & (pl.col("rule") == rule)).then(length).otherwise(limit)
    text = value.str.strip_chars()
    return (
        limit.is_not_null()
        & (text.str.len_chars() <= limit)
        & ~text.str.contains(r"^\p{Lu}\p{Ll}")  # Max, Ida: written like a name
        & ~text.str.contains(r"\p{Ll}{2}")  # max, ida
        # five digits in a Kreis column are a postcode unless NRW's (05xxx; no postcode begins 05):
        # a file whose PLZ and Wohnort_Kreis were swapped showed every person's (a hostile-input review)
        & ((pl.col("rule") != "known_kreis") | text.str.contains(r"^05[0-9]{3}$"))
    ).fill_null(False)


def _naming_the_first(findings: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """A duplicate row's finding names the row it repeats, as its value ("Zeile 12"), and no column
    (the whole row repeats; it named the key column the check sits on): "a row earlier in the file"
    left the sender searching (a senders' review). Not in the message, which findings are grouped
    and capped by: 25,000 pairs of rows would have made 25,000 messages."""
    duplicate = pl.col("rule") == "no_duplicate_row"
    if not findings.select(duplicate.any()).item():
        return findings
    data = [c for c in frame.columns if not c.startswith("_")]
    files = findings.filter(duplicate)["file"].unique().implode()
    # only the files with a repeat: over a chunk's whole table (millions of rows) the window took
    # the ingest's peak from 1.7 to 3 GiB at NRW 5 years
    first = frame.filter(pl.col("_file").is_in(files)).select(
        pl.col("_file").alias("file"),
        pl.col("_row").alias("row"),
        pl.col("_row").min().over(["_file", *data]).alias("first_row"),
    )
    return (
        findings.join(first, on=["file", "row"], how="left", maintain_order="left")
        .with_columns(
            pl.when(duplicate & pl.col("first_row").is_not_null())
            .then(pl.format("Zeile {}", pl.col("first_row")))
            .otherwise(pl.col("value"))
            .alias("value"),
            pl.when(duplicate).then(None).otherwise(pl.col("column")).alias("column"),
        )
        .drop("first_row")
    )


VERSION_RULES = ("one_version_per_file", "one_version_per_key")
OTHERS_NAMED = 3  # rows named in a version finding's value; beyond, how many more


def _key_columns(column: str, rule: str, schema) -> list[str]:
    """The columns whose equal values make two rows versions of one record (a person, or a person's
    transition on one Datum)."""
    also = [
        check.statistics["also"]
        for check in schema.columns[column].checks
        if check.name == rule and "also" in (check.statistics or {})
    ]
    return [column, *also]


def _naming_the_others(findings: pl.DataFrame, frame: pl.DataFrame, schema) -> pl.DataFrame:
    """A record twice in a file with different data (a person in two rows of a snapshot) names, as
    its value, the other rows it is in ("auch Zeile 7"): which of them is right only the sender
    knows, and the sender must find both (a senders' review). Row numbers are no identifiers. Per
    record only its first rows are kept, and how many there are: one person in 15,000 rows of a file
    made lists of all of them for every row, 5.8 GB (a hostile-input review)."""
    kinds = findings.filter(pl.col("rule").is_in(VERSION_RULES)).select("column", "rule").unique()
    for column, rule in kinds.iter_rows():
        keys = _key_columns(column, rule, schema)
        mine = (pl.col("rule") == rule) & (pl.col("column") == column)
        named = findings.filter(mine).select(pl.col("file").alias("_file"), pl.col("row").alias("_row"))
        data = frame.filter(
            pl.col("_file").is_in(named["_file"].unique().implode())
            & pl.all_horizontal(pl.col(keys).is_not_null())
        ).select("_file", "_row", *keys)
        records = data.group_by(["_file", *keys]).agg(
            pl.col("_row").sort().head(OTHERS_NAMED + 1).alias("first"), pl.len().alias("rows")
        )
        others = (
            data.join(named, on=["_file", "_row"], how="semi")
            .join(records, on=["_file", *keys], nulls_equal=True)
            .with_columns(
                pl.col("first")
                .list.set_difference(pl.concat_list("_row"))
                .list.sort()
                .list.head(OTHERS_NAMED)
                .alias("shown")
            )
            .select(
                pl.col("_file").alias("file"),
                pl.col("_row").alias("row"),
                pl.format(
                    "auch {} {}{}",
                    pl.when(pl.col("rows") == 2).then(pl.lit("Zeile")).otherwise(pl.lit("Zeilen")),
                    pl.col("shown").cast(pl.List(pl.String)).list.join(", "),
                    pl.when(pl.col("rows") - 1 > pl.col("shown").list.len())
                    .then(pl.format(" und {} weitere", pl.col("rows") - 1 - pl.col("shown").list.len()))
                    .otherwise(pl.lit("")),
                ).alias("others"),
            )
        )
        findings = (
            findings.join(others, on=["file", "row"], how="left", maintain_order="left")
            .with_columns(pl.when(mine).then(pl.col("others")).otherwise(pl.col("value")).alias("value"))
            .drop("others")
        )
    return findings


def validate(table: str, frame: pl.DataFrame) -> Validated:
    source = SOURCE_TABLES[table]
    schema = source.contract.to_schema()
    frame = frame.with_row_index("_index")
    try:
        schema.validate(frame.drop("_index"), lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = errors.failure_cases
    else:
        return Validated(frame.drop("_index"), pl.DataFrame(schema=ISSUE_SCHEMA), 0)
    broken = failures.filter(pl.col("index").is_null())
    if broken.height:  # a schema-level failure (types, columns) means a reader bug, not a bad row
        raise RuntimeError(f"{table}: contract failed as a whole: {broken.select('column', 'check').rows()}")
    # pandera names a check "<name>(<statistics>)": the rule is the name (lower case, digits, "_")
    rules = failures.with_columns(pl.col("check").str.extract(r"^([a-z0-9_]+)").alias("rule"))
    # one message per column and rule, joined on (a Python call per finding held 4.7 GB for the
    # 1.3 million findings of a 1.5 MB file whose every row fails)
    kinds = rules.select("column", "rule").unique()
    messages = kinds.with_columns(
        pl.Series(
            "message", [describe(rule, column, schema) for column, rule in kinds.iter_rows()], dtype=pl.String
        )
    )
    shown = _may_show(kinds, schema)
    findings = (
        rules.join(
            frame.select("_index", "_file", "_row"),
            left_on=pl.col("index").cast(pl.UInt32),
            right_on="_index",
        )
        .join(messages, on=["column", "rule"], how="left", nulls_equal=True)
        .select(
            pl.col("_file").alias("file"),
            pl.col("_row").alias("row"),
            pl.col("column"),
            pl.col("rule"),
            pl.lit("row").alias("level"),
            pl.col("message"),
            pl.when(
                _looks_like_a_code(pl.col("failure_case"), shown)
                & ~pl.col("column").is_in(list(source.identifiers))
            )
            .then(_shown(pl.col("failure_case")))
            .alias("value"),
            pl.lit(table).alias("table"),
        )
        .sort("file", "row", "column")
    )
    findings = _naming_the_others(_naming_the_first(findings, frame), frame, schema)
    bad = failures["index"].unique().cast(pl.UInt32)
    valid = frame.filter(~pl.col("_index").is_in(bad.implode())).drop("_index")
    return Validated(valid, findings.cast(ISSUE_SCHEMA), bad.len())
