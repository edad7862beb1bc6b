"""The dbt project as Dagster sees it, with its manifest kept current.

Parsing costs a few seconds, so it happens only when a file of the dbt project changed since the
last manifest (or under ``dagster dev``), never on every load.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from teilhabe.settings import DBT_PROJECT_DIR, data_home

WAREHOUSE_ENV = "TEILHABE_WAREHOUSE"  # read by dbt_project/profiles.yml

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


def warehouse_env() -> None:
    """Point dbt at the warehouse of the current data home (unless told otherwise)."""
    os.environ.setdefault(WAREHOUSE_ENV, str(data_home().warehouse))


def _newest_source_mtime() -> float:
    patterns = ("*.sql", "*.yml", "*.csv")
    files = [
        path
        for pattern in patterns
        for path in DBT_PROJECT_DIR.rglob(pattern)
        if "target" not in path.parts and "logs" not in path.parts
    ]
    return max(path.stat().st_mtime for path in files)


def ensure_manifest() -> None:
    manifest = dbt_project.manifest_path
    if (
        dbt_project.preparer.using_dagster_dev()
        or not manifest.exists()
        or (manifest.stat().st_mtime < _newest_source_mtime())
    ):
        warehouse_env()
        dbt_project.preparer.prepare(dbt_project)


def dbt_resource() -> DbtCliResource:
    warehouse_env()
    # The dbt of this environment, also when the venv is not on PATH (e.g. `.venv/bin/dagster dev`).
    dbt_executable = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=dbt_project, dbt_executable=str(dbt_executable) if dbt_executable.exists() else "dbt"
    )
