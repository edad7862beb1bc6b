"""The Dagster code location loads, with the dbt project's assets, and the dbt project parses."""

from __future__ import annotations

import dagster as dg


def test_definitions_load():
    from orchestration.definitions import defs

    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    # dbt models and seeds become assets keyed by <schema>/<name>: a snapshot of what exists so far.
    assert {"reference/nrw_kreise", "staging/stg_reference__kreise", "marts/dim_regions"} <= keys


def test_definitions_validate_like_the_cli():
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_dbt_assets_serialise_warehouse_writers():
    """Every asset that writes the DuckDB file shares the pool "warehouse" (one writer at a time)."""
    from orchestration.defs.warehouse import warehouse_dbt_assets

    assert warehouse_dbt_assets.op.pool == "warehouse"
