"""Resources: the data home every asset works in, and dbt; and what a step needs around the code it
calls: an operator's problem as one line, the code's own log records in the run's log."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
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


class _RunLog(logging.Handler):
    """Log records of code that knows nothing of Dagster into the run's log (the UI; a warning also
    in the console's summary) instead of on stderr. A record whose message holds one of ``quiet``
    is information whatever its level."""

    def __init__(self, log: dg.DagsterLogManager, quiet: tuple[str, ...]):
        super().__init__()
        self.log, self.quiet = log, quiet

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().removeprefix("WARNING:").split())
        if record.exc_info and record.exc_info[1] is not None:  # the cause, in one line, not the trace
            error = record.exc_info[1]
            message += f": {type(error).__name__}: {' '.join(str(error).split())[:300]}"
        if record.levelno >= logging.WARNING and not any(q in message for q in self.quiet):
            self.log.warning(message)
        else:
            self.log.info(message)


@contextmanager
def into_run_log(
    log: dg.DagsterLogManager, names: Iterable[str], quiet: tuple[str, ...] = ()
) -> Iterator[None]:
    """The loggers ``names`` (and their children) write into the run's log while the step calls
    their code."""
    handler = _RunLog(log, quiet)
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger, logger.handlers, logger.propagate) for logger in loggers]
    for logger in loggers:  # Splink adds a handler on stderr only where it finds none
        logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate


def resources(home: DataHome) -> dict[str, dg.ConfigurableResource]:
    data_home = DataHomeResource(root=str(home.root), inbox_dir=str(home.inbox_dir or ""))
    dbt = WarehouseDbt(project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt")))
    return {"data_home": data_home, "dbt": dbt}
