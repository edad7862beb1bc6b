"""The analysts' copy (privacy.md §3, §6): a read-only DuckDB file with the pseudonymised marts and
the unsuppressed KPI tables — no landing, quarantine or linkage tables, and of the pipeline's own
only the delivery calendar, the linkage's measures and the copies' log (OPERATIONS) — that replaces the previous
copy atomically. Analysts open it at any time, also while the pipeline writes the warehouse:
they never touch the pipeline's file, and a reader of the old copy keeps its snapshot.

Minimised on the way (§6): in person-level tables (those with a person, customer or case key) every
date becomes its month (`entry_date` → `entry_month`, text `JJJJ-MM`), employer names and postcodes
are left to `dim_employers` (facts keep the employer key), and money per case is whole euros (in
the KPI tables too: a cell of one case holds that case's money). The
employer key, a normalised name in the warehouse, becomes an opaque code in every table. No linkage
encoding: the exact person key is left out (person_id in its place where a table had no other), and
free text that may name a person is only whether it is filled. Rows are stored in the order of their
content (LAYOUT). How many person-level rows are still unique on year of birth, sex, Kreis or
workshop and month of entry is measured on the copy, every table about persons, and kept in
ops.disclosure_metrics.

Each run starts from the previous copy and writes again only what differs from the warehouse: a
table whose content fingerprint (row count and sum of row hashes, computed on the minimised
columns) is unchanged stays as it is, a table too big to copy whole (PARTS) is compared part by
part and only the parts that differ are replaced. At NRW 5 years a new month's copy took 8.7 s when
written whole, 7.7 s of it the 4.3 M rows of the Jobcenters' customer months.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.ops_tables import PUBLISH_DDL, append_rows
from teilhabe.disk import is_disk_full, remove_temporary, storage_error
from teilhabe.settings import (
    ANALYSTS_FILE_MODE,
    ANALYSTS_FOLDER_MODE,
    HOME_FOLDER_MODE_FOR_ANALYSTS,
    analysts_group_id,
)

SCHEMAS = ("marts", "kpi")  # what analysts get
# ... and of the pipeline's own tables, the delivery calendar: as of when the copy is, which sender's
# file of which period is in, late or overdue (a KPI missing for want of a file names it too). Not
# the senders' file names: a name is whatever a sender typed. And the linkage's quality per run
# (linkage.md §4: counts and shares), which every cross-agency figure rests on (an analysts' review).
OPERATIONS = {
    ("ops", "expected_deliveries"): {"file_name"},
    ("ops", "linkage_metrics"): {"decisions_sha256", "seconds"},
    # and which run wrote each copy, as of which delivery (an analysts' review: no table said)
    ("ops", "copy_log"): set(),
}
COPY_LOG = ("ops", "copy_log")


# Every table's rows are in the order of their content (ORDER BY ALL), never in the order the
# warehouse holds them, which is the order of the senders' files: one archived customer file beside
# the copy paired each pseudonym with its name by position (an analysts' review: all 117,268 rows of
# the demo). A copy of another layout (written before) is not continued but written whole again.
LAYOUT = "rows in the order of their content"


@dataclass(frozen=True)
class Copied:
    rows: dict[str, int]  # per table of the copy (but ops.copy_log, the copy's log, not data)
    written: int  # rows written this time; the others were kept from the previous copy


def publish_analysts_copy(
    warehouse: Path,
    target: Path,
    manifest: Path | None = None,
    group_name: str | None = None,
    run_id: str | None = None,
) -> Copied:
    """Write the copy next to its target, then move it into place in one rename; with dbt's
    ``manifest``, every table and column carries its dbt description as a comment; readable by the
    group ``group_name`` (Settings.analysts_group), who may pass through the folder above it (the
    data home) to reach it, and no further. The copy's own line of ops.copy_log (the run
    ``run_id``) is in it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    group = analysts_group_id(group_name)
    os.chmod(target.parent, ANALYSTS_FOLDER_MODE)  # the operator and the analysts' group only
    if group is not None:
        os.chown(target.parent, -1, group)
        home = target.parent.parent
        os.chown(home, -1, group)
        os.chmod(home, HOME_FOLDER_MODE_FOR_ANALYSTS)
    temporary = target.with_name(f".{target.name}.building")
    leftovers = [temporary, Path(f"{temporary}.wal"), Path(f"{temporary}.tmp")]
    remove_temporary(leftovers)
    logged = _log_copy(warehouse, run_id)
    try:
        layout = _layout_marker(target)
        continued = target.exists() and layout.exists() and layout.read_text("utf-8") == LAYOUT
        copied = _copy(
            warehouse,
            temporary,
            model_descriptions(manifest) if manifest else {},
            target if continued else None,
        )
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, ANALYSTS_FILE_MODE)
        if group is not None:
            os.chown(temporary, -1, group)
        os.replace(temporary, target)
        _write_layout_marker(layout)
    except BaseException as error:
        remove_temporary(leftovers)  # never a half-written copy beside the real one
        _unlog_copy(warehouse, logged)  # nor a line for a copy nobody got
        if isinstance(error, Exception) and is_disk_full(error):
            raise storage_error("the analysts' copy", temporary, error) from error
        raise
    return copied


def _log_copy(warehouse: Path, run_id: str | None) -> datetime:
    """Append the coming copy's line to ops.copy_log: when, which run, the newest delivery in force
    and the calendar's day it is as of, the software that wrote it; its time."""
    from importlib.metadata import version

    software = ", ".join(
        f"{name} {version(package)}"
        for name, package in (
            ("teilhabe", "teilhabe-warehouse"),
            ("dbt-core", "dbt-core"),
            ("duckdb", "duckdb"),
        )
    )
    with duckdb.connect(str(warehouse)) as con:
        con.execute(PUBLISH_DDL)
        found = {
            table
            for (table,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'ops' "
                "and table_name in ('delivery_log', 'expected_deliveries')"
            ).fetchall()
        }  # a warehouse without either: a test's, or one that never loaded a file
        deliveries = (
            "select max(received_at) as newest, count(*) as files from ops.delivery_log where status = 'loaded'"
            if "delivery_log" in found
            else "select null::timestamp as newest, 0 as files"
        )
        as_of = (
            "(select max(as_of) from ops.expected_deliveries)" if "expected_deliveries" in found else "null"
        )
        now = datetime.now(UTC).replace(tzinfo=None)  # UTC, as every log of the pipeline
        con.execute(
            f"insert into ops.copy_log select ?, ?, newest, files, {as_of}, ? from ({deliveries})",
            [now, run_id, software],
        )
        return now


def _unlog_copy(warehouse: Path, published_at: datetime) -> None:
    # the copy's own failure is the one to report
    with contextlib.suppress(duckdb.Error), duckdb.connect(str(warehouse)) as con:
        con.execute("delete from ops.copy_log where published_at = ?", [published_at])


def _layout_marker(target: Path) -> Path:
    """Which LAYOUT the copy at ``target`` has: a file beside it, for the pipeline only."""
    return target.with_name(f".{target.name}.layout")


def _write_layout_marker(marker: Path) -> None:
    written = marker.with_name(f"{marker.name}.new")
    written.unlink(missing_ok=True)  # a crashed attempt's, read only
    written.write_text(LAYOUT, "utf-8")
    os.chmod(written, 0o400)  # the pipeline's own (read only, as every file of the analysts' folder)
    os.replace(written, marker)


PERSON_KEYS = {
    "person_id",
    "person_key",
    "person_local_key",
    "kunde_key",
    "case_key",
    "local_key",
}  # a row is about one person
EMPLOYER_DETAILS = {"employer_name", "employer_postcode"}  # in dim_employers only
# The exact person key is a linkage encoding (linkage.md §2), none of which the copy holds (§6):
# two of them under one person_id show where the agencies spelled a name or birth date otherwise
# (an analysts' review). A table that reaches its person by it alone gets its person_id instead:
# the person of that key among the records of this source and sender.
PERSON_KEY_SOURCES = {"dim_person_disability_status": ("jc_kunden", "jobcenter")}
# Free text a sender may fill with names (sources.md allows any text): only whether it is filled.
FREE_TEXT = {
    "job_coach": (
        "has_job_coach",
        "Whether the placement names a job coach. The warehouse keeps what the workshop wrote, which "
        "may be a person's name: not in the analysts' copy.",
    )
}


def _month_name(column: str) -> str:
    for suffix in ("_date", "_on"):
        if column.endswith(suffix):
            return f"{column.removesuffix(suffix)}_month"
    return f"{column}_month"


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str, str]]:
    """One table's columns in the copy, minimised where the table is about persons:
    (select expression, name in the copy, name in the warehouse)."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = 'warehouse' "
        "and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    personal = schema == "marts" and any(name in PERSON_KEYS for name, _ in columns)
    left_out = OPERATIONS.get((schema, table), set())
    select = []
    for name, data_type in columns:
        quoted = f'"{name}"'
        if name in left_out:
            continue
        if personal and name == "person_key":
            if table in PERSON_KEY_SOURCES:
                select.append((_person_of_key(*PERSON_KEY_SOURCES[table]), "person_id", name))
            continue
        if personal and name in FREE_TEXT:
            select.append((f"{quoted} is not null and trim({quoted}) != ''", FREE_TEXT[name][0], name))
            continue
        if name == "employer_key":
            select.append(
                (f"case when {quoted} != '' then left(sha256('employer|' || {quoted}), 16) end", name, name)
            )
        elif name.endswith("_eur") and (personal or schema == "kpi"):
            # a KPI's money of a cell of one or two cases is theirs: whole euros too (an analysts'
            # review read a case's subsidy to the cent from K05's sum beside the case's whole euros)
            select.append((f"cast(round({quoted}) as integer)", name, name))
        elif not personal:
            select.append((quoted, name, name))
        elif name in EMPLOYER_DETAILS:
            continue
        elif data_type in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
            select.append((f"strftime({quoted}, '%Y-%m')", _month_name(name), name))
        else:
            select.append((quoted, name, name))
    return select


def _person_of_key(source_table: str, sender_column: str) -> str:
    """The person_id of a row's exact person key: of the records of ``source_table`` from the
    row's sender that carry it (the smallest, where a review decision split them)."""
    return f"""(select min(ids.person_id)
        from warehouse.linkage.person_records as records
        join warehouse.linkage.person_ids as ids using (source_table, local_key)
        where records.source_table = '{source_table}' and records.sender = facts."{sender_column}"
            and records.person_key = facts."person_key")"""


# Tables too big to copy whole on every run, and the columns of the parts a delivery replaces (the
# partitions of dbt's incremental models): only the parts that differ are copied again.
PARTS = {("marts", "fct_jobcenter_customer_months"): ("jobcenter", "month")}


def _copy(warehouse: Path, temporary: Path, descriptions: dict, previous: Path | None = None) -> Copied:
    """Write the copy at ``temporary``, starting from ``previous`` (the copy analysts read now)
    where it can be used."""
    con = _start(temporary, previous)
    rows: dict[str, int] = {}
    written = 0
    try:
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'warehouse' "
            f"and (schema_name in ({', '.join(repr(s) for s in SCHEMAS)}) "
            "or (schema_name, table_name) in (select unnest(?, recursive := true))) order by all",
            [[{"s": schema, "t": table} for schema, table in OPERATIONS]],
        ).fetchall()
        _drop_all_but(con, tables)
        for schema in {*SCHEMAS, *(schema for schema, _ in tables)}:
            con.execute(f"create schema if not exists {schema}")
        for schema, table in tables:
            columns = _columns(con, schema, table)
            changed = _update(con, schema, table, columns, PARTS.get((schema, table), ()))
            if (schema, table) in descriptions:
                _describe(con, schema, table, columns, *descriptions[(schema, table)])
            if (schema, table) == COPY_LOG:  # a line new in every copy, not data: counted in neither
                continue
            written += changed
            rows[f"{schema}.{table}"] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
        con.execute("detach warehouse")
        con.execute("checkpoint")
    finally:
        con.close()
    return Copied(rows, written)


def _start(temporary: Path, previous: Path | None) -> duckdb.DuckDBPyConnection:
    """A connection to ``temporary``: a byte copy of the previous copy, or a new file where there is
    none, it cannot be opened, or more than half of it is free space left by earlier updates."""
    if previous is not None:
        try:
            shutil.copyfile(previous, temporary)
            con = duckdb.connect(str(temporary))
            used, free = con.execute("select used_blocks, free_blocks from pragma_database_size()").fetchone()
            if free <= used:
                return con
            con.close()
        except (OSError, duckdb.Error):
            pass
        remove_temporary([temporary, Path(f"{temporary}.wal")])
    return duckdb.connect(str(temporary))


def _drop_all_but(con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]]) -> None:
    """Remove from the copy every schema and table the warehouse no longer publishes."""
    kept = set(tables)
    for schema, table in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
    ).fetchall():
        if (schema, table) not in kept:
            con.execute(f'drop table "{schema}"."{table}"')
    for (schema,) in con.execute(
        "select schema_name from duckdb_schemas() where database_name = current_database() and not internal"
    ).fetchall():
        if schema not in (*SCHEMAS, *(s for s, _ in kept), "main"):
            con.execute(f'drop schema "{schema}" cascade')


def _update(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list, parts: tuple[str, ...]
) -> int:
    """Make the copy's table equal to the warehouse's, minimised: kept where its fingerprint is
    the same, replaced part by part where it has ``parts``, else written whole. Returns the rows
    written."""
    select = ", ".join(f'{expression} as "{name}"' for expression, name, _ in columns)
    source = f"(select {select} from warehouse.{schema}.{table} as facts)"
    wanted = con.execute(f"select column_name, column_type from (describe {source})").fetchall()
    present = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    if present != wanted:  # new, or its columns changed
        return _write_whole(con, schema, table, source)
    names = ", ".join(f'"{name}"' for _, name, _ in columns)
    fingerprint = f"count(*) as n, sum(hash({names})) as h"
    if not parts:
        copied, built = (
            con.execute(f"select {fingerprint} from {t}").fetchone() for t in (f"{schema}.{table}", source)
        )
        return 0 if copied == built else _write_whole(con, schema, table, source)
    keys = ", ".join(f'"{key}"' for key in parts)
    copied = f"{schema}.{table}"
    # A part dbt wrote again carries the newest delivery it had seen (delivered_through): the parts
    # whose count or deliveries differ are the changed ones, found without hashing every row of
    # both sides (NRW 5 years: 0.15 s instead of 2-3 s for 4.3 million rows).
    tracked = "delivered_through" in (name for _, name, _ in columns)
    delivered = "min(delivered_through) as lo, max(delivered_through) as h"
    _changed_parts(
        con, keys, parts, copied, source, f"count(*) as n, {delivered}" if tracked else fingerprint
    )
    if tracked and not _sample_parts_equal(con, keys, parts, copied, source, fingerprint):
        _changed_parts(con, keys, parts, copied, source, fingerprint)  # the copy's expressions changed
    if not con.execute("select count(*) from changed_parts").fetchone()[0]:
        return 0
    condition, values = _in_parts(con, keys, parts, "changed_parts")
    con.execute(f"delete from {copied} where {condition}", values)
    return con.execute(
        f"insert into {copied} select * from {source} where {condition} order by all", values
    ).fetchone()[0]


def _changed_parts(
    con, keys: str, parts: tuple[str, ...], copied: str, source: str, fingerprint: str
) -> None:
    """The temporary table ``changed_parts``: each part (its hash and keys) whose ``fingerprint``
    (columns n, h and, where tracked, lo) differs between the copy and the warehouse, or that only
    one of them has."""
    per_part = f"select {keys}, hash({keys}) as part, {fingerprint} from {{}} group by all"
    differs = " or ".join(
        f"copied.{c} is distinct from built.{c}" for c in ("n", "h", "lo") if f" as {c}" in fingerprint
    )
    con.execute(
        f"""create or replace temporary table changed_parts as
            select part,
                {", ".join(f'coalesce(copied."{key}", built."{key}") as "{key}"' for key in parts)}
            from ({per_part.format(copied)}) as copied
            full join ({per_part.format(source)}) as built using (part)
            where {differs}"""
    )


SAMPLE_PARTS = 3


def _sample_parts_equal(
    con, keys: str, parts: tuple[str, ...], copied: str, source: str, fingerprint: str
) -> bool:
    """Whether the largest parts the deliveries left alone hold the same rows in the copy as the
    copy's expressions make of the warehouse now: a change of those expressions (a column
    minimised otherwise) changes every part, and then the deliveries do not tell what changed."""
    con.execute(
        f"""create or replace temporary table sample_parts as
            select part, {keys} from (select {keys}, hash({keys}) as part, count(*) as n from {copied} group by all)
            where part not in (select part from changed_parts)
            order by n desc, part limit {SAMPLE_PARTS}"""
    )
    if not con.execute("select count(*) from sample_parts").fetchone()[0]:
        return True
    condition, values = _in_parts(con, keys, parts, "sample_parts")
    copied_sample, built_sample = (
        con.execute(f"select {fingerprint} from {t} where {condition}", values).fetchone()
        for t in (copied, source)
    )
    return copied_sample == built_sample


def _in_parts(con, keys: str, parts: tuple[str, ...], chosen: str) -> tuple[str, list]:
    """A condition on the rows of the parts in the table ``chosen``, and its parameters. Each key's
    values as constants too: DuckDB then skips the row groups of other months."""
    where, values = [f"hash({keys}) in (select part from {chosen})"], []
    for key in parts:
        found = [value for (value,) in con.execute(f'select distinct "{key}" from {chosen}').fetchall()]
        if None not in found:
            where.append(f'"{key}" in ({", ".join("?" * len(found))})')
            values += found
    return " and ".join(where), values


def _write_whole(con: duckdb.DuckDBPyConnection, schema: str, table: str, source: str) -> int:
    """The table written in the order of its content (LAYOUT)."""
    con.execute(f"create or replace table {schema}.{table} as select * from {source} order by all")
    return con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]


# Person-level tables and their quasi-identifiers in the copy: year of birth and sex (of the
# person), and where (Kreis or workshop) and when (month of entry) — what someone who knows a person
# could look them up by. Every table about persons is measured (an analysts' review singled out a
# woman in the placement spells, which were not): a person's record in dim_persons by its Kreis of
# residence and disability type.
QUASI_IDENTIFIERS = {
    "dim_persons": ("latest_residence_kreisschluessel", "disability_type"),
    "dim_person_disability_status": ("jobcenter", "first_stichtag_month"),
    "fct_workshop_memberships": ("werkstatt_nr", "entry_month"),
    "fct_placement_spells": ("werkstatt_nr", "start_month"),
    "fct_transitions": ("werkstatt_nr", "transition_month"),
    "fct_budget_fuer_arbeit_cases": ("origin_kreisschluessel", "start_month"),
    "fct_jobcenter_customer_months": ("jobcenter", "benefit_since_month"),
    "fct_measure_spells": ("jobcenter", "start_month"),
    "fct_integrations": ("jobcenter", "integration_month"),
    "fct_integration_months": ("jobcenter", "month"),
}
# How a fact without person_id reaches it: its source-local key in dim_person_records.
LOCAL_KEYS = {
    "kunde_key": "jc_kunden",
    "person_local_key": "wfbm_personen",
    "case_key": "lv_budget_fuer_arbeit",
}


def record_disclosure_metrics(warehouse: Path, copy: Path) -> list[tuple]:
    """Measure the copy and append the figures to ops.disclosure_metrics of the warehouse."""
    found = disclosure_metrics(copy)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(PUBLISH_DDL)
        measured_at = con.execute("select now()::timestamp").fetchone()[0]
        append_rows(con, "ops.disclosure_metrics", [(measured_at, *row) for row in found])
    return found


def _units(table: str, columns: set[str], place: str, entry: str) -> str | None:
    """One row per person and entry of a table (a customer's months are one unit), with the
    person's birth year and sex; None for a table that reaches no person."""
    if "person_id" in columns:
        person, bridge = "facts.person_id", ""
    else:
        local = next((key for key in LOCAL_KEYS if key in columns), None)
        if local is None:
            return None
        person = "records.person_id"
        bridge = (
            f"join marts.dim_person_records as records on records.source_table = '{LOCAL_KEYS[local]}' "
            f"and records.local_key = facts.{local}"
        )
    return f"""select distinct facts.{place} as place, facts.{entry} as entry, {person} as person_id,
                      persons.birth_year, persons.sex
               from marts.{table} as facts {bridge}
               left join marts.dim_persons as persons on persons.person_id = {person}"""


def disclosure_metrics(copy: Path) -> list[tuple]:
    """Per person-level table of the copy: (table, quasi-identifiers, units, unique units, share),
    a unit being a person's entry."""
    con = duckdb.connect(str(copy), read_only=True)
    try:
        found = []
        for table, (place, entry) in QUASI_IDENTIFIERS.items():
            columns = {r[0] for r in con.execute(f"describe marts.{table}").fetchall()}
            units = _units(table, columns, place, entry) if {place, entry} <= columns else None
            if units is None:
                continue
            rows, unique = con.execute(
                f"""select count(*), count(*) filter (where n = 1) from (
                        select count(*) over (partition by birth_year, sex, place, entry) as n from ({units}))"""
            ).fetchone()
            share = round(unique / rows, 4) if rows else None
            found.append((f"marts.{table}", f"birth_year, sex, {place}, {entry}", rows, unique, share))
        return found
    finally:
        con.close()


def model_descriptions(manifest: Path) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    """(schema, table) -> (the model's description, {column: description}) from dbt's manifest:
    what dbt documents is what the analysts read in `duckdb_tables()` and `duckdb_columns()`."""
    document = json.loads(manifest.read_text("utf-8"))
    found = {}
    # the pipeline's own tables that are copied are dbt sources (ops.linkage_metrics), not models
    nodes = [*document.get("nodes", {}).values(), *document.get("sources", {}).values()]
    for node in nodes:
        key = (node.get("schema"), node.get("alias") or node.get("identifier") or node.get("name"))
        if node.get("resource_type") not in ("model", "seed", "source") or (
            key[0] not in SCHEMAS and key not in OPERATIONS
        ):
            continue
        columns = {
            name: " ".join(c.get("description", "").split()) for name, c in node.get("columns", {}).items()
        }
        description = " ".join(node.get("description", "").split())
        found[key] = (description, columns)
    return found


def _describe(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list, description: str, documented: dict
) -> None:
    """dbt's descriptions as DuckDB comments; a minimised column says what it became, and a table
    whose dates became months says what that costs (an analysts' review counted duplicates at a grain
    with a date, and KPIs over day windows that the marts could not give back)."""
    if any(name != original and name.endswith("_month") for _, name, original in columns):
        description = (
            f"{description} In the analysts' copy its dates are months (privacy.md §6): rows may share "
            "the keys of a grain with a date (even be identical: do not deduplicate them), and figures "
            "over windows of days (365 days after a transition, a Stichtag) cannot be recomputed "
            "exactly from it: a spell that ends in a Stichtag's month may have ended before it or on "
            "it (only a later end month counts on it for sure); the kpi tables hold them exactly."
        ).strip()
    if description:
        con.execute(f"comment on table {schema}.{table} is {_literal(description)}")
    for expression, name, original in columns:
        text = documented.get(original, "")
        if original == "person_key":
            text = (
                "The person across agencies (marts.dim_persons), in the analysts' copy in place of the "
                "exact person key, a linkage encoding (privacy.md §6)."
            )
        elif original in FREE_TEXT:
            text = FREE_TEXT[original][1]
        elif name != original:
            text = f"{text} Month (JJJJ-MM) in the analysts' copy.".strip()
        elif original == "employer_key":
            text = "The employer: an opaque code in the analysts' copy, its name in marts.dim_employers."
        elif original.endswith("_eur") and expression != f'"{original}"':
            text = (
                f"{text} In the analysts' copy rounded to whole euros (the warehouse keeps the cents): "
                "a total, rounded from its exact sum, may differ from the sum of its rounded parts by a "
                "few euros."
            ).strip()
        if text:
            con.execute(f'comment on column {schema}.{table}."{name}" is {_literal(text)}')


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
