"""Run the whole pipeline from the command line, in one in-process Dagster run.

One run takes every new delivery of the inbox (never one run per file), so the fixed costs of
Dagster and dbt are paid once. The run is recorded in the Dagster instance of the data home, so
it shows in the UI like any other run.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg

from orchestration import CODE_LOCATION, REPOSITORY_TAG
from orchestration.progress import Progress
from teilhabe.disk import free_bytes, is_disk_full
from teilhabe.settings import REPO_ROOT, WAREHOUSE_POOL, DataHome

# The run's full log is in the Dagster instance (see it with `make dev`); the terminal shows the
# summary with one line per warning and per failed step (no stack traces).
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class _SkippedBuild(logging.Filter):
    """A run that found nothing new skips the dbt build, whose tests then gate nothing downstream:
    Dagster says so once per test and step (ingest/run_state.py); the operator needs none of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Blocking asset check ")


logging.getLogger("dagster._core.execution.plan.active").addFilter(_SkippedBuild())
MAX_PROBLEM_LINE = 500  # the locked warehouse's line, with what to do, is ~350
PID_TAG, HOST_TAG = "teilhabe/pid", "teilhabe/host"


def executed_here(run: dg.DagsterRun) -> bool:
    """Whether this process executes the whole run (``teilhabe run``, in process), so that its later
    steps run here too; a run from the UI executes each step in a process of its own."""
    return run.tags.get(PID_TAG) == str(os.getpid())


def _job_origin(job_name: str):
    """Where the UI finds a job again (code location, repository, job): a run that carries it can
    be re-executed from the UI like a run launched there. Only the names are used for that; the
    rest says how `dagster dev` loads the location (pyproject.toml's [tool.dagster])."""
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    target = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name="orchestration.definitions",
        working_directory=str(REPO_ROOT),
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, CODE_LOCATION)
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)


@contextmanager
def _runs_with_origin(instance: dg.DagsterInstance, job_name: str) -> Iterator[None]:
    """execute_in_process records no job origin (dagster-io/dagster#19458): its run could not be
    re-executed from the UI. Runs created on this instance meanwhile get the code location's."""
    create = instance.create_run_for_job

    def with_origin(*args, **kwargs):
        kwargs.setdefault("remote_job_origin", _job_origin(job_name))
        return create(*args, **kwargs)

    instance.create_run_for_job = with_origin
    try:
        yield
    finally:
        del instance.create_run_for_job  # the class's method again


def _execute(home: DataHome, job_name: str, run_config: dict, **kwargs) -> PipelineResult:
    """Run a job in this process on a data home, recorded in its Dagster instance. The data home
    and inbox are the run's resource config: the UI shows them, and a re-execution takes them."""
    from orchestration.definitions import defs
    from orchestration.defs.assets.warehouse import warehouse_dbt_assets

    location = {"root": str(home.root), "inbox_dir": str(home.inbox_dir or "")}
    config = {**run_config, "resources": {"data_home": {"config": location}}}
    try:
        with (
            _one_command_line_run(home.ensure()),
            dg.DagsterInstance.from_config(str(home.dagster_home)) as instance,
        ):
            _release_dead_runs(instance)
            if writing := instance.event_log_storage.get_concurrency_run_ids():
                # a run of the UI or a sensor writes the warehouse: this one's steps wait for it
                print(
                    f"waiting: run {', '.join(sorted(writing))} is writing the warehouse (see make dev)",
                    flush=True,
                )
            tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), **REPOSITORY_TAG}
            run_id = str(uuid.uuid4())
            dbt_nodes = len(warehouse_dbt_assets.keys) + len(warehouse_dbt_assets.check_keys)
            progress = Progress(instance, run_id, dbt_nodes)
            progress.start()
            try:
                with _runs_with_origin(instance, job_name):
                    result = defs.resolve_job_def(job_name).execute_in_process(
                        instance=instance, raise_on_error=False, tags=tags, run_config=config,
                        run_id=run_id, **kwargs,
                    )  # fmt: skip
            finally:
                progress.stop()
            return _result(result, _warnings(instance, result.run_id))
    except Exception as error:  # the run could not even be recorded (e.g. a full disk)
        line = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        if is_disk_full(error):
            line = f"the disk of {home.root} is full ({free_bytes(home.root) >> 20} MB free): {line}"
        return PipelineResult(False, "-", 0, ("run",), problems=(_shortened(line),))


def one_line(text: str) -> str:
    """The first line of a message, without the module path of its exception, and without the
    exception's name where it only says the step failed (dg.Failure, our StorageError)."""
    first = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
    first = re.sub(r"^[\w.]+\.(\w+): ", r"\1: ", first)
    return _shortened(re.sub(r"^(Failure|StorageError): ", "", first))


def _shortened(line: str) -> str:
    """At most MAX_PROBLEM_LINE characters, cut after a word (a line cut mid-word read as garbled)."""
    if len(line) <= MAX_PROBLEM_LINE:
        return line
    return line[: MAX_PROBLEM_LINE - 2].rsplit(" ", 1)[0] + " …"


def innermost_cause(error) -> str:
    """What went wrong, in one line: Dagster wraps an asset's exception ("Error occurred while
    executing op ..."); the operator needs the innermost cause."""
    while error.cause is not None and error.cls_name.startswith("DagsterExecution"):
        error = error.cause
    return one_line(error.message)


def _warnings(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    """The run's warnings as the operator should read them: one line each."""
    try:
        entries = instance.all_logs(run_id)
    except Exception:  # the event log itself failed (a full disk): the failure says enough
        return ()
    return tuple(
        f"warning: {entry.step_key + ': ' if entry.step_key else ''}{one_line(entry.user_message)}"
        for entry in entries
        if entry.dagster_event is None
        and entry.level == logging.WARNING
        # a run that found nothing new skips the build, whose dbt tests then gate nothing
        and not entry.user_message.startswith("Blocking asset check ")
    )


RUN_LOCK = ".run.lock"  # in the data home: held by the command-line run working on it


@contextmanager
def _one_command_line_run(home: DataHome) -> Iterator[None]:
    """One command-line run per data home at a time, by a lock the kernel frees when its process
    ends however it ends. Two runs, one killed hard while the other waited for its slot of the
    warehouse pool, left the other polling forever at a full core (an operator's review); two
    started together took turns step by step. A second run waits here, saying for whom, and starts
    when the first has ended (the dead one's slots are then freed, _release_dead_runs)."""
    import fcntl

    with open(home.root / RUN_LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            print(f"waiting: another teilhabe run (PID {holder}) works on this data home", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()
            fcntl.flock(lock, fcntl.LOCK_UN)


# A run of the UI whose worker's pid is not found here is taken for dead only when it has also been
# silent this long: its worker may live in another pid namespace (a container of the webserver and
# daemon sharing the data home), where a live run writes an event at least every few seconds.
SILENT_SECONDS = 300


def _process_of(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The process that runs a run on this machine: a command-line run's, from its tags; a run of
    the UI, a schedule or a sensor that has been silent for SILENT_SECONDS, from the worker that
    Dagster's default launcher started (it records its pid in the run's first engine event). None
    where the run works elsewhere (another host, another launcher), spoke lately, or its worker
    has not started yet: such a run is left alone."""
    if run.tags.get(PID_TAG):
        return int(run.tags[PID_TAG]) if run.tags.get(HOST_TAG) == socket.gethostname() else None
    from dagster._core.launcher import DefaultRunLauncher

    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return None
    newest = instance.get_records_for_run(run.run_id, ascending=False, limit=1).records
    if newest and time.time() - newest[0].event_log_entry.timestamp < SILENT_SECONDS:
        return None
    events = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20)
    for record in events.records:
        event = record.event_log_entry.dagster_event
        pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        if pid is not None and str(pid.value).isdigit():
            return int(pid.value)
    return None


def _release_dead_runs(instance: dg.DagsterInstance) -> None:
    """A run killed hard (SIGKILL, the OOM killer, a power cut) would keep its slot of the
    warehouse pool, and every later run would wait for it forever: mark it failed and free the
    slot, a command-line run's and a UI run's whose worker and code server both died (nothing
    else fails it: the daemon's run monitoring checks no worker's health under the default
    launcher; an operator's review: `teilhabe run` waited for a UI run killed hours before). So
    is a slot held, or waited for, by any run that has ended."""
    active = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    for record in instance.get_run_records(filters=active):
        run = record.dagster_run
        if (pid := _process_of(instance, run)) is None:
            continue
        try:
            os.kill(pid, 0)
        except PermissionError:  # the pid is another user's process now: alive, so left alone
            continue
        except ProcessLookupError:
            instance.report_run_failed(
                run, "the process running it is gone (killed); its warehouse slot was freed"
            )
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    storage = instance.event_log_storage
    holders = set(storage.get_concurrency_run_ids())
    holders |= {step.run_id for step in storage.get_concurrency_info(WAREHOUSE_POOL).pending_steps}
    for run_id in holders:
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)


@dataclass(frozen=True)
class PipelineResult:
    success: bool
    run_id: str
    materialized: int
    failed_steps: tuple[str, ...]
    ingest_summary: str = ""
    extracts_summary: str = ""
    problems: tuple[str, ...] = ()  # one line per failed step and per warning
    extracts_by_period: str = ""  # a line per period and outcome, naming the partners
    feedback_summary: str = ""
    checks_summary: str = ""  # the files of the inbox's check folder answered
    # checks of severity ERROR that failed while every step succeeded (a partner Great Expectations
    # blocked): the run did its work, but not all of it may leave; the command line exits 1
    failed_checks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks

    def summary(self) -> str:
        status = "succeeded" if self.success else f"FAILED in {', '.join(self.failed_steps)}"
        lines = [f"pipeline run {self.run_id} {status}: {self.materialized} assets materialized"]
        if self.ingest_summary:
            lines.append(f"ingest: {self.ingest_summary}")
        if self.extracts_summary:
            lines.append(f"extracts: {self.extracts_summary}")
            lines += [f"  {line}" for line in self.extracts_by_period.splitlines()]
        elif self.success and self.feedback_summary:
            lines.append(
                "extracts: none published: no file of this run changed a figure (warehouse and analysts' copy as they were)"
            )
        if self.feedback_summary:
            lines.append(f"Rückmeldungen: {self.feedback_summary}")
        if self.checks_summary:
            lines.append(f"Prüfberichte: {self.checks_summary}")
        if self.failed_checks:
            lines.append(f"failed checks: {', '.join(self.failed_checks)} (see the warnings below)")
        return "\n".join([*lines, *self.problems])


def run_pipeline(home: DataHome, inbox: Path) -> PipelineResult:
    """The pipeline job on a data home, taking the deliveries of ``inbox``."""
    return _execute(replace(home, inbox_dir=inbox), "pipeline", run_config=QUIET)


def run_publish(
    home: DataHome, partners: list[str], period: str, without_waiting: bool = False
) -> PipelineResult:
    """Re-issue one period for some partners (or all of the period's kind), as the UI would."""
    from orchestration.defs.partitions import ASSET_NAMES
    from publish.periods import partition_of_period

    kind, key = partition_of_period(period)
    op = f"outbox__periods__{ASSET_NAMES[kind]}"
    config = {**QUIET, "ops": {op: {"config": {"partners": partners, "without_waiting": without_waiting}}}}
    return _execute(home, f"publish_{ASSET_NAMES[kind]}", run_config=config, partition_key=key)


def run_digest(home: DataHome) -> PipelineResult:
    """The operators' digest of overdue and late deliveries, as its daily schedule runs it."""
    return _execute(home, "operations_digest", run_config=QUIET)


def _result(result: dg.ExecuteInProcessResult, warnings: tuple[str, ...]) -> PipelineResult:
    def summary(name: str) -> str:
        """A step's summary line from its materialisation's metadata, or, where the step
        materialised nothing (a run that found nothing new, a period without data), from its
        check's: the operator hears of it either way."""
        found = []
        for event in result.all_events:
            if event.event_type_value == "ASSET_MATERIALIZATION":
                metadata = event.event_specific_data.materialization.metadata
            elif event.event_type_value == "ASSET_CHECK_EVALUATION":
                metadata = event.event_specific_data.metadata
            else:
                continue
            if name in metadata:
                found.append(metadata[name].value)
        return found[0] if found else ""

    materialized = sum(1 for event in result.all_events if event.event_type_value == "ASSET_MATERIALIZATION")
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    errors = tuple(
        f"failed: {event.step_key}: {innermost_cause(event.step_failure_data.error)}" for event in failures
    )
    failed_checks = tuple(
        dict.fromkeys(
            f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
            and not (evaluation := event.event_specific_data).passed
            and evaluation.severity == dg.AssetCheckSeverity.ERROR
        )
    )
    return PipelineResult(
        result.success,
        result.run_id,
        materialized,
        tuple(event.step_key or "?" for event in failures),
        summary("run_summary"),
        summary("extracts_summary"),
        errors + warnings,
        summary("extracts_by_period"),
        summary("feedback_summary"),
        summary("checks_summary"),
        failed_checks,
    )
