"""Resources: the data home every asset works in, and dbt."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.dbt import WarehouseDbt, dbt_project
from teilhabe.settings import PRIVATE_UMASK, DataHome, Settings


def warehouse_locked(error: str) -> str | None:
    """What DuckDB's lock error means for the operator (None: another error): the process and its
    PID only, not DuckDB's hint to open read-only (a reader blocks too)."""
    if "Could not set lock" not in error:
        return None
    holder = re.search(r"held in (.*?\(PID \d+\))", error)
    return (
        f"the warehouse is open in another process ({holder[1] if holder else 'unknown'}): a "
        "session on warehouse.duckdb, even a read-only one, keeps every run from writing it. Close "
        "it (analysts use the analysts' copy) and run again (the inbox sensor, where it is on, tries "
        "again a few minutes later)"
    )


class DataHomeResource(dg.ConfigurableResource):
    """The data home (``root``; the code location gives it TEILHABE_HOME) and the drop folder a run
    takes (``inbox_dir``; default ``<root>/inbox``; ``teilhabe run --inbox`` sets it per run). Every
    other setting is read from the environment when a run starts (teilhabe/settings.py)."""

    root: str
    inbox_dir: str = ""

    @property
    def home(self) -> DataHome:
        return DataHome(Path(self.root), Path(self.inbox_dir) if self.inbox_dir else None)

    def settings(self) -> Settings:
        return replace(Settings.from_environment(), home=self.home)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        os.umask(PRIVATE_UMASK)  # a run started from the UI writes as privately as the CLI
        self.home.ensure()

    @contextmanager
    def connect(self, memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The one writing connection to the warehouse (callers are serialised by the pool), under
        the settings' memory limit unless the caller needs less (``memory_limit``)."""
        warehouse = self.home.warehouse
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        limit = memory_limit or self.settings().duckdb_memory_limit
        try:
            con = duckdb.connect(str(warehouse), config={"memory_limit": limit})
        except duckdb.IOException as error:
            if (problem := warehouse_locked(str(error))) is None:
                raise
            raise dg.Failure(problem) from None
        try:
            yield con
        finally:
            con.close()


@contextmanager
def step_fails_on(*problems: type[Exception]) -> Iterator[None]:
    """An operator's problem (a bad configuration file, a full disk) fails the step with its own one
    line (what, where, how much is free) instead of a traceback."""
    try:
        yield
    except problems as problem:
        raise dg.Failure(str(problem)) from None


def resources(home: DataHome) -> dict[str, dg.ConfigurableResource]:
    data_home = DataHomeResource(root=str(home.root), inbox_dir=str(home.inbox_dir or ""))
    dbt = WarehouseDbt(project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt")))
    return {"data_home": data_home, "dbt": dbt}
