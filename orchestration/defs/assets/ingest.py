"""Ingest: every new delivery of the inbox into the landing tables, in one step per run.

One multi-asset materialises all landing tables together (a run reads each new file once and
validates each source table once), with a contract check per landing table that shows the
findings (file, row, column, rule; never a value) in the UI.
"""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import json
import time
from collections.abc import Iterator

import dagster as dg
import polars as pl

from ingest.identify import Delivery, identify, intended_name
from ingest.inbox import display_name
from ingest.load import ingest
from ingest.pseudonymise import KeyProblem, load_key
from ingest.retention import prune_archive
from ingest.run_state import (
    current,
    deliveries_in_force,
    landing_versions,
    unanswered_runs,
    unchanged_since_last_run,
)
from orchestration.defs.resources import DataHomeResource, step_fails_on
from schemas import SOURCE_TABLES
from teilhabe.disk import is_disk_full, require_free_space, storage_error
from teilhabe.settings import WAREHOUSE_POOL, tighten_and_say

LANDING_KEYS = {table: dg.AssetKey(["landing", table]) for table in SOURCE_TABLES}
DELIVERY_LOG_KEY = dg.AssetKey(["ops", "delivery_log"])
MAX_FINDINGS_SHOWN = 200
MAX_FILES_WARNED = 20  # a warning line per file rejected or with quarantined rows; the rest counted


# What a run's build starts from, taken when its ingest is done: recorded at the run's end instead,
# it took in another run's correction loaded meanwhile (or code deployed meanwhile), which this run
# never built, and every later run said "nothing new or changed" (an operator's review).
BUILT_FROM_TAG = "teilhabe/built_from"


def remember_built_from(instance: dg.DagsterInstance, run_id: str, state: tuple) -> None:
    instance.add_run_tags(run_id, {BUILT_FROM_TAG: json.dumps(state)})


def built_from(instance: dg.DagsterInstance, run_id: str) -> tuple | None:
    """The state the run's ingest left (None: the run took no ingest step)."""
    run = instance.get_run_by_id(run_id)
    tag = run.tags.get(BUILT_FROM_TAG) if run else None
    return tuple(json.loads(tag)) if tag else None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="ingest",
            kinds={"duckdb", "pandera"},
            description=f"Landing table {table}: typed, pseudonymised rows of the valid deliveries",
            skippable=True,  # not materialised by a run that found nothing new (ingest/run_state.py)
        )
        for table, key in LANDING_KEYS.items()
    ]
    + [
        dg.AssetSpec(
            DELIVERY_LOG_KEY,
            group_name="ingest",
            kinds={"duckdb"},
            description="Every delivery received: sender, part, period, SHA-256, status, rows",
            skippable=True,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "contract",
            asset=key,
            # Not blocking, severity WARN: a broken file or row is quarantined with its reasons and
            # the rest loads, so a finding must not stop the warehouse build downstream.
            blocking=False,
            description="pandera contract of the source table: findings of this run (quarantined, the rest loaded)",
        )
        for key in LANDING_KEYS.values()
    ],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def landing_tables(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    settings = data_home.settings()
    home = settings.home
    # A key that cannot be used (short, readable by others, not the warehouse's) fails the step with
    # its own line, which says what to do, not as the cause below a traceback (an operator review)
    with step_fails_on(KeyProblem):
        key = load_key(settings.pseudonym_key, settings.pseudonym_key_file, settings.home.warehouse)
    if key.created:
        context.log.warning(
            f"No pseudonym key was configured: created a random key in {key.source}. Keep it: changing it means rebuilding from the raw archive."
        )
    started = time.perf_counter()
    if warning := tighten_and_say(home):
        context.log.warning(warning)
    require_free_space(home.warehouse, "ingest", keep_free=settings.min_free_bytes)
    with data_home.connect(settings.ingest_memory_limit) as con:
        try:
            with step_fails_on(KeyProblem):
                report = ingest(
                    con, home.inbox, home.archive, key, run_id=context.run.run_id, limits=settings.limits,
                    keep_files=settings.keep_inbox_files, chunk_files=settings.ingest_chunk_files,
                )  # fmt: skip
        except Exception as error:
            if is_disk_full(error):
                raise dg.Failure(str(storage_error("ingest", home.root, error))) from None
            raise
        years = settings.archive_retention_years
        if removed := prune_archive(con, home.archive, years):
            context.log.info(f"archive retention ({years} years): {removed} expired files removed")
        _tell_files_not_loaded(context, con)
        if unchanged_since_last_run(con, home.linkage_decisions) and not unanswered_runs(con):
            # Nothing new or changed since the last complete run: nothing downstream runs (the
            # assets below are skipped), no build, no publication. (Files that changed no figure,
            # rejected or held, go on: their senders hear of them, warehouse.py; so do the files
            # of a run that failed before its Rückmeldungen.)
            context.log.info(f"{report.summary()}: nothing new or changed since the last complete run")
            for asset_key in LANDING_KEYS.values():
                yield dg.AssetCheckResult(
                    asset_key=asset_key,
                    check_name="contract",
                    passed=True,
                    metadata={
                        "findings": "no new file",
                        "run_summary": f"{report.summary()}: nothing new or changed",
                    },
                )
            return
        # A held file (a workshop the registers do not know yet) is no rejection: it is loaded once
        # its register arrives (ops.held_deliveries); its finding shows as a warning.
        findings = con.execute(
            "select q.file_name, q.source_row, q.source_table, q.column_name, q.rule, "
            "case when d.status = 'held' then 'warning' else q.level end as level, q.message, "
            "d.format, d.part from ops.quarantine q join ops.delivery_log d using (delivery_id) where d.run_id = ?",
            [context.run.run_id],
        ).pl()
        findings = _with_fed_tables(findings)
        _warn_files_with_findings(context, con)
        counts = {t: con.execute(f"select count(*) from landing.{t}").fetchone()[0] for t in SOURCE_TABLES}
        # Data versions of what the warehouse reads: a table no delivery in force changed keeps its
        # version, and Dagster keeps the assets built from it in sync.
        log_version, versions = deliveries_in_force(con), landing_versions(con)
        remember_built_from(context.instance, context.run.run_id, current(con, home.linkage_decisions))
    context.log.info(report.summary() + f" in {time.perf_counter() - started:.1f} s")
    yield from _results(report, findings, counts, log_version, versions)


def _results(report, findings: pl.DataFrame, counts: dict, log_version: str, versions: dict) -> Iterator:
    """The delivery log and each landing table as materialised, with its data version, and each
    table's contract check with this run's findings (a finding of a file that feeds several tables
    under each of them)."""
    yield dg.MaterializeResult(
        asset_key=DELIVERY_LOG_KEY,
        metadata={"run_summary": report.summary()},
        data_version=dg.DataVersion(log_version),
    )
    for table, asset_key in LANDING_KEYS.items():
        yield dg.MaterializeResult(
            asset_key=asset_key,
            data_version=dg.DataVersion(versions[table]),
            metadata={
                "rows": dg.MetadataValue.int(counts[table]),
                "changed_in_this_run": table in report.tables_changed,
                "run_summary": report.summary(),
            },
        )
        mine = findings.filter(
            pl.col("source_table").eq_missing(table)
            | (pl.col("source_table").is_null() & pl.col("feeds").list.contains(table))
        )
        yield _contract_check(asset_key, mine)


def _contract_check(asset_key: dg.AssetKey, mine: pl.DataFrame) -> dg.AssetCheckResult:
    problems = mine.filter(pl.col("level") != "warning")
    shown = mine.head(MAX_FINDINGS_SHOWN).select(
        "file_name", "source_row", "column_name", "rule", "level", "message"
    )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="contract",
        passed=problems.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,  # bad files and rows are quarantined; the rest loads
        metadata={
            "files_rejected": int(problems.filter(pl.col("level") == "file")["file_name"].n_unique()),
            "rows_quarantined": int(
                problems.filter(pl.col("level") == "row").select("file_name", "source_row").unique().height
            ),
            "warnings": int((mine["level"] == "warning").sum()),
            "findings": dg.MetadataValue.md(_markdown(shown)) if shown.height else "none",
        },
    )


def _warn_files_with_findings(context: dg.AssetExecutionContext, con) -> None:
    """Each file this run rejected with its reason, and each file with quarantined rows with how
    many and by which rules (never a value), as warnings: the console and the run's log say what to
    look at, not only how many."""
    run = [context.run.run_id]
    rejected = con.execute(
        "select file_name, message from ops.delivery_log where run_id = ? and status = 'rejected' "
        "order by delivery_id",
        run,
    ).fetchall()
    quarantined = con.execute(
        """select d.file_name, count(distinct q.source_row), string_agg(distinct q.rule, ', ' order by q.rule)
           from ops.quarantine q join ops.delivery_log d using (delivery_id)
           where d.run_id = ? and d.status <> 'rejected' and q.level = 'row'
           group by d.delivery_id, d.file_name order by d.delivery_id""",
        run,
    ).fetchall()
    lines = [
        # a message may quote a header the sender wrote: control characters are shown escaped
        *(f"rejected {name}: {display_name((message or 'no reason recorded').encode())}" for name, message in rejected),
        *(f"{rows} row{'s' * (rows != 1)} of {name} quarantined ({rules})" for name, rows, rules in quarantined),
    ]  # fmt: skip
    for line in lines[:MAX_FILES_WARNED]:
        context.log.warning(line)
    if len(lines) > MAX_FILES_WARNED:
        context.log.warning(
            f"{len(lines) - MAX_FILES_WARNED} more files rejected or with quarantined rows: see "
            "ops.delivery_log, ops.quarantine and the senders' Rückmeldungen"
        )


def _tell_files_not_loaded(context: dg.AssetExecutionContext, con) -> None:
    """Each duplicate and superseded file of this run with the file it repeats or that replaced it:
    the summary's "1 duplicates" said neither which file nor of what (an operator review)."""
    told = con.execute(
        "select status, file_name, message from ops.delivery_log "
        "where run_id = ? and status in ('duplicate', 'superseded') order by delivery_id",
        [context.run.run_id],
    ).fetchall()
    for status, name, message in told[:MAX_FILES_WARNED]:
        context.log.info(f"{status} {name}: {message}")
    if len(told) > MAX_FILES_WARNED:
        context.log.info(
            f"{len(told) - MAX_FILES_WARNED} more duplicate or superseded files: see ops.delivery_log"
        )


def _with_fed_tables(findings: pl.DataFrame) -> pl.DataFrame:
    """Each finding with the landing tables its file feeds, so that a file-level finding shows
    under each of them. A file whose name is no agreed one feeds the tables of the name it was
    most likely meant to have ("Kopie von wfbm_..._uebergaenge (1).csv": the Übergänge), and every
    table only where none can be told (before, every table's check failed for a workshop's copy)."""
    kinds = findings.select("format", "part", "file_name").unique()
    feeds = [
        list(Delivery("", fmt, None, part, "").tables) if fmt else _meant_tables(name)
        for fmt, part, name in kinds.iter_rows()
    ]
    fed = kinds.with_columns(pl.Series("feeds", feeds, dtype=pl.List(pl.String)))
    # joined, not a Python call per finding (a file whose every row fails has millions)
    return findings.join(
        fed, on=["format", "part", "file_name"], how="left", nulls_equal=True, maintain_order="left"
    )


def _meant_tables(name: str) -> list[str]:
    meant = identify(intended_name(name) or "")
    return list(meant.tables) if isinstance(meant, Delivery) else list(SOURCE_TABLES)


def _markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return header + "\n".join(
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in frame.iter_rows()
    )
