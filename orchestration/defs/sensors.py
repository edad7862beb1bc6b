"""Sensors: the inbox watched, the pipeline started when deliveries have arrived."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import hashlib
import time

import dagster as dg

from ingest.inbox import scan_inbox
from orchestration.defs.jobs import pipeline_job
from orchestration.defs.resources import DataHomeResource


@dg.sensor(job=pipeline_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def inbox_sensor(context: dg.SensorEvaluationContext, data_home: DataHomeResource):
    """Starts the pipeline when the inbox changed and has been quiet for a minute (no half-uploaded
    files; `.part` uploads are ignored). The cursor is the inbox's signature of names, sizes and
    times (the change time too: a correction that keeps the modification time is a change)."""
    inbox = data_home.home.inbox
    if not inbox.is_dir():
        return dg.SkipReason(f"no inbox at {inbox}")
    scan = scan_inbox(inbox)
    entries = sorted((f.name, f.size, f.mtime_ns, f.ctime_ns) for f in scan.files)
    if not entries:
        return dg.SkipReason("the inbox is empty")
    newest = max(mtime for _, _, mtime, _ in entries) / 1e9  # an upload writing now has mtime now
    if time.time() - newest < 60:
        return dg.SkipReason("files are still arriving")
    signature = hashlib.sha256(repr(entries).encode()).hexdigest()[:32]
    if signature == context.cursor:
        return dg.SkipReason("no new deliveries")
    context.update_cursor(signature)
    return dg.RunRequest(run_key=signature, tags={"trigger": "inbox_sensor", "files": str(len(entries))})
