"""Operations (issue 17): whether every sender delivered what it should, by when. The delivery
calendar itself is a dbt model (ops.expected_deliveries); here its checks, one per part, and the
daily digest of overdue and late senders.

Why a check per part, naming the senders in its metadata, and not a check per sender or Dagster's
freshness checks: the senders are known only from the registers inside the warehouse, and the code
location must not open the warehouse when it loads (one writer, and a reader blocks it); freshness
checks of time partitions watch one asset's newest partition, not 150 senders' files.
"""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import csv
from collections import Counter

import dagster as dg

from ingest.pseudonymise import KeyProblem, load_key
from ingest.run_state import record
from orchestration.defs.assets.ingest import DELIVERY_LOG_KEY, built_from
from orchestration.defs.resources import DataHomeResource, into_run_log, step_fails_on
from publish.check_reports import answer_checks, waiting_checks
from publish.expected import digest, overdue, write
from publish.feedback import send_feedback
from publish.senders import SenderConfigError, load_senders
from teilhabe.disk import StorageError
from teilhabe.settings import DBT_PROJECT_DIR, WAREHOUSE_POOL

CALENDAR_KEY = dg.AssetKey(["ops", "expected_deliveries"])
DIGEST_KEY = dg.AssetKey(["reports", "operations"])
MAX_SENDERS_SHOWN = 50


def _parts() -> list[tuple[str, str]]:
    """(source system, part) of every part the calendar expects (the seed delivery_due_dates)."""
    with open(DBT_PROJECT_DIR / "seeds" / "delivery_due_dates.csv", encoding="utf-8") as handle:
        return [(row["source_system"], row["part"]) for row in csv.DictReader(handle, delimiter=";")]


PARTS = _parts()


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            f"on_time_{part}",
            asset=CALENDAR_KEY,
            blocking=False,
            description=f"Every {part} file ({system}) expected by its due day has arrived; fails naming the "
            "overdue senders and periods",
        )
        for system, part in PARTS
    ],
    pool=WAREHOUSE_POOL,
)
def deliveries_on_time(context: dg.AssetCheckExecutionContext, data_home: DataHomeResource):
    with data_home.connect() as con:
        missing = overdue(con)
    if missing:  # one line on the console of `teilhabe run`, the details in the checks
        shown = ", ".join(f"{r['sender']} {r['part']} {r['period']}" for r in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        context.log.warning(
            f"{len(missing)} files overdue from {len({r['sender'] for r in missing})} senders: {shown}{more} "
            "(ops.expected_deliveries)"
        )
    for _, part in PARTS:
        rows = [r for r in missing if r["part"] == part]
        listed = [
            f"{r['sender']} {r['period']} (due {r['due_on']:%Y-%m-%d})" for r in rows[:MAX_SENDERS_SHOWN]
        ]
        # A sender's lateness is no failure of the pipeline: a warning, with what happens and what
        # to do (an operator review: red checks that said neither)
        yield dg.AssetCheckResult(
            check_name=f"on_time_{part}",
            passed=not rows,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "overdue_files": len(rows),
                "overdue_senders": len({r["sender"] for r in rows}),
                "overdue": dg.MetadataValue.md("\n".join(f"- {item}" for item in listed) or "none"),
                "how": "each sender is reminded in its Rückmeldung; every overdue file: `teilhabe digest` "
                "(reports/operations/) or ops.expected_deliveries; a file expected wrongly: delivery_due_dates "
                "or the register",
            },
        )


@dg.asset(
    key=DIGEST_KEY,
    deps=[CALENDAR_KEY],
    group_name="ops",
    kinds={"csv"},
    pool=WAREHOUSE_POOL,
    description="Daily digest of overdue and late deliveries, and of files rejected or held "
    "(reports/operations/digest-<date>.txt and .csv)",
)
def operations_digest(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    home = data_home.settings().home
    with data_home.connect() as con:
        report = digest(con)
    path = write(report, home.operations_reports)
    context.log.info(report.text())
    return dg.MaterializeResult(
        metadata={
            "overdue_files": len(report.overdue),
            "late_files": len(report.late),
            "rejected_files": len(report.rejected),
            "held_files": len(report.held),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    key=["outbox", "rueckmeldungen"],
    deps=[
        CALENDAR_KEY,
        DELIVERY_LOG_KEY,
        *(dg.AssetKey(["marts", m]) for m in ("fct_workshop_headcount", "dim_workshops", "dim_regions")),
    ],
    group_name="publish",
    kinds={"html", "csv"},
    pool=WAREHOUSE_POOL,
    description="A Rückmeldung to every sender whose file this run took: its files, findings (row, column, "
    "rule; no identifier), parts still expected, plausibility, in outbox/<folder>/rueckmeldung/<period>/ "
    "(senders.yaml)",
)
def sender_feedback(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    home = data_home.settings().home
    # one line naming the configuration's fault, or the Rückmeldung, its path and the free space
    with step_fails_on(SenderConfigError, StorageError):
        senders = load_senders()  # before the warehouse is opened: its fault is the one to fix first
        with data_home.connect() as con:
            outcomes = send_feedback(con, home.outbox, context.run.run_id, senders)
    delivered = [f"{sender} {period}" for sender, period, status in outcomes if status == "delivered"]
    counts = Counter(status for *_, status in outcomes)
    return dg.MaterializeResult(
        metadata={
            "feedback_summary": f"{counts['delivered']} delivered, {counts['unchanged']} unchanged, "
            + (f"{counts['completed']} completed (latest switched), " if counts["completed"] else "")
            + f"{counts['not_sent']} without an address in senders.yaml",
            **{status: counts[status] for status in ("delivered", "unchanged", "completed", "not_sent")},
            "senders": dg.MetadataValue.md("\n".join(f"- {item}" for item in delivered[:100]) or "none"),
        }
    )


@dg.asset(
    key=["outbox", "pruefberichte"],
    group_name="publish",
    kinds={"html", "csv"},
    pool=WAREHOUSE_POOL,
    output_required=False,  # not materialised by a run that found no file to check
    # last of its run: no upstream asset, so it could run first, and the warehouse's build waits for
    # no sender's test file (and the benchmark's stages stay in their order)
    op_tags={"dagster/priority": "-1"},
    description="A Prüfbericht for every file a sender put into the inbox's check folder (pruefen/): checked "
    "like a delivery and compared with the warehouse's deliveries (a load rolled back), never loaded or "
    "kept, its findings in outbox/<folder>/pruefung/ (senders.yaml); a file of no known sender reported in "
    "reports/operations/pruefung/",
)
def check_reports(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    # No upstream asset: a run that found no new delivery answers the check folder too.
    settings = data_home.settings()
    home = settings.home
    if not waiting_checks(home.inbox):  # the warehouse not even opened
        return
    key = None  # the warehouse's key, to compare each file with its deliveries; never a new one made
    if settings.pseudonym_key is not None or settings.pseudonym_key_file.exists():
        try:
            key = load_key(settings.pseudonym_key, settings.pseudonym_key_file)
        except KeyProblem as problem:
            context.log.warning(f"checked files are not compared with the warehouse: {problem}")
    # a comparison that failed is logged by the check (it never stops a run): into the run's log
    with step_fails_on(SenderConfigError, StorageError), into_run_log(context.log, ["ingest.checking"]):
        senders = load_senders()
        with data_home.connect() as con:
            answered = answer_checks(
                con, home.inbox, home.outbox, home.operations_reports, settings.limits, context.run.run_id,
                senders, key,
            )  # fmt: skip
    for file_name, sender, where, compared in answered:
        against = "; compared with its sender's deliveries" if compared else ""
        context.log.info(f"checked {file_name!r} for {sender or 'an unknown sender'}: {where}{against}")
    if answered:
        operator = sum(sender is None for _, sender, *_ in answered)
        yield dg.MaterializeResult(
            metadata={
                "files_checked": len(answered),
                "for_the_operator": operator,
                # a file that would load and was not compared: no key, a failed comparison (its log)
                "compared_with_deliveries": sum(compared for *_, compared in answered),
                "checks_summary": f"{len(answered)} file{'s' if len(answered) != 1 else ''} of inbox/pruefen/ "
                f"checked, not loaded, and deleted; {len(answered) - operator} to their senders' outbox"
                + (f", {operator} to reports/operations/pruefung/ (no known sender)" if operator else ""),
            }
        )


@dg.asset(
    key=["ops", "last_complete_run"],
    deps=[["analysts", "teilhabe_duckdb"], ["outbox", "extracts"], ["outbox", "rueckmeldungen"]],
    group_name="ops",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="What the last complete run built from (ops.run_state): a later run that finds nothing new "
    "or changed skips the build and publication",
)
def last_complete_run(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    state = built_from(context.instance, context.run.run_id)
    with data_home.connect() as con:
        record(con, data_home.settings().home.linkage_decisions, context.run.run_id, state)


digest_job = dg.define_asset_job(
    "operations_digest",
    # The calendar first: its statuses are as of the day it was built, and a day on which nothing
    # arrives builds nothing (ingest/run_state.py), which is when files fall overdue. With it run
    # its checks: the UI's overdue senders are as of today too.
    # And the Rückmeldungen: a sender whose file a failed run took hears of it by the next morning,
    # also when no new file starts a run before then (only runs not yet answered are answered).
    selection=dg.AssetSelection.assets(CALENDAR_KEY, DIGEST_KEY, ["outbox", "rueckmeldungen"]),
    description="Rebuild the delivery calendar as of today, write the digest of overdue and late senders, and "
    "send the Rückmeldungen a failed run left unsent",
)

digest_schedule = dg.ScheduleDefinition(
    name="operations_digest_daily",
    job=digest_job,
    cron_schedule="30 6 * * *",
    execution_timezone="Europe/Berlin",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning: overdue and late senders into the run log and reports/operations/; "
    "Rückmeldungen a failed run left unsent",
)
