"""Resources: where the data home, the inbox and the warehouse are (from TEILHABE_HOME)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from teilhabe.settings import PRIVATE_UMASK, data_home, duckdb_memory_limit


class DataHome(dg.ConfigurableResource):
    """The data home (``TEILHABE_HOME``) and its drop folder (``TEILHABE_INBOX``, default ``<home>/inbox``)."""

    root: str
    inbox_dir: str = ""

    @property
    def inbox(self) -> Path:
        return Path(self.inbox_dir) if self.inbox_dir else Path(self.root) / "inbox"

    @property
    def archive(self) -> Path:
        return Path(self.root) / "archive"

    @property
    def warehouse(self) -> Path:
        return Path(self.root) / "warehouse.duckdb"

    @property
    def analysts_copy(self) -> Path:
        return Path(self.root) / "analysts" / "teilhabe.duckdb"

    @property
    def outbox(self) -> Path:
        return Path(self.root) / "outbox"

    @property
    def dbt_state(self) -> Path:
        """dbt's target folders and partial parse for the runs of this data home."""
        return Path(self.root) / "dbt"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        os.umask(PRIVATE_UMASK)  # a run started from the UI writes as privately as the CLI

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The one writing connection to the warehouse (callers are serialised by the pool)."""
        self.warehouse.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.warehouse), config={"memory_limit": duckdb_memory_limit()})
        try:
            yield con
        finally:
            con.close()


def data_home_resource() -> DataHome:
    home = data_home().ensure()
    return DataHome(root=str(home.root), inbox_dir=os.environ.get("TEILHABE_INBOX", ""))
