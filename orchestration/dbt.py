"""The dbt project as Dagster sees it, with its manifest kept current.

Parsing costs a few seconds, so it happens only when a file of the dbt project changed since the
last manifest (or under ``dagster dev``), never on every load.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from teilhabe.settings import DBT_PROJECT_DIR, DUCKDB_MEMORY_ENV, data_home, duckdb_memory_limit

WAREHOUSE_ENV = "TEILHABE_WAREHOUSE"  # read by dbt_project/profiles.yml

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


def warehouse_env() -> None:
    """Point dbt at the warehouse of the current data home (unless told otherwise), and make this
    environment's dbt the one on PATH (also when the venv is not activated, e.g. `.venv/bin/dagster`)."""
    os.environ.setdefault(WAREHOUSE_ENV, str(data_home().warehouse))
    os.environ.setdefault(DUCKDB_MEMORY_ENV, duckdb_memory_limit())
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")


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


class WarehouseDbt(DbtCliResource):
    """``dbt build`` as the pipeline runs it, without two fixed costs dagster-dbt pays before every
    invocation (measured ~4 s of a 5-year increment's 30 s; pinned dagster-dbt 0.29):

    - ``dbt --version`` in a second process to learn the version: it is this environment's dbt;
    - an in-process dbt adapter, used only to fetch row counts and column metadata, which these
      assets do not ask for.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    warehouse_env()
    return WarehouseDbt(project_dir=dbt_project)
