"""Schedules: one per entry of partners.yaml (a template's partners share one), each re-issuing
the period that last ended."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import dagster as dg

from orchestration.defs.jobs import PUBLISH_JOBS
from orchestration.defs.partitions import ASSET_NAMES
from publish.partners import PARTNERS_FILE, Partner, load_partners
from publish.periods import previous_partition


def _schedule(partner: Partner) -> dg.ScheduleDefinition:
    kind, template = partner.period, partner.template_id
    stem = template.split("{")[0] if template else None
    partners = [stem + "*"] if stem else [partner.id]
    name = "extracts_" + (stem.rstrip("_") + "s" if stem else partner.id)
    op_name = "outbox__periods__" + ASSET_NAMES[kind]
    who = f"every {stem.rstrip('_').capitalize()}" if stem else partner.name

    @dg.schedule(
        name=name, cron_schedule=partner.schedule, job=PUBLISH_JOBS[kind], execution_timezone="Europe/Berlin",
        description=f"{who}: {kind}ly extract ({PARTNERS_FILE.name})",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )  # fmt: skip
    def partner_schedule(context: dg.ScheduleEvaluationContext):
        key = previous_partition(kind, context.scheduled_execution_time)
        config = {"ops": {op_name: {"config": {"partners": partners}}}}
        return dg.RunRequest(run_key=f"{name}:{key}", partition_key=key, run_config=config)

    return partner_schedule


def partner_schedules() -> list[dg.ScheduleDefinition]:
    """One schedule per partners.yaml entry. partners.yaml is read and checked when the code
    location loads: a wrong file is refused then, not at 6 a.m."""
    entries: dict[str, Partner] = {}
    for partner in load_partners():
        entries.setdefault(partner.template_id or partner.id, partner)
    return [_schedule(partner) for partner in entries.values()]
