"""What the last complete pipeline run built from (issue 17: runs that cost nothing when nothing
changed): the deliveries in force (the files whose rows are in the landing tables), a fingerprint of
what turns deliveries into figures (the dbt project, partners.yaml, the pipeline's code and locked
dependencies) and of the operator's linkage decisions. A run that finds no new file and the same
state skips the build and publication; one whose new files changed none of it (rejected, held), or
that finds senders a failed run did not tell, only tells them (orchestration/defs/assets/warehouse.py);
anything else (a new, corrected or released file, a changed model or decision, a run that failed
after its ingest) builds as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb

from linkage.decisions import retrain_pending
from teilhabe.settings import DBT_PROJECT_DIR, REPO_ROOT

RUN_STATE_DDL = """
create schema if not exists ops;
create table if not exists ops.run_state (
    deliveries_in_force varchar not null,
    fingerprint varchar not null,
    decisions_sha256 varchar not null,
    run_id varchar,
    completed_at timestamp not null
);
"""


# What turns deliveries into figures, extracts and Rückmeldungen besides the dbt project: the
# pipeline's code and templates (not the docs, the tests or the simulator, so that a commit that
# only touches those builds nothing, and an edit not yet committed does).
CODE_FOLDERS = ("ingest", "linkage", "orchestration", "publish", "schemas", "teilhabe")
NOT_CODE_PARTS = {"simulate", "bench", "__pycache__"}


def fingerprint(repo: Path = REPO_ROOT) -> str:
    """Changes whenever a dbt model, macro, seed or selector, partners.yaml, a locked dependency or
    the pipeline's code changes (every file of CODE_FOLDERS: modules, templates, fonts, reference
    data), committed or not."""
    digest = hashlib.sha256()
    dbt = repo / DBT_PROJECT_DIR.name
    files = [path for folder in ("models", "macros", "seeds") for path in sorted((dbt / folder).rglob("*"))]
    files += [dbt / "dbt_project.yml", dbt / "selectors.yml", repo / "partners.yaml", repo / "uv.lock"]
    files += sorted(
        path
        for folder in CODE_FOLDERS
        for path in (repo / folder).rglob("*")
        if not NOT_CODE_PARTS.intersection(path.relative_to(repo).parts)
    )
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def decisions_sha(path: Path) -> str:
    """The operator's decisions and, while one is pending, a request to retrain the model: either
    one changed makes a run work to do."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    return sha + " retrain requested" if retrain_pending(path) else sha


# The deliveries in force: the files whose rows the landing tables hold or held (loaded,
# superseded by a correction: the deliveries the dbt project reads,
# models/staging/stg_ops__deliveries.sql); a rejected, held or duplicate file changes no figure.
IN_FORCE_SIGNATURE = """
    select {group} md5(coalesce(string_agg(delivery_id::varchar || ' ' || status, ',' order by delivery_id), ''))
    from ops.delivery_log where status in ('loaded', 'superseded') {group_by}
"""


def deliveries_in_force(con: duckdb.DuckDBPyConnection) -> str:
    """A signature of the deliveries in force (also the delivery log's data version in Dagster)."""
    return con.execute(IN_FORCE_SIGNATURE.format(group="", group_by="")).fetchone()[0]


def landing_versions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per landing table, a signature of the deliveries in force that feed it: its data version in
    Dagster, so that a run whose files changed no table leaves the assets downstream in sync."""
    from ingest.identify import Delivery
    from schemas import SOURCE_TABLES

    parts = con.execute(
        IN_FORCE_SIGNATURE.format(group="format, part,", group_by="group by all order by all")
    ).fetchall()
    versions = {table: hashlib.sha256() for table in SOURCE_TABLES}
    for format_, part, signature in parts:
        for table in Delivery("", format_, None, part, "").tables:
            versions[table].update(f"{format_} {part} {signature};".encode())
    return {table: digest.hexdigest()[:32] for table, digest in versions.items()}


def current(con: duckdb.DuckDBPyConnection, decisions: Path) -> tuple:
    """The deliveries in force, the fingerprint, the decisions."""
    return (deliveries_in_force(con), fingerprint(), decisions_sha(decisions))


def _last(con: duckdb.DuckDBPyConnection) -> tuple | None:
    last = con.execute(
        "select deliveries_in_force, fingerprint, decisions_sha256 from ops.run_state "
        "order by completed_at desc limit 1"
    ).fetchone()
    return None if last is None else tuple(last)


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """The table in its current shape: one from before the deliveries in force is dropped (the
    next run builds, as after any upgrade)."""
    columns = {c for (c,) in con.execute(
        "select column_name from duckdb_columns() where schema_name = 'ops' and table_name = 'run_state'"
    ).fetchall()}  # fmt: skip
    if columns and "deliveries_in_force" not in columns:
        con.execute("drop table ops.run_state")
    con.execute(RUN_STATE_DDL)


def unchanged_since_last_run(con: duckdb.DuckDBPyConnection, decisions: Path) -> bool:
    """True when the last complete run built from exactly what is here now."""
    _ensure_table(con)
    last = _last(con)
    return last is not None and last == current(con, decisions)


def unanswered_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs that took a file whose sender has not had its Rückmeldung yet: this one, or one that
    failed after its ingest. A rejected or held file is news to its sender though it changed no
    figure; a duplicate alone is not (it is listed when its period is answered)."""
    return [
        run_id
        for (run_id,) in con.execute(
            """select distinct run_id from ops.delivery_log
               where status <> 'duplicate' and run_id is not null
                 and run_id not in (select run_id from ops.answered_runs)
               order by 1"""
        ).fetchall()
    ]


def record(
    con: duckdb.DuckDBPyConnection, decisions: Path, run_id: str, built_from: tuple | None = None
) -> None:
    """The state a complete run built from: ``built_from``, as its ingest left it, else as it is
    now (a retraining the operator requested ended with this run's linkage stage,
    linkage/stage.py)."""
    _ensure_table(con)
    con.execute("delete from ops.run_state")
    con.execute(
        "insert into ops.run_state values (?, ?, ?, ?, ?)",
        [*(built_from or current(con, decisions)), run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )


def nothing_to_do(warehouse: Path, inbox: Path, decisions: Path) -> bool:
    """Before anything starts (Dagster's start-up alone takes seconds): the inbox holds no file the
    warehouse has not seen with this name, size, times and inode, its check folder no file waiting
    for its Prüfbericht, and the last complete run built from what is here now. Any doubt (no
    warehouse, a run writing it now) means work to do."""
    if not warehouse.exists():
        return False
    from ingest.inbox import check_folder, scan_inbox

    # a sender's file to check is answered by the run, also when nothing else came (a senders'
    # review: files waited in pruefen/ through two runs that ended at once)
    if (folder := check_folder(inbox)) and scan_inbox(folder).files:
        return False

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            tables = {t for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'ops'"
            ).fetchall()}  # fmt: skip
            if not {"run_state", "inbox_files", "delivery_log", "answered_runs"} <= tables:
                return False
            known = {
                (name, *signature)
                for name, *signature in con.execute(
                    "select file_name, bytes, file_mtime_ns, file_ctime_ns, file_inode from ops.inbox_files"
                ).fetchall()
            }
            if any((f.name, *f.signature) not in known for f in scan_inbox(inbox).files):
                return False
            if unanswered_runs(con):  # senders still to be told (a run failed before it told them)
                return False
            last = _last(con)  # a table from before the deliveries in force: an error, work to do
            return last is not None and last == current(con, decisions)
    except (duckdb.Error, OSError):
        return False
