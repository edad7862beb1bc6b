"""The analysts' copy (privacy.md §3, §6): a read-only DuckDB file with the pseudonymised marts and
the unsuppressed KPI tables — no landing, quarantine, linkage or pipeline tables — that replaces the
previous copy atomically. Analysts open it at any time, also while the pipeline writes the warehouse:
they never touch the pipeline's file, and a reader of the old copy keeps its snapshot.

Minimised on the way (§6): in person-level tables (those with a person, customer or case key) every
date becomes its month (`entry_date` → `entry_month`, text `JJJJ-MM`), employer names and postcodes
are left to `dim_employers` (facts keep the employer key), and money per case is whole euros. The
employer key, a normalised name in the warehouse, becomes an opaque code in every table. How many
person-level rows are still unique on year of birth, sex, Kreis or workshop and month of entry is
measured on the copy and kept in ops.disclosure_metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from ingest.ops_tables import PUBLISH_DDL
from teilhabe.disk import is_disk_full, remove_temporary, storage_error
from teilhabe.settings import ANALYSTS_FILE_MODE, ANALYSTS_FOLDER_MODE, analysts_group_id

SCHEMAS = ("marts", "kpi")  # what analysts get


def publish_analysts_copy(
    warehouse: Path, target: Path, manifest: Path | None = None, group_name: str | None = None
) -> dict[str, int]:
    """Write the copy next to its target, then move it into place in one rename; with dbt's
    ``manifest``, every table and column carries its dbt description as a comment; readable by the
    group ``group_name`` (Settings.analysts_group). Returns the rows per table copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    group = analysts_group_id(group_name)
    os.chmod(target.parent, ANALYSTS_FOLDER_MODE)  # the operator and the analysts' group only
    if group is not None:
        os.chown(target.parent, -1, group)
    temporary = target.with_name(f".{target.name}.building")
    leftovers = [temporary, Path(f"{temporary}.wal"), Path(f"{temporary}.tmp")]
    remove_temporary(leftovers)
    try:
        rows = _copy(warehouse, temporary, model_descriptions(manifest) if manifest else {})
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, ANALYSTS_FILE_MODE)
        if group is not None:
            os.chown(temporary, -1, group)
        os.replace(temporary, target)
    except BaseException as error:
        remove_temporary(leftovers)  # never a half-written copy beside the real one
        if isinstance(error, Exception) and is_disk_full(error):
            raise storage_error("the analysts' copy", temporary, error) from error
        raise
    return rows


PERSON_KEYS = {
    "person_id",
    "person_key",
    "person_local_key",
    "kunde_key",
    "case_key",
    "local_key",
}  # a row is about one person
EMPLOYER_DETAILS = {"employer_name", "employer_postcode"}  # in dim_employers only


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
    select = []
    for name, data_type in columns:
        quoted = f'"{name}"'
        if name == "employer_key":
            select.append(
                (f"case when {quoted} != '' then left(sha256('employer|' || {quoted}), 16) end", name, name)
            )
        elif not personal:
            select.append((quoted, name, name))
        elif name in EMPLOYER_DETAILS:
            continue
        elif data_type in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
            select.append((f"strftime({quoted}, '%Y-%m')", _month_name(name), name))
        elif name.endswith("_eur"):
            select.append((f"cast(round({quoted}) as integer)", name, name))
        else:
            select.append((quoted, name, name))
    return select


def _copy(warehouse: Path, temporary: Path, descriptions: dict) -> dict[str, int]:
    rows: dict[str, int] = {}
    con = duckdb.connect(str(temporary))
    try:
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'warehouse' "
            f"and schema_name in ({', '.join(repr(s) for s in SCHEMAS)}) order by all"
        ).fetchall()
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        for schema, table in tables:
            columns = _columns(con, schema, table)
            select = ", ".join(f'{expression} as "{name}"' for expression, name, _ in columns)
            con.execute(f"create table {schema}.{table} as select {select} from warehouse.{schema}.{table}")
            if (schema, table) in descriptions:
                _describe(con, schema, table, columns, *descriptions[(schema, table)])
            rows[f"{schema}.{table}"] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
        con.execute("detach warehouse")
        con.execute("checkpoint")
    finally:
        con.close()
    return rows


# Person-level tables and their quasi-identifiers in the copy: year of birth, sex, where (Kreis or
# workshop) and month of entry — what someone who knows a person could look them up by.
QUASI_IDENTIFIERS = {
    "fct_workshop_memberships": ("werkstatt_nr", "entry_month"),
    "fct_transitions": ("werkstatt_nr", "transition_month"),
    "fct_budget_fuer_arbeit_cases": ("origin_kreisschluessel", "start_month"),
    "fct_jobcenter_customer_months": ("jobcenter", "benefit_since_month"),
}


def record_disclosure_metrics(warehouse: Path, copy: Path) -> list[tuple]:
    """Measure the copy and append the figures to ops.disclosure_metrics of the warehouse."""
    found = disclosure_metrics(copy)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(PUBLISH_DDL)
        con.executemany(
            "insert into ops.disclosure_metrics values (now()::timestamp, ?, ?, ?, ?, ?)",
            [list(r) for r in found],
        )
    return found


def disclosure_metrics(copy: Path) -> list[tuple]:
    """Per person-level table of the copy: (table, quasi-identifiers, units, unique units, share),
    a unit being a person's entry (a customer's months count once)."""
    con = duckdb.connect(str(copy), read_only=True)
    try:
        found = []
        for table, (place, entry) in QUASI_IDENTIFIERS.items():
            columns = {r[0] for r in con.execute(f"describe marts.{table}").fetchall()}
            if place not in columns or entry not in columns:
                continue
            # A fact table without person_id reaches it through its source-local key.
            person = "facts.person_id" if "person_id" in columns else "records.person_id"
            bridge = (
                ""
                if "person_id" in columns
                else "join marts.dim_person_records as records on records.source_table = 'jc_kunden' "
                "and records.local_key = facts.kunde_key"
            )
            # One row per person and entry (a customer's months are one unit), with birth year and sex.
            units = f"""select distinct facts.{place} as place, facts.{entry} as entry, {person} as person_id,
                               persons.birth_year, persons.sex
                        from marts.{table} as facts {bridge}
                        left join marts.dim_persons as persons on persons.person_id = {person}"""
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
    for node in document.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed") or node.get("schema") not in SCHEMAS:
            continue
        columns = {
            name: " ".join(c.get("description", "").split()) for name, c in node.get("columns", {}).items()
        }
        description = " ".join(node.get("description", "").split())
        found[(node["schema"], node.get("alias") or node["name"])] = (description, columns)
    return found


def _describe(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list, description: str, documented: dict
) -> None:
    """dbt's descriptions as DuckDB comments; a minimised column says what it became."""
    if description:
        con.execute(f"comment on table {schema}.{table} is {_literal(description)}")
    for expression, name, original in columns:
        text = documented.get(original, "")
        if name != original:
            text = f"{text} Month (JJJJ-MM) in the analysts' copy.".strip()
        elif original == "employer_key":
            text = "The employer: an opaque code in the analysts' copy, its name in marts.dim_employers."
        elif original.endswith("_eur") and expression != f'"{original}"':
            text = f"{text} Whole euros in the analysts' copy.".strip()
        if text:
            con.execute(f'comment on column {schema}.{table}."{name}" is {_literal(text)}')


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
