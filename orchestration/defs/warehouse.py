"""The warehouse: every dbt seed, model and test as Dagster assets and asset checks."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import os
import shutil
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt import WAREHOUSE_ENV, dbt_project, ensure_manifest
from orchestration.resources import DataHome
from teilhabe.publish.analysts_copy import SCHEMAS, publish_analysts_copy

ensure_manifest()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool="warehouse")
def warehouse_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, data_home: DataHome):
    """``dbt build`` of the selected models: models, seeds and their tests in one invocation."""
    os.environ[WAREHOUSE_ENV] = str(data_home.warehouse)  # dbt writes the warehouse of this data home
    invocation = dbt.cli(["build"], context=context)
    yield from invocation.stream()
    _keep_partial_parse(invocation.target_path)
    _prune_run_targets(invocation.target_path, KEEP_RUN_TARGETS)


KEEP_RUN_TARGETS = 5


def _keep_partial_parse(run_target: Path) -> None:
    """dagster-dbt starts each invocation from the project's partial_parse.msgpack; dbt re-parses
    the whole project (~3 s) when it was written for another profile (another warehouse path or
    memory limit). Keep the one this run wrote, so the next run of this data home parses partially."""
    written = run_target / "partial_parse.msgpack"
    if written.exists():
        shared = dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"
        temporary = shared.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(written, temporary)
        os.replace(temporary, shared)


def _prune_run_targets(current: Path, keep: int) -> None:
    """Each invocation gets its own dbt target folder (~8 MB: compiled SQL, run results, logs); keep
    the newest few for debugging instead of one more per nightly run forever."""
    runs = sorted(current.parent.glob("warehouse_dbt_assets-*"), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)


ANALYSTS_INPUTS = [key for key in warehouse_dbt_assets.keys if key.path[0] in SCHEMAS]
KPI_ASSETS = [key for key in warehouse_dbt_assets.keys if key.path[0] == "kpi"]


@dg.asset(
    key=["analysts", "teilhabe_duckdb"],
    deps=ANALYSTS_INPUTS,
    group_name="publish",
    kinds={"duckdb"},
    pool="warehouse",
    description="The analysts' read-only copy: marts and KPI tables, replaced atomically after each build",
)
def analysts_copy(context: dg.AssetExecutionContext, data_home: DataHome) -> dg.MaterializeResult:
    target = data_home.analysts_copy
    rows = publish_analysts_copy(data_home.warehouse, target)
    context.log.info(f"analysts' copy at {target}: {len(rows)} tables")
    return dg.MaterializeResult(
        metadata={"path": str(target), "tables": len(rows), "rows": sum(rows.values())}
    )


defs = dg.Definitions(assets=[warehouse_dbt_assets, analysts_copy])
