"""The warehouse's own tables, defined in one place: the ``ops`` schema (delivery log, inbox record,
ignored entries, quarantine, the pseudonym key's fingerprint, what publishing wrote) and the
landing tables, created and migrated by ``prepare``. Also what a rebuild under a new key carries over.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from ingest.landing import DROPPED, LOCAL_IDS, empty_landing_frame, snake
from ingest.pseudonymise import KeyProblem, PseudonymKey
from schemas import SOURCE_TABLES

LOAD_DDL = """
create schema if not exists landing;
create schema if not exists ops;
create sequence if not exists ops.delivery_ids start 1;
create table if not exists ops.delivery_log (
    delivery_id bigint primary key,
    file_name varchar not null,
    format varchar,
    sender varchar,
    part varchar,
    period varchar,
    sha256 varchar not null,
    bytes bigint not null,
    file_mtime_ns bigint not null,
    received_at timestamp not null,
    ingested_at timestamp not null,
    run_id varchar,
    status varchar not null,
    rows_in integer,
    rows_loaded integer,
    rows_quarantined integer,
    message varchar,
    superseded_by bigint,
    archive_removed_at timestamp
);
create table if not exists ops.pseudonym_key (
    fingerprint varchar not null,
    first_used_at timestamp not null
);
-- the kind of linkage encodings the warehouse holds (LINKAGE_ENCODINGS): added later, null before
alter table ops.pseudonym_key add column if not exists linkage_encodings integer;
create table if not exists ops.inbox_files (
    file_name varchar primary key,
    bytes bigint not null,
    file_mtime_ns bigint not null,
    file_ctime_ns bigint,
    file_inode bigint,
    sha256 varchar not null,
    delivery_id bigint,
    seen_at timestamp not null
);
create table if not exists ops.ignored_entries (
    entry_name varchar not null,
    kind varchar not null,
    reason varchar not null,
    first_seen_at timestamp not null,
    last_seen_at timestamp not null,
    run_id varchar,
    primary key (entry_name, kind)
);
create table if not exists ops.quarantine (
    delivery_id bigint not null,
    file_name varchar not null,
    source_row integer,
    source_table varchar,
    column_name varchar,
    rule varchar not null,
    level varchar not null,
    message varchar not null,
    value varchar
);
"""
# Runs whose senders have had their Rückmeldungen (publish/feedback.py): the files of any other run
# (one that failed after its ingest) are answered by the next run that gets that far.
ANSWERED_RUNS_DDL = """
create table if not exists ops.answered_runs (
    run_id varchar primary key,
    answered_at timestamp not null
);
"""


# linkage.md §2: the comparison encodings of every person record, for the pipeline alone (never in
# the analysts' copy, an extract or a log). One row per source-local person and identity delivered.
LINKAGE_DDL = """
create schema if not exists linkage;
create table if not exists linkage.person_records (
    source_table varchar not null,
    sender varchar not null,
    local_key varchar not null,
    person_key varchar not null,
    sex varchar,
    kreisschluessel varchar,
    first_delivery_id bigint not null,
    surname_bloom bit,  -- null: a name without letters ("1234"), missing to the model, not different
    first_name_bloom bit,
    surname_phonetic varchar,
    first_name_phonetic varchar,
    birth_date_hash varchar,
    birth_day_hash varchar,
    birth_month_hash varchar,
    birth_year_hash varchar,
    werkstatt_nr varchar,
    birth_swapped_hash varchar,
    primary key (source_table, local_key, person_key)
);
-- added after the table was first created: a warehouse from before gets the column (null)
alter table linkage.person_records add column if not exists werkstatt_nr varchar;
alter table linkage.person_records add column if not exists birth_swapped_hash varchar;
-- a warehouse from before required both filters: one such name stopped the whole ingest
alter table linkage.person_records alter column surname_bloom drop not null;
alter table linkage.person_records alter column first_name_bloom drop not null;
"""

# Written by publishing: what partners received, which of their cells were suppressed (they stay
# suppressed in every later version, privacy.md §3), and how unique the analysts' copy's rows are.
PUBLISH_DDL = """
create schema if not exists ops;
create table if not exists ops.extract_log (
    partner varchar, period varchar, version varchar, status varchar, files integer,
    figures_sha256 varchar, manifest_sha256 varchar, supersedes varchar, restates varchar,
    message varchar, logged_at timestamp
);
create table if not exists ops.suppression_history (
    kpi varchar not null, period varchar not null, tier varchar not null, region varchar not null,
    landschaftsverband varchar not null, row_key varchar not null, column_name varchar not null,
    recorded_at timestamp
);
-- the suppressed cell's value when first published so (since 2026-12-05): a later version in
-- which it changed treats it as suppressed anew (publish/extracts.py)
alter table ops.suppression_history add column if not exists value double;
create table if not exists ops.disclosure_metrics (
    measured_at timestamp, table_name varchar, quasi_identifiers varchar,
    units bigint, unique_units bigint, share_unique double
);
create table if not exists ops.copy_log (
    published_at timestamp not null, run_id varchar, last_received_at timestamp,
    deliveries_in_force integer, calendar_as_of date, software varchar
);
"""


def append_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Rows (tuples in the table's column order) appended in one statement. DuckDB's executemany
    runs the insert once per row, ~1 ms each: a first load of five years logs ~9,000 Rückmeldungen."""
    if rows:
        con.register("_appended", pl.DataFrame(rows, orient="row", infer_schema_length=None).to_arrow())
        try:
            con.execute(f"insert into {table} select * from _appended")
        finally:
            con.unregister("_appended")


# Keyed hashes (64 hex digits, all distinct): DuckDB would try every compression on them and settle
# on FSST; told so, it skips the trial (~12 % of writing a landing table), same file size.
KEY_COLUMNS = {"person_key", *LOCAL_IDS.values()}


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LOAD_DDL)
    prepare_answered_runs(con)
    con.execute(LINKAGE_DDL)
    # A warehouse from before ops.inbox_files: its files are known by the log (and hashed once).
    con.execute(
        """
        insert into ops.inbox_files
        select file_name, bytes, file_mtime_ns, null, null, sha256, delivery_id, ingested_at
        from ops.delivery_log
        where not exists (select 1 from ops.inbox_files)
        qualify row_number() over (partition by file_name order by delivery_id desc) = 1
        """
    )
    for table in SOURCE_TABLES:
        con.register("_empty", empty_landing_frame(table).to_arrow())
        columns = con.execute("select column_name, column_type from (describe _empty)").fetchall()
        con.unregister("_empty")
        con.execute(
            f"create table if not exists landing.{table} ("
            + ", ".join(
                f'"{name}" {kind}' + (" using compression fsst" if name in KEY_COLUMNS else "")
                for name, kind in columns
            )
            + ")"
        )
        for column in DROPPED.get(table, ()):  # a warehouse from before they were dropped at the door
            con.execute(f"alter table landing.{table} drop column if exists {snake(column)}")


def prepare_answered_runs(con: duckdb.DuckDBPyConnection) -> None:
    """ops.answered_runs; in a warehouse from before it, every run counts as answered (its senders
    heard of its files then, or never will)."""
    if not _exists(con, "ops", "answered_runs"):
        con.execute(ANSWERED_RUNS_DDL)
        con.execute(
            "insert into ops.answered_runs select distinct run_id, now()::timestamp from ops.delivery_log "
            "where run_id is not null"
        )


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str, database: str | None = None) -> bool:
    """Whether the table exists in ``database`` (default: the connection's own)."""
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = coalesce(?, current_database()) "
            "and schema_name = ? and table_name = ?",
            [database, schema, table],
        ).fetchone()[0]
    )


# The kind of linkage encodings a warehouse holds (ingest/encodings.py). 2 (2026-12-05): day and
# month hashed apart, no one-digit variants (from kind 1 a privacy review recovered every birth date
# without the key); 3 (the same day): the name filters sealed (from unsealed ones it decoded 96 % of
# the names). Records of two kinds never compare: a warehouse of an older kind is rebuilt from the
# archive.
LINKAGE_ENCODINGS = 3


def check_key(con: duckdb.DuckDBPyConnection, key: PseudonymKey, now: dt.datetime | None = None) -> None:
    """One key per warehouse: its fingerprint is kept on first use, and another key is refused
    (its pseudonyms would never meet the old ones); so is a warehouse whose person records carry
    linkage encodings of an older kind."""
    row = con.execute("select fingerprint, linkage_encodings from ops.pseudonym_key").fetchone()
    if row is None:
        con.execute(
            "insert into ops.pseudonym_key values (?, ?, ?)",
            [key.fingerprint, now or dt.datetime.now(), LINKAGE_ENCODINGS],
        )
    elif row[0] != key.fingerprint:
        raise KeyProblem(
            f"this warehouse was built with another pseudonym key (fingerprint {row[0]}, this key "
            f"{key.fingerprint}): use that key, or build a new data home from the archive with this one "
            "(`teilhabe rebuild --to DIR`)"
        )
    elif row[1] != LINKAGE_ENCODINGS:
        if _holds_person_records(con):
            raise KeyProblem(
                f"this warehouse holds linkage encodings of an older kind ({row[1] or 1}; this release "
                f"writes {LINKAGE_ENCODINGS}, from which birth dates cannot be read back without the key): "
                "build a new data home from the archive (`teilhabe rebuild --to DIR`) and use it instead "
                "of this one, whose file should then be deleted"
            )
        con.execute("update ops.pseudonym_key set linkage_encodings = ?", [LINKAGE_ENCODINGS])


def _holds_person_records(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'linkage' and table_name = 'person_records'"
    ).fetchone()[0]
    return bool(found) and con.execute("select count(*) from linkage.person_records").fetchone()[0] > 0


def warehouse_key_problem(warehouse: Path, key: PseudonymKey) -> str | None:
    """Whether a warehouse was built with another key, checked read-only before a run starts
    (None also where it cannot be read now: the ingest checks again, under its lock)."""
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            check_key(con, key)
    except KeyProblem as problem:
        return str(problem)
    except duckdb.Error:  # locked by a running pipeline, or a warehouse from before fingerprints
        return None
    return None


# What a rebuilt home keeps of the old one (no pseudonyms in either): what partners received, and
# which of their cells were suppressed (they stay suppressed, privacy.md §3).
CARRIED_OVER = ("ops.extract_log", "ops.suppression_history")


def carry_over(old_warehouse: Path, con: duckdb.DuckDBPyConnection) -> None:
    """The publication history a rebuild keeps: what partners received does not change with a key."""
    con.execute(f"attach '{old_warehouse}' as previous (read_only)")
    try:
        for table in CARRIED_OVER:
            if _exists(con, *table.split("."), database="previous"):
                con.execute(f"create or replace table {table} as select * from previous.{table}")
    finally:
        con.execute("detach previous")
