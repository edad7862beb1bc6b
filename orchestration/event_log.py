"""Dagster's SQLite event log, kept in the same files, written at a fraction of the cost.

The stock ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every event it stores (so
its compiled statements are never reused) opens, commits (waiting for the disk) and closes a
connection for each: 6-15 ms an event, more for an asset event (written to the run's file and to
the index). A new month at NRW scale writes ~900 events (planned assets and checks, dbt's outputs
and test results). Here each database file keeps one engine with one open connection, and SQLite
runs in its recommended mode for WAL (``synchronous=NORMAL``): a commit no longer waits for the disk; a crash of the process loses
nothing, a power cut at most the last events, never the database's consistency.

The data home's ``dagster.yaml`` names this class (teilhabe/settings.py), so ``dagster dev`` reads
and writes the same files the same way.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import QueuePool

ENGINES_KEPT = 32  # the index and the latest runs' files; a long-lived UI process keeps no more


def _without_waiting_for_the_disk(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class QuickSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one engine and one open connection per database file (used
    under the storage's lock, so by one thread at a time) and ``synchronous=NORMAL``."""

    def __init__(self, base_dir: str, inst_data=None):
        from teilhabe.settings import PRIVATE_UMASK

        # The data home is its user's alone (privacy.md §2). Every Dagster process of it (the UI,
        # the daemon, each run's worker, also a `dagster dev` started by hand) makes this storage
        # before it writes a file: from here on its files are private. Before, the UI's run logs
        # were created readable by others, and every run of the UI warned that it had closed them.
        os.umask(PRIVATE_UMASK)
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod  # the stock one makes a SqliteEventLogStorage whatever the class
    def from_config_value(cls, inst_data, config_value) -> QuickSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = db.create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            db.event.listen(engine, "connect", _without_waiting_for_the_disk)
            self._engines[shard] = engine
            while len(self._engines) > ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
        self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()
