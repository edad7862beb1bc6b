"""The warehouse: every dbt seed, model and test as Dagster assets and asset checks."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt import WAREHOUSE_ENV, dbt_project, ensure_manifest
from orchestration.resources import DataHome

ensure_manifest()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool="warehouse")
def warehouse_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, data_home: DataHome):
    """``dbt build`` of the selected models: models, seeds and their tests in one invocation."""
    os.environ[WAREHOUSE_ENV] = str(data_home.warehouse)  # dbt writes the warehouse of this data home
    yield from dbt.cli(["build"], context=context).stream()


defs = dg.Definitions(assets=[warehouse_dbt_assets])
