"""Where everything lives. One data home (``TEILHABE_HOME``, default ``./data``) holds all state."""

from __future__ import annotations

import os
import stat
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
        os.umask(PRIVATE_UMASK)
        for folder in (self.root, self.inbox, self.outbox, self.archive):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.analysts_copy.parent.mkdir(mode=ANALYSTS_FOLDER_MODE, exist_ok=True)
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text(_DAGSTER_YAML)
        return self


# privacy.md §2: the data home is the pipeline's user's alone (folders 700, files 600; the archive's
# files 400); the analysts' copy is the one exception, for the analysts' group (750, 440).
PRIVATE_UMASK = 0o077
ARCHIVE_FILE_MODE = 0o400
ANALYSTS_FOLDER_MODE, ANALYSTS_FILE_MODE = 0o750, 0o440
ANALYSTS_GROUP_ENV = "TEILHABE_ANALYSTS_GROUP"


def _policy(home: DataHome, path: Path, is_dir: bool) -> int:
    """The loosest mode privacy.md allows for a path of the data home."""
    if home.analysts_copy.parent in (path.parent, path):
        return ANALYSTS_FOLDER_MODE if is_dir else ANALYSTS_FILE_MODE
    if not is_dir and home.archive in path.parents:
        return ARCHIVE_FILE_MODE
    return 0o700 if is_dir else 0o600


def tighten_modes(home: DataHome) -> list[str]:
    """Every file and folder of the data home (not the inbox: the senders' drop folder) with
    looser modes than privacy.md §2 allows, made private; returns what was found, for the run's
    report. Symbolic links (an extract's ``latest``) carry no mode of their own."""
    found = []
    for folder, directories, files in os.walk(home.root):
        current = Path(folder)
        if current == home.inbox:
            directories[:] = []
            continue
        directories[:] = [d for d in directories if current / d != home.inbox]
        for name, is_dir in [*((d, True) for d in directories), *((f, False) for f in files)]:
            path = current / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                continue
            mode = stat.S_IMODE(info.st_mode)
            extra = mode & ~_policy(home, path, is_dir)
            if not (home.archive in path.parents and not is_dir):
                extra &= 0o077  # the owner's own bits are the owner's business, but in the archive
            if extra:
                os.chmod(path, mode & ~extra)
                found.append(f"{path.relative_to(home.root)} (was {mode:o})")
    return found


def analysts_group() -> int | None:
    """The group id of the analysts who may read their copy (TEILHABE_ANALYSTS_GROUP), or None:
    the pipeline user's own group."""
    name = os.environ.get(ANALYSTS_GROUP_ENV)
    if not name:
        return None
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ValueError(f"{ANALYSTS_GROUP_ENV}: there is no group {name!r} on this machine") from None


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


KEEP_INBOX_ENV = "TEILHABE_KEEP_INBOX_FILES"


def keep_inbox_files() -> bool:
    """Processed files leave the inbox (privacy.md §2) unless the inbox must not be changed (a
    read-only share, the benchmark's inbox views): then the pipeline remembers them instead."""
    return os.environ.get(KEEP_INBOX_ENV, "").lower() in ("1", "true", "yes")


def data_home() -> DataHome:
    return DataHome(Path(os.environ.get("TEILHABE_HOME", "data")).resolve())


def quiet_telemetry() -> None:
    """Switch off the usage statistics of every tool we drive (no network here, and no need)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
