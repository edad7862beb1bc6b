"""Publishing: partner extracts as Dagster assets, each with a Great Expectations check.

- ``outbox/extracts`` runs in every pipeline run after the build: each partner's latest complete
  period (a new version only where the figures changed).
- ``outbox/periods/{monthly,quarterly,yearly}`` are partitioned by period: the schedules of
  partners.yaml (one per entry) and re-issues of a past period (UI, ``teilhabe publish``) use them.
  A period delivered by the pipeline shows as that partition materialised; a period without data
  is not materialised.
- ``analysts/teilhabe_duckdb``: the analysts' read-only copy.
A failed validation blocks that partner's delivery (the previous one stays in place) and shows as
a failed ``gx_validation`` check; the other partners are delivered.
"""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import dagster as dg

from orchestration.dbt import dbt_project
from orchestration.defs.assets.warehouse import ANALYSTS_INPUTS, KPI_ASSETS
from orchestration.defs.partitions import ASSET_NAMES, PERIOD_PARTITIONS
from orchestration.defs.resources import DataHomeResource, step_fails_on
from publish.analysts_copy import publish_analysts_copy, record_disclosure_metrics
from publish.partners import PARTNERS_FILE
from publish.periods import partition_of_period, period_of_partition
from teilhabe.disk import StorageError, require_free_space
from teilhabe.settings import WAREHOUSE_POOL


class PublishConfig(dg.Config):
    partners: list[str] = []  # noqa: RUF012 (pydantic copies defaults) ids; jobcenter_* matches a template; empty: all
    # A yearly report before its Landschaftsverband's Leistungsdokumentation arrived (K12 then says
    # it is missing); schedules and re-issues otherwise wait for it.
    without_waiting: bool = False


IN_PARTNERS_HANDS = ("delivered", "unchanged", "completed")  # the partner holds this period's extract


def _publish(
    context,
    data_home: DataHomeResource,
    partners: list[str],
    kind: str | None,
    period: str | None,
    wait_for_inputs: bool = True,
):
    from publish.step import partners_in_warehouse, publish

    settings = data_home.settings()
    outbox = settings.home.outbox
    with data_home.connect() as con:
        known = [p.id for p in partners_in_warehouse(con)]
        chosen = [
            i for i in known if any(i == p or (p.endswith("*") and i.startswith(p[:-1])) for p in partners)
        ]
        if partners and not chosen:
            raise dg.Failure(f"no partner matches {', '.join(partners)} (see {PARTNERS_FILE.name})")
        with step_fails_on(ValueError, StorageError):  # a full disk: the extract, its path, the free space
            outcomes = publish(
                con, outbox, chosen or None, kind, period, file_delay=settings.publish_file_delay,
                wait_for_inputs=wait_for_inputs,
            )  # fmt: skip
    for outcome in outcomes:
        log = context.log.warning if outcome.status in ("blocked", "failed") else context.log.info
        log(f"{outcome.partner} {outcome.period}: {outcome.status} {outcome.version or ''} {outcome.message}")
    if kind is not None and not any(o.status in (*IN_PARTNERS_HANDS, "blocked", "failed") for o in outcomes):
        # Nothing of this period exists or was attempted: the partition stays unmaterialised.
        reasons = "; ".join(f"{o.partner}: {o.message}" for o in outcomes) or "no partner of this kind"
        context.log.info(f"nothing published for {period}: {reasons}")
        yield dg.AssetCheckResult(
            check_name="gx_validation",
            passed=True,
            metadata={
                "nothing_to_validate": reasons,
                "extracts_summary": f"nothing published for {period}: {reasons}",
            },
        )
        return
    if kind is None:
        yield from _period_partitions_delivered(outcomes)
    blocked = [o for o in outcomes if o.status == "blocked"]
    counts = {
        s: sum(o.status == s for o in outcomes)
        for s in ("delivered", "unchanged", "completed", "blocked", "failed", "waiting", "no_data")
    }
    table = "| partner | period | status | version | message |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {o.partner} | {o.period} | {o.status} | {o.version or ''} | {o.message} |" for o in outcomes
    )
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n) or "no partners"
    groups: dict[tuple[str, str], list[str]] = {}
    for o in outcomes:
        if o.status != "no_data":
            groups.setdefault((o.period, o.status), []).append(o.partner)
    by_period = "\n".join(
        f"{period} {status}: {', '.join(ids)}" for (period, status), ids in sorted(groups.items())
    )
    yield dg.MaterializeResult(
        metadata={**counts, "extracts_summary": summary, "extracts_by_period": by_period, "outbox": str(outbox),
                  "deliveries": dg.MetadataValue.md(table)}
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="gx_validation",
        passed=not blocked,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"blocked": ", ".join(f"{o.partner} {o.period}" for o in blocked) or "none",
                  "findings": dg.MetadataValue.md("\n".join(f"- {o.partner}: {o.message}" for o in blocked) or "none")},
    )  # fmt: skip
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:  # the others are delivered; the run fails, and the next one delivers them
        raise dg.Failure("; ".join(f"{o.partner} {o.period} {o.message}" for o in failed))


def _period_partitions_delivered(outcomes):
    """The pipeline's deliveries as materialisations of their period partitions, so the UI shows
    what each period holds whether it came from the pipeline or from a re-issue."""
    delivered = sorted({o.period for o in outcomes if o.status in ("delivered", "completed")})
    for period in delivered:
        kind, key = partition_of_period(period)
        partners = sorted(o.partner for o in outcomes if o.period == period and o.status in IN_PARTNERS_HANDS)
        yield dg.AssetMaterialization(
            asset_key=["outbox", "periods", ASSET_NAMES[kind]],
            partition=key,
            description="delivered by the pipeline run",
            metadata={"partners": ", ".join(partners)},
        )


def _check(key: list[str]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "gx_validation",
            asset=key,
            description="Great Expectations suite per extract: only documented columns, numbers where figures are, "
            "rates 0-100, no count of 1 or 2, only the partner's scope, only the requested period. A failure "
            "blocks that delivery.",
        )
    ]


@dg.asset(
    key=["outbox", "extracts"], deps=KPI_ASSETS, group_name="publish", kinds={"csv", "xlsx", "parquet"},
    pool=WAREHOUSE_POOL, check_specs=_check(["outbox", "extracts"]),
    description="Every partner's extract for its latest complete period (new version only where figures changed)",
)  # fmt: skip
def latest_extracts(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    yield from _publish(context, data_home, [], None, None)


def _period_asset(kind: str) -> dg.AssetsDefinition:
    key = ["outbox", "periods", ASSET_NAMES[kind]]

    @dg.asset(
        key=key, deps=KPI_ASSETS, group_name="publish", partitions_def=PERIOD_PARTITIONS[kind],
        kinds={"csv", "xlsx", "parquet"}, pool=WAREHOUSE_POOL, check_specs=_check(key), output_required=False,
        description=f"Extracts of the partners with {kind}ly periods, for one period (schedules, re-issues)",
    )  # fmt: skip
    def period_extracts(
        context: dg.AssetExecutionContext, config: PublishConfig, data_home: DataHomeResource
    ):
        period = period_of_partition(kind, context.partition_key)
        yield from _publish(context, data_home, config.partners, kind, period, not config.without_waiting)

    return period_extracts


PERIOD_ASSETS = {kind: _period_asset(kind) for kind in PERIOD_PARTITIONS}


@dg.asset(
    key=["analysts", "teilhabe_duckdb"],
    deps=ANALYSTS_INPUTS,
    group_name="publish",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="The analysts' read-only copy: marts and KPI tables, replaced atomically after each build",
)
def analysts_copy(context: dg.AssetExecutionContext, data_home: DataHomeResource) -> dg.MaterializeResult:
    settings = data_home.settings()
    warehouse, target = settings.home.warehouse, settings.home.analysts_copy
    with step_fails_on(StorageError):
        require_free_space(
            target, "the analysts' copy", need=warehouse.stat().st_size, keep_free=settings.min_free_bytes
        )
        copied = publish_analysts_copy(
            warehouse, target, dbt_project.manifest_path, settings.analysts_group, run_id=context.run.run_id
        )
        metrics = record_disclosure_metrics(warehouse, target)
    unique = ", ".join(f"{table} {share:.1%}" for table, _, _, _, share in metrics if share is not None)
    context.log.info(
        f"analysts' copy at {target}: {len(copied.rows)} tables, {copied.written:,} of "
        f"{sum(copied.rows.values()):,} rows written (the others kept from the previous copy); "
        f"rows unique on their quasi-identifiers: {unique}"
    )
    return dg.MaterializeResult(
        metadata={
            "path": str(target),
            "tables": len(copied.rows),
            "rows": sum(copied.rows.values()),
            "rows written": copied.written,
            **{
                f"unique share {table}": dg.MetadataValue.float(share)
                for table, _, _, _, share in metrics
                if share is not None
            },
        }
    )
