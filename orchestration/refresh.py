"""Incremental models whose logic changed since the warehouse built them are rebuilt whole.

An incremental model (the monthly and per-sender summaries, dbt_project/models) writes only the
partitions a run's deliveries touch; what it wrote before stays as the code of then computed it.
After an update that changes such a model, or anything it is built from (a model upstream, a macro,
a seed), its older partitions would keep the old figures: the fix of 2026-12-06 left a data home's
built months with persons on BiAp 0 where their Außenarbeitsplätze were missing, until an operator
ran a full refresh by hand. Each complete build records, per incremental model, a fingerprint of
everything its SQL comes from (``ops.model_logic``); a build that finds one changed rebuilds that
model whole first (with everything upstream of it), then builds as always.

The same record keeps which deliveries the data tests have seen (``ops.tested_deliveries``): the
tests of the staging views over the landing tables check only the partitions delivered since
(dbt_project/macros/tested_deliveries.sql), until a test or what it tests changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

MODEL_LOGIC_DDL = """
create schema if not exists ops;
create table if not exists ops.model_logic (
    model varchar primary key,
    fingerprint varchar not null,
    recorded_at timestamp not null
);
create table if not exists ops.tested_deliveries (
    tested_through bigint not null,
    fingerprint varchar not null,
    recorded_at timestamp not null
);
"""


def logic_fingerprints(manifest_path: Path) -> dict[str, tuple[str, str]]:
    """Per incremental model: (its relation ``schema.name``, a fingerprint of its own SQL and
    configuration, of every model and seed upstream of it, and of every macro any of them calls)."""
    manifest = json.loads(manifest_path.read_text("utf-8"))
    nodes, macros = manifest["nodes"], manifest["macros"]

    def macro_closure(names: list[str], seen: set[str]) -> None:
        for name in names:
            if name not in seen and name in macros:
                seen.add(name)
                macro_closure(macros[name]["depends_on"]["macros"], seen)

    def ancestors(unique_id: str, seen: set[str]) -> None:
        for parent in nodes[unique_id]["depends_on"].get("nodes", []):
            if parent in nodes and parent not in seen:
                seen.add(parent)
                ancestors(parent, seen)

    found = {}
    for unique_id, node in nodes.items():
        if node["resource_type"] != "model" or node["config"].get("materialized") != "incremental":
            continue
        upstream = {unique_id}
        ancestors(unique_id, upstream)
        called: set[str] = set()
        digest = hashlib.sha256()
        for member in sorted(upstream):
            item = nodes[member]
            digest.update(f"{member}\0{item['checksum']['checksum']}\0".encode())
            config = {k: v for k, v in item["config"].items() if k not in ("meta", "docs", "tags")}
            digest.update(json.dumps(config, sort_keys=True, default=str).encode())
            macro_closure(item["depends_on"].get("macros", []), called)
        for name in sorted(called):
            digest.update(f"{name}\0{macros[name]['macro_sql']}\0".encode())
        found[node["name"]] = (f"{node['schema']}.{node['alias'] or node['name']}", digest.hexdigest())
    return found


def stale_models(con: duckdb.DuckDBPyConnection, fingerprints: dict[str, tuple[str, str]]) -> list[str]:
    """The incremental models already in the warehouse whose fingerprint is not the one their last
    complete build recorded (none recorded: a data home built before this record, whose models may
    hold any earlier logic's figures). A model not built yet is built whole anyway."""
    con.execute(MODEL_LOGIC_DDL)
    recorded = dict(con.execute("select model, fingerprint from ops.model_logic").fetchall())
    existing = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
    }
    return sorted(
        model
        for model, (relation, fingerprint) in fingerprints.items()
        if relation in existing and recorded.get(model) != fingerprint
    )


def record_fingerprints(con: duckdb.DuckDBPyConnection, fingerprints: dict[str, tuple[str, str]]) -> None:
    """After a complete build: the logic every incremental model was built with."""
    con.execute(MODEL_LOGIC_DDL)
    con.begin()
    try:
        con.execute("delete from ops.model_logic")
        con.executemany(
            "insert into ops.model_logic values (?, ?, current_timestamp)",
            [(model, fingerprint) for model, (_, fingerprint) in sorted(fingerprints.items())],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def tests_fingerprint(manifest_path: Path) -> str:
    """A fingerprint of every data test, model and seed (code, configuration, test arguments) and
    of every macro: what decides whether a row passes the tests."""
    manifest = json.loads(manifest_path.read_text("utf-8"))
    digest = hashlib.sha256()
    for unique_id, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] in ("test", "model", "seed"):
            config = {k: v for k, v in node["config"].items() if k not in ("meta", "docs", "tags")}
            digest.update(f"{unique_id}\0{node['checksum']['checksum']}\0".encode())
            digest.update(
                json.dumps([config, node.get("test_metadata")], sort_keys=True, default=str).encode()
            )
    for name, macro in sorted(manifest["macros"].items()):
        digest.update(f"{name}\0{macro['macro_sql']}\0".encode())
    return digest.hexdigest()


def deliveries_to_test(con: duckdb.DuckDBPyConnection, fingerprint: str) -> int:
    """Before a complete build: the newest delivery its tests will have seen. A mark of other tests
    is removed, so that this build tests every row."""
    con.execute(MODEL_LOGIC_DDL)
    con.execute("delete from ops.tested_deliveries where fingerprint != ?", [fingerprint])
    return con.execute("select coalesce(max(delivery_id), 0) from ops.delivery_log").fetchone()[0]


def record_tested(con: duckdb.DuckDBPyConnection, through: int, fingerprint: str) -> None:
    """After a complete build whose tests all passed: the deliveries they have seen."""
    con.begin()
    try:
        con.execute("delete from ops.tested_deliveries")
        con.execute(
            "insert into ops.tested_deliveries values (?, ?, current_timestamp)", [through, fingerprint]
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
