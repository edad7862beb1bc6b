"""Sensors: the inbox watched, the pipeline started when deliveries have arrived."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import hashlib
import time

import dagster as dg

from ingest.inbox import CHECK_FOLDER, check_folder, scan_inbox
from orchestration.defs.jobs import pipeline_job
from orchestration.defs.resources import DataHomeResource

RETRY_AFTER_SECONDS = 600
RETRIES = 3  # of a failed run for the same inbox; then the operator is needed (the run's log says why)
DESCRIPTION = (
    "Starts the pipeline when files in the inbox changed and have been quiet for a minute; starts it "
    f"again {RETRY_AFTER_SECONDS // 60} minutes after a run of the same files failed (at most {RETRIES} times)"
)


@dg.sensor(
    job=pipeline_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
    description=DESCRIPTION,
)  # fmt: skip
def inbox_sensor(context: dg.SensorEvaluationContext, data_home: DataHomeResource):
    """Starts the pipeline when the inbox changed and has been quiet for a minute (no half-uploaded
    files; `.part` uploads are ignored). The cursor is the inbox's signature of names, sizes and
    times (the change time too: a correction that keeps the modification time is a change). Files
    a failed run left in the inbox (the warehouse was open in another process, say) are tried
    again: before, the cursor said "no new deliveries" until another file came."""
    inbox = data_home.home.inbox
    if not inbox.is_dir():
        return dg.SkipReason(f"no inbox at {inbox}")
    scan = scan_inbox(inbox)
    entries = sorted((f.name, f.size, f.mtime_ns, f.ctime_ns) for f in scan.files)
    if folder := check_folder(inbox):  # files to check start a run too (publish/check_reports.py)
        checks = scan_inbox(folder).files
        entries += sorted((f"{CHECK_FOLDER}/{f.name}", f.size, f.mtime_ns, f.ctime_ns) for f in checks)
    if not entries:
        # A run that failed after its ingest took the files out of the inbox: its figures were
        # never built, and no new file would come to say so (an operator's review).
        last = context.instance.get_runs(filters=dg.RunsFilter(job_name=pipeline_job.name), limit=1)
        if last and last[0].tags.get("trigger") == "inbox_sensor" and last[0].tags.get("inbox"):
            return _again(context, last[0].tags["inbox"], dict(last[0].tags), "the inbox is empty")
        return dg.SkipReason("the inbox is empty")
    newest = max(mtime for _, _, mtime, _ in entries) / 1e9  # an upload writing now has mtime now
    if time.time() - newest < 60:
        return dg.SkipReason("files are still arriving")
    signature = hashlib.sha256(repr(entries).encode()).hexdigest()[:32]
    tags = {"trigger": "inbox_sensor", "files": str(len(entries)), "inbox": signature}
    if signature != context.cursor:
        context.update_cursor(signature)
        return dg.RunRequest(run_key=signature, tags=tags)
    return _again(context, signature, tags, "no new deliveries")


def _again(context: dg.SensorEvaluationContext, signature: str, tags: dict, otherwise: str):
    """The run of these files once more, some minutes after the last one failed, at most RETRIES
    times; else why not."""
    tags = {key: tags[key] for key in ("trigger", "files", "inbox") if key in tags}
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=pipeline_job.name, tags={"inbox": signature})
    )
    if not runs or runs[0].status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return dg.SkipReason(otherwise)
    if len(runs) > RETRIES:
        return dg.SkipReason(f"the last {RETRIES + 1} runs of these files failed: see run {runs[0].run_id}")
    ended = context.instance.get_run_record_by_id(runs[0].run_id).end_time or time.time()
    if time.time() - ended < RETRY_AFTER_SECONDS:
        return dg.SkipReason(
            f"run {runs[0].run_id} of these files failed: trying again {RETRY_AFTER_SECONDS // 60} minutes after it"
        )
    return dg.RunRequest(run_key=f"{signature}-{runs[0].run_id}", tags={**tags, "retry_of": runs[0].run_id})
