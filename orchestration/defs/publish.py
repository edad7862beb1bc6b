"""Publishing: partner extracts as Dagster assets, each with a Great Expectations check.

- ``outbox/extracts`` runs in every pipeline run after the build: each partner's latest complete
  period (a new version only where the figures changed).
- ``outbox/periods/{monthly,quarterly,yearly}`` are partitioned by period: the schedules of
  partners.yaml (one per entry) and re-issues of a past period (UI, ``teilhabe publish``) use them.
A failed validation blocks that partner's delivery (the previous one stays in place) and shows as
a failed ``gx_validation`` check; the other partners are delivered.
"""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

from datetime import datetime, timedelta

import dagster as dg
import yaml

from orchestration.defs.warehouse import KPI_ASSETS
from orchestration.resources import DataHome
from teilhabe.publish.extracts import FIRST_PERIOD, period_kind
from teilhabe.publish.partners import PARTNERS_FILE, load_partners

PERIOD_PARTITIONS = {
    "month": dg.MonthlyPartitionsDefinition(start_date=f"{FIRST_PERIOD}-01", fmt="%Y-%m"),
    # Keys are the quarter's first month (2024-07 = 2024-Q3): Dagster's time windows name periods by their start.
    "quarter": dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1,4,7,10 *", start=f"{FIRST_PERIOD}-01", fmt="%Y-%m"),
    "year": dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", start=FIRST_PERIOD, fmt="%Y"),
}  # fmt: skip
ASSET_NAMES = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}


def period_of_partition(kind: str, key: str) -> str:
    """A partition key as the period a delivery names (2024-07 of the quarters → 2024-Q3)."""
    return f"{key[:4]}-Q{(int(key[5:7]) - 1) // 3 + 1}" if kind == "quarter" else key


def partition_of_period(period: str) -> tuple[str, str]:
    kind = period_kind(period)
    if kind == "quarter":
        return kind, f"{period[:4]}-{(int(period[6]) - 1) * 3 + 1:02d}"
    return kind, period


class PublishConfig(dg.Config):
    partners: list[str] = []  # noqa: RUF012 (pydantic copies defaults) ids; jobcenter_* matches a template; empty: all


def _publish(context, data_home: DataHome, partners: list[str], kind: str | None, period: str | None):
    from teilhabe.publish.deliver import partners_in_warehouse, publish

    with data_home.connect() as con:
        known = [p.id for p in partners_in_warehouse(con)]
        chosen = [
            i for i in known if any(i == p or (p.endswith("*") and i.startswith(p[:-1])) for p in partners)
        ]
        if partners and not chosen:
            raise dg.Failure(f"no partner matches {', '.join(partners)} (see {PARTNERS_FILE.name})")
        try:
            outcomes = publish(con, data_home.outbox, chosen or None, kind, period)
        except ValueError as problem:
            raise dg.Failure(str(problem)) from None
    for outcome in outcomes:
        log = context.log.warning if outcome.status == "blocked" else context.log.info
        log(f"{outcome.partner} {outcome.period}: {outcome.status} {outcome.version or ''} {outcome.message}")
    blocked = [o for o in outcomes if o.status == "blocked"]
    counts = {
        s: sum(o.status == s for o in outcomes)
        for s in ("delivered", "unchanged", "completed", "blocked", "waiting", "no_data")
    }
    table = "| partner | period | status | version | message |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {o.partner} | {o.period} | {o.status} | {o.version or ''} | {o.message} |" for o in outcomes
    )
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n) or "no partners"
    yield dg.MaterializeResult(
        metadata={**counts, "extracts_summary": summary, "outbox": str(data_home.outbox),
                  "deliveries": dg.MetadataValue.md(table)}
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="gx_validation",
        passed=not blocked,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"blocked": ", ".join(f"{o.partner} {o.period}" for o in blocked) or "none",
                  "findings": dg.MetadataValue.md("\n".join(f"- {o.partner}: {o.message}" for o in blocked) or "none")},
    )  # fmt: skip


def _check(key: list[str]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "gx_validation",
            asset=key,
            description="Great Expectations suite per extract: columns and types, rates 0-100, no count of 1 or 2, "
            "only the partner's scope, only the requested period. A failure blocks that delivery.",
        )
    ]


@dg.asset(
    key=["outbox", "extracts"], deps=KPI_ASSETS, group_name="publish", kinds={"csv", "xlsx", "parquet"},
    pool="warehouse", check_specs=_check(["outbox", "extracts"]),
    description="Every partner's extract for its latest complete period (new version only where figures changed)",
)  # fmt: skip
def latest_extracts(context: dg.AssetExecutionContext, data_home: DataHome):
    yield from _publish(context, data_home, [], None, None)


def _period_asset(kind: str) -> dg.AssetsDefinition:
    key = ["outbox", "periods", ASSET_NAMES[kind]]

    @dg.asset(
        key=key, deps=KPI_ASSETS, group_name="publish", partitions_def=PERIOD_PARTITIONS[kind],
        kinds={"csv", "xlsx", "parquet"}, pool="warehouse", check_specs=_check(key),
        description=f"Extracts of the partners with {kind}ly periods, for one period (schedules, re-issues)",
    )  # fmt: skip
    def period_extracts(context: dg.AssetExecutionContext, config: PublishConfig, data_home: DataHome):
        period = period_of_partition(kind, context.partition_key)
        yield from _publish(context, data_home, config.partners, kind, period)

    return period_extracts


PERIOD_ASSETS = {kind: _period_asset(kind) for kind in PERIOD_PARTITIONS}
PUBLISH_JOBS = {
    kind: dg.define_asset_job(f"publish_{ASSET_NAMES[kind]}", selection=[asset])
    for kind, asset in PERIOD_ASSETS.items()
}  # fmt: skip


def previous_partition(kind: str, moment: datetime) -> str:
    """The partition key of the last period that ended before the scheduled moment."""
    if kind == "year":
        return str(moment.year - 1)
    start = (
        moment.replace(day=1)
        if kind == "month"
        else moment.replace(day=1, month=(moment.month - 1) // 3 * 3 + 1)
    )
    last = start - timedelta(days=1)
    return f"{last.year}-{last.month if kind == 'month' else (last.month - 1) // 3 * 3 + 1:02d}"


def _schedule(entry: dict) -> dg.ScheduleDefinition:
    kind, ident = entry["period"], entry["id"]
    partners = [ident.split("{")[0] + "*"] if "{" in ident else [ident]
    name = "extracts_" + (ident.split("{")[0].rstrip("_") + "s" if "{" in ident else ident)
    asset = PERIOD_ASSETS[kind]

    @dg.schedule(
        name=name, cron_schedule=entry["schedule"], job=PUBLISH_JOBS[kind], execution_timezone="Europe/Berlin",
        description=f"{entry['name']}: {kind}ly extract ({PARTNERS_FILE.name})",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )  # fmt: skip
    def partner_schedule(context: dg.ScheduleEvaluationContext):
        key = previous_partition(kind, context.scheduled_execution_time)
        config = {"ops": {asset.op.name: {"config": {"partners": partners}}}}
        return dg.RunRequest(run_key=f"{name}:{key}", partition_key=key, run_config=config)

    return partner_schedule


load_partners()  # refuse a wrong partners.yaml when the code location loads, not at 6 a.m.
SCHEDULES = [_schedule(e) for e in yaml.safe_load(PARTNERS_FILE.read_text("utf-8"))["partners"]]

defs = dg.Definitions(
    assets=[latest_extracts, *PERIOD_ASSETS.values()], jobs=list(PUBLISH_JOBS.values()), schedules=SCHEDULES
)
