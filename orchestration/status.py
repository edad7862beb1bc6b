"""`teilhabe status`: what an operator asks first in the morning. Did last night's run succeed,
what did it take, and is anything waiting for them? Read from the data home's Dagster instance
and, briefly and read-only, the warehouse. The daily digest says what senders owe; this says what
the pipeline did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import dagster as dg
import duckdb

from orchestration.pipeline import PID_TAG, innermost_cause, one_line
from publish.expected import last_activity, overdue, query_rows
from teilhabe.settings import WAREHOUSE_POOL, DataHome

RUNS_SHOWN = 5
ACTIVE = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
ACTIVE_NAMES = {status.value for status in ACTIVE}


@dataclass(frozen=True)
class RunLine:
    run_id: str
    job: str
    started_by: str
    status: str
    started: dt.datetime | None  # UTC
    seconds: float | None
    failure: str = ""  # the failed step and its innermost cause, one line
    files: str = ""  # what its ingest made of the files it took (ops.delivery_log)
    waits_for: str = ""  # a queued run: the runs that hold the warehouse


@dataclass
class Status:
    home: DataHome
    now: dt.datetime
    runs: list[RunLine] = field(default_factory=list)
    warehouse: list[str] = field(default_factory=list)  # lines about what the warehouse holds
    waiting: list[str] = field(default_factory=list)  # lines about what waits for the operator

    @property
    def healthy(self) -> bool:
        return not self.waiting

    def text(self) -> str:
        lines = [f"Teilhabe Warehouse in {self.home.root}, as of {self.now:%Y-%m-%d %H:%M} UTC"]
        lines.append(f"runs, newest first ({len(self.runs)} shown):" if self.runs else "no run recorded yet")
        for run in self.runs:
            when = f"{run.started:%Y-%m-%d %H:%M}" if run.started else "not started"
            took = f"{run.seconds:.0f} s" if run.seconds is not None else ""
            lines.append(
                f"  {when}  {run.job:<9} {run.started_by:<22} {run.status:<9} {took:>7}  {run.run_id[:8]}"
            )
            lines += [f"      {text}" for text in (run.files, run.failure, run.waits_for) if text]
        lines += self.warehouse
        lines += [f"to act on: {line}" for line in self.waiting] or ["nothing waits for the operator"]
        return "\n".join(lines) + "\n"


def status(home: DataHome, now: dt.datetime | None = None) -> Status:
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    report = Status(home, now)
    if (home.dagster_home / "dagster.yaml").exists():
        with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
            report.runs = _runs(instance, now)
    for job in dict.fromkeys(r.job for r in report.runs):  # the newest finished run of each job
        newest = next((r for r in report.runs if r.job == job and r.status not in ACTIVE_NAMES), None)
        if newest and newest.status != "SUCCESS":
            report.waiting.append(f"the newest {job} run ({newest.run_id[:8]}) did not succeed: see above")
    if going := [r for r in report.runs if r.status in ("STARTING", "STARTED", "CANCELING")]:
        # not even a reader while a run may write: DuckDB's lock would fail the run's next step
        report.warehouse = [
            f"a run ({going[0].run_id[:8]}) is going: the warehouse's facts when it has ended"
        ]
        return report
    report.warehouse, waiting, files = _warehouse(home, now, [r.run_id for r in report.runs])
    report.runs = [replace(r, files=files.get(r.run_id, "")) for r in report.runs]
    report.waiting += waiting
    return report


def _runs(instance: dg.DagsterInstance, now: dt.datetime) -> list[RunLine]:
    lines = []
    for record in instance.get_run_records(limit=RUNS_SHOWN):
        run, tags = record.dagster_run, record.dagster_run.tags
        if "dagster/sensor_name" in tags:
            by = f"sensor {tags['dagster/sensor_name']}"
        elif "dagster/schedule_name" in tags:
            by = f"schedule {tags['dagster/schedule_name']}"
        elif "dagster/backfill" in tags:
            by = "backfill"
        elif PID_TAG in tags:
            by = "command line"
        else:
            by = "UI"
        start = record.start_time or record.create_timestamp.timestamp()
        end = record.end_time or (None if run.status in ACTIVE else start)
        started = dt.datetime.fromtimestamp(start, dt.UTC).replace(tzinfo=None)
        seconds = (end if end is not None else now.replace(tzinfo=dt.UTC).timestamp()) - start
        lines.append(
            RunLine(
                run.run_id, run.job_name, by, run.status.value, started, seconds,
                failure=_failure(instance, run.run_id) if run.status == dg.DagsterRunStatus.FAILURE else "",
                waits_for=_holders(instance, run.run_id) if run.status == dg.DagsterRunStatus.QUEUED else "",
            )
        )  # fmt: skip
    return lines


def _holders(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a queued run waits: one run at a time writes the warehouse (its pool and the run queue's
    limit), so it waits for the runs going now (an operator review: a UI run stood queued behind
    a killed run's slot for two minutes with nothing saying why)."""
    going = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )
    holders = {r.dagster_run.run_id: r.dagster_run.status.value for r in going}
    claimed = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots
    holders |= {slot.run_id: "holds its warehouse slot" for slot in claimed if slot.run_id not in holders}
    holders.pop(run_id, None)
    if not holders:
        return "queued: the run queue starts it when the daemon next looks (every few seconds)"
    named = ", ".join(f"{other[:8]} ({state})" for other, state in sorted(holders.items()))
    return (
        f"queued behind {named}: one run at a time writes the warehouse; a run whose process died is "
        "failed and its slot freed within a minute (run monitoring) or by the next `teilhabe run`"
    )


def _failure(instance: dg.DagsterInstance, run_id: str) -> str:
    """The first failed step and its innermost cause; a run that failed outside any step (killed,
    its worker gone) by the run's own failure message."""
    steps = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1).records
    if steps:
        entry = steps[0].event_log_entry
        error = entry.dagster_event.step_failure_data.error
        return (
            f"failed in {entry.step_key}: {innermost_cause(error) if error else one_line(entry.user_message)}"
        )
    runs = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE, limit=1).records
    return f"failed: {one_line(runs[0].event_log_entry.user_message)}" if runs else "failed"


def _warehouse(home: DataHome, now: dt.datetime, run_ids: list[str]) -> tuple[list[str], list[str], dict]:
    """What the warehouse says: (lines, lines to act on, each listed run's files). Opened read-only
    for milliseconds, and only when no run is going: a reader keeps a writer out, too."""
    if not home.warehouse.exists():
        return ["no warehouse yet: `teilhabe run` builds it"], [], {}
    try:
        con = duckdb.connect(str(home.warehouse), read_only=True)
    except duckdb.Error:
        return ["the warehouse is in use by a run: its facts are told when the run has ended"], [], {}
    try:
        received, completed, since = last_activity(con)
        lines = [
            f"last file received {received:%Y-%m-%d %H:%M} UTC ({(now - received).days} days ago)"
            if received
            else "no file received yet",
            f"last complete run ended {completed:%Y-%m-%d %H:%M} UTC" if completed else "no complete run yet",
        ]
        waiting = []
        if since:
            waiting.append(
                f"{_count(since, 'file')} loaded since the last complete run, not yet built and published"
            )
        files = {
            row["run_id"]: f"files: {row['files']}"
            for row in query_rows(
                con,
                """with counted as (select run_id, status, count(*) as n from ops.delivery_log
                                    where list_contains(?, run_id) group by all)
                   select run_id, string_agg(n || ' ' || status, ', ' order by n desc, status) as files
                   from counted group by run_id""",
                [run_ids],
            )
        }
        late = overdue(con)
        if late:
            senders = len({r["sender"] for r in late})
            lines.append(
                f"overdue: {_count(len(late), 'file')} from {_count(senders, 'sender')} (`teilhabe digest` lists them)"
            )
        held = con.execute("select count(*) from ops.delivery_log where status = 'held'").fetchone()[0]
        if held:
            lines.append(
                f"held for a register to name their workshop: {_count(held, 'file')} (`teilhabe digest`)"
            )
        for row in query_rows(
            con,
            """select partner, period, status, message from ops.extract_log
               qualify row_number() over (partition by partner, period order by logged_at desc) = 1
                   and status in ('failed', 'blocked')
               order by partner, period""",
        ):
            waiting.append(
                f"{row['partner']} {row['period']} {row['status']}: {one_line(row['message'] or '')}"
            )
        waiting += _inbox(home, con)
    finally:
        con.close()
    return lines, waiting, files


def _inbox(home: DataHome, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Files in the drop folder that no run has taken yet, as a run tells them (name, size, times
    and inode against ``ops.inbox_files``: a home that keeps its taken files, as the benchmark's,
    has none waiting), files to check, and uploads still being written."""
    from ingest.inbox import check_folder, scan_inbox

    if not home.inbox.is_dir():
        return []
    scan = scan_inbox(home.inbox)
    known = {
        (name, *signature)
        for name, *signature in con.execute(
            "select file_name, bytes, file_mtime_ns, file_ctime_ns, file_inode from ops.inbox_files"
        ).fetchall()
    }
    new = sum((f.name, *f.signature) not in known for f in scan.files)
    to_check = len(scan_inbox(folder).files) if (folder := check_folder(home.inbox)) else 0
    told = [f"{_count(new, 'new file')} in the inbox"] if new else []
    told += [f"{_count(to_check, 'file')} in {folder.name}/ to check"] if to_check else []
    if not told:
        return []
    uploads = len(scan.uploads_in_progress)
    return [
        " and ".join(told)
        + ", not yet taken by a run (where the sensor runs, it starts one within a minute)"
        + (f"; {_count(uploads, 'upload')} still being written" if uploads else "")
    ]


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' * (number != 1)}"
