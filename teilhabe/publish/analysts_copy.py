"""The analysts' copy (privacy.md §3): a read-only DuckDB file with the pseudonymised marts and the
unsuppressed KPI tables — no landing, quarantine or pipeline tables — that replaces the previous
copy atomically. Analysts open it at any time, also while the pipeline writes the warehouse: they
never touch the pipeline's file, and a reader of the old copy keeps its snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from teilhabe.disk import is_disk_full, remove_temporary, storage_error

SCHEMAS = ("marts", "kpi")  # what analysts get
FILE_MODE = 0o440  # read-only, owner and the analysts' group


def publish_analysts_copy(warehouse: Path, target: Path) -> dict[str, int]:
    """Write the copy next to its target, then move it into place in one rename. Returns the rows
    per table copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o750)  # noqa: S103 (the operator and the analysts' group only, by design)
    temporary = target.with_name(f".{target.name}.building")
    leftovers = [temporary, Path(f"{temporary}.wal"), Path(f"{temporary}.tmp")]
    remove_temporary(leftovers)
    try:
        rows = _copy(warehouse, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    except BaseException as error:
        remove_temporary(leftovers)  # never a half-written copy beside the real one
        if isinstance(error, Exception) and is_disk_full(error):
            raise storage_error("the analysts' copy", temporary, error) from error
        raise
    return rows


def _copy(warehouse: Path, temporary: Path) -> dict[str, int]:
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
            con.execute(f"create table {schema}.{table} as select * from warehouse.{schema}.{table}")
            rows[f"{schema}.{table}"] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
        con.execute("detach warehouse")
        con.execute("checkpoint")
    finally:
        con.close()
    return rows
