"""The warehouse: every dbt seed, model and test as Dagster assets and asset checks."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt import dbt_project, ensure_manifest

ensure_manifest()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool="warehouse")
def warehouse_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build`` of the selected models: models, seeds and their tests in one invocation."""
    yield from dbt.cli(["build"], context=context).stream()


defs = dg.Definitions(assets=[warehouse_dbt_assets])
