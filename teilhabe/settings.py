"""Where everything lives. One data home (``TEILHABE_HOME``, default ``./data``) holds all state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

# Dagster instance settings: telemetry off, and one writer at a time for the warehouse file
# (DuckDB allows one writing process; every asset touching it joins the pool "warehouse").
_DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


@dataclass(frozen=True)
class DataHome:
    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def analysts_copy(self) -> Path:
        return self.root / "analysts" / "teilhabe.duckdb"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.root / "dagster")

    def ensure(self) -> DataHome:
        for folder in (self.root, self.inbox, self.outbox, self.analysts_copy.parent):
            folder.mkdir(parents=True, exist_ok=True)
        # The archive holds plaintext deliveries: owner only (privacy.md section 2).
        self.archive.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.archive, 0o700)
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text(_DAGSTER_YAML)
        return self


DUCKDB_MEMORY_ENV = "TEILHABE_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY = "1536MB"  # per DuckDB process; spills to disk beyond it


def duckdb_memory_limit() -> str:
    """DuckDB would take 80 % of the machine by default; the pipeline shares it with Python."""
    return os.environ.get(DUCKDB_MEMORY_ENV, DEFAULT_DUCKDB_MEMORY)


@dataclass(frozen=True)
class Limits:
    """What one delivery may cost, so that no file can exhaust or hang a run."""

    max_file_bytes: int = 64 << 20  # the largest export at NRW scale is about 1 MB
    workbook_workers: int = 2
    workbook_memory_bytes: int = 512 << 20  # address space of a workbook worker (a monthly workbook: ~20 MB)
    workbook_seconds: float = 60.0  # per workbook (a monthly workbook: ~0.01 s)

    @classmethod
    def from_environment(cls) -> Limits:
        """``TEILHABE_MAX_FILE_MB``, ``TEILHABE_WORKBOOK_MEMORY_MB``, ``TEILHABE_WORKBOOK_SECONDS``."""
        default = cls()
        return cls(
            max_file_bytes=int(os.environ.get("TEILHABE_MAX_FILE_MB", default.max_file_bytes >> 20)) << 20,
            workbook_memory_bytes=int(
                os.environ.get("TEILHABE_WORKBOOK_MEMORY_MB", default.workbook_memory_bytes >> 20)
            )
            << 20,
            workbook_seconds=float(os.environ.get("TEILHABE_WORKBOOK_SECONDS", default.workbook_seconds)),
        )


def data_home() -> DataHome:
    return DataHome(Path(os.environ.get("TEILHABE_HOME", "data")).resolve())


def quiet_telemetry() -> None:
    """Switch off the usage statistics of every tool we drive (no network here, and no need)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
