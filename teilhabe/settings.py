"""Where everything lives and every setting: one data home (``TEILHABE_HOME``, default ``./data``)
holds all state; ``Settings`` holds every ``TEILHABE_*`` setting, read here and nowhere else."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from teilhabe.disk import DEFAULT_MIN_FREE_BYTES

ARCHIVE_RETENTION_YEARS = 6  # privacy.md §2: enough to rebuild five years of history

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def code_version() -> str:
    """The checked-out commit (12 hex digits), for manifests and the run state."""
    head = REPO_ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (REPO_ROOT / ".git" / ref[5:]).read_text().strip()[:12]
        return ref[:12]
    except OSError:
        return "unknown"


# Dagster instance settings: telemetry off, one writer at a time for the warehouse file (DuckDB
# allows one writing process; every asset touching it joins the pool "warehouse"), and the event
# log in Dagster's files written without its per-event costs (orchestration/event_log.py). The
# file names its own folder: a data home that moved gets it written again.
DAGSTER_YAML_MARK = "# Written by Teilhabe Warehouse (teilhabe/settings.py); edit it and it is left as it is."
_DAGSTER_YAML_BEFORE = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""  # what data homes made before 2026-12-04 hold


# One writer of the warehouse at a time: every step that opens it is in the pool "warehouse"
# (default_limit 1), and a run of the UI, a sensor or a schedule that writes it waits in the queue
# while another runs (WAREHOUSE_RUN_TAG: two runs started together both built and published everything,
# the second finding nothing new). A run that ended without giving its slot back (killed: the OOM
# killer, a reboot) has it freed by the daemon's run monitoring after a minute; before, every
# later run waited for it forever.
WAREHOUSE_RUN_TAG = "teilhabe/warehouse"
WAREHOUSE_POOL = "warehouse"


def dagster_yaml(dagster_home: Path) -> str:
    events = json.dumps(str(dagster_home / "history" / "runs"))  # YAML reads a JSON string
    return f"""{DAGSTER_YAML_MARK}
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
  runs:
    tag_concurrency_limits:
      - key: {WAREHOUSE_RUN_TAG}
        limit: 1
run_monitoring:
  enabled: true
  max_resume_run_attempts: 0
  free_slots_after_run_end_seconds: 60
event_log_storage:
  module: orchestration.event_log
  class: QuickSqliteEventLogStorage
  config:
    base_dir: {events}
"""


@dataclass(frozen=True)
class DataHome:
    """Where one warehouse keeps everything: ``root`` (TEILHABE_HOME), its drop folder (``inbox``,
    default ``<root>/inbox``) and its Dagster instance (DAGSTER_HOME, default ``<root>/dagster``)."""

    root: Path
    inbox_dir: Path | None = None
    dagster_dir: Path | None = None

    @property
    def inbox(self) -> Path:
        return self.inbox_dir or self.root / "inbox"

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
    def linkage_decisions(self) -> Path:
        """The operator's accept/reject decisions on pairs of person records (linkage/decisions.py)."""
        return self.root / "linkage" / "decisions.csv"

    @property
    def operations_reports(self) -> Path:
        """The operators' digests of overdue and late deliveries (publish/expected.py)."""
        return self.root / "reports" / "operations"

    @property
    def dbt_state(self) -> Path:
        """dbt's target folders and partial parse for the runs of this data home."""
        return self.root / "dbt"

    @property
    def dagster_home(self) -> Path:
        return self.dagster_dir or self.root / "dagster"

    def ensure(self) -> DataHome:
        os.umask(PRIVATE_UMASK)
        for folder in (self.root, self.root / "inbox", self.outbox, self.archive):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.analysts_copy.parent.mkdir(mode=ANALYSTS_FOLDER_MODE, exist_ok=True)
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        written = self.dagster_home / "dagster.yaml"
        wanted = dagster_yaml(self.dagster_home.resolve())
        current = written.read_text("utf-8") if written.exists() else None
        if current != wanted and (
            current in (None, _DAGSTER_YAML_BEFORE) or current.startswith(DAGSTER_YAML_MARK)
        ):
            temporary = written.with_name(
                f".{written.name}.tmp"
            )  # a UI starting meanwhile reads a whole file
            temporary.write_text(wanted, "utf-8")
            os.replace(temporary, written)
        return self


# privacy.md §2: the data home is the pipeline's user's alone (folders 700, files 600; the archive's
# files 400); the analysts' copy is the one exception, for the analysts' group (750, 440). With an
# analysts' group, the home's own folder lets that group pass through to its folder and no further
# (710: no listing, and every other entry is the owner's alone); at 700 no analyst reached the copy.
PRIVATE_UMASK = 0o077
ARCHIVE_FILE_MODE = 0o400
ANALYSTS_FOLDER_MODE, ANALYSTS_FILE_MODE = 0o750, 0o440
HOME_FOLDER_MODE_FOR_ANALYSTS = 0o710


def tighten_modes(home: DataHome) -> list[str]:
    """Every file and folder of the data home (not the inbox: the senders' drop folder) with
    looser modes than privacy.md §2 allows, made private; returns what was found, for the run's
    report. Symbolic links (an extract's ``latest``) carry no mode of their own.

    Every run walks the whole home (at NRW scale ~70,000 entries, most in the archive), so the
    walk works on strings and each directory entry's own stat, not on Path objects."""
    root, inbox, analysts = str(home.root), str(home.inbox), str(home.analysts_copy.parent)
    archive = str(home.archive) + os.sep
    found, folders = _tighten_root(root), [root]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = entry.path
            if path == inbox:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            if is_dir:
                folders.append(path)
            in_archive = not is_dir and path.startswith(archive)
            if analysts in (folder, path):
                allowed = ANALYSTS_FOLDER_MODE if is_dir else ANALYSTS_FILE_MODE
            else:
                allowed = ARCHIVE_FILE_MODE if in_archive else 0o700 if is_dir else 0o600
            mode = stat.S_IMODE(info.st_mode)
            extra = mode & ~allowed
            if not in_archive:
                extra &= 0o077  # the owner's own bits are the owner's business, but in the archive
            if extra:
                os.chmod(path, mode & ~extra)
                found.append(f"{os.path.relpath(path, root)} (was {mode:o})")
    return sorted(found)


def _tighten_root(root: str) -> list[str]:
    """The home's own folder: its owner's, and an analysts' group may pass through (710). `make
    run` made it with `mkdir -p` at 755, which no run looked at: anyone could list it (an
    operator's review)."""
    try:
        mode = stat.S_IMODE(os.stat(root).st_mode)
    except OSError:
        return []
    extra = mode & ~HOME_FOLDER_MODE_FOR_ANALYSTS & 0o077
    if not extra:
        return []
    os.chmod(root, mode & ~extra)
    return [f". (was {mode:o})"]


def inbox_exposed(home: DataHome) -> str | None:
    """Why the inbox is open to every user of the machine, or None. It is the senders' drop folder,
    so the pipeline leaves its modes to whoever set up the upload, but the deliveries waiting there
    are plaintext (privacy.md §2; with TEILHABE_KEEP_INBOX_FILES they stay): an operator review
    found a 755 inbox never mentioned."""
    try:
        mode = stat.S_IMODE(home.inbox.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o007:
        return None
    return (
        f"inbox {home.inbox} is open to every user of this machine (mode {mode:o}) and its files are "
        "plaintext: allow only the pipeline's user and the senders' upload group (e.g. chmod 2770)"
    )


def tighten_and_say(home: DataHome) -> str | None:
    """tighten_modes, and what a run says about it and about an inbox open to others (None when
    everything was private already)."""
    said = []
    if loose := tighten_modes(home):
        shown = ", ".join(loose[:3]) + (", …" if len(loose) > 3 else "")
        said.append(f"data home: {len(loose)} entries could be read by others and were made private: {shown}")
    if exposed := inbox_exposed(home):
        said.append(exposed)
    return "; ".join(said) or None


def analysts_group_id(name: str | None) -> int | None:
    """The group id of the analysts who may read their copy, or None: the pipeline user's own group."""
    if not name:
        return None
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ValueError(f"TEILHABE_ANALYSTS_GROUP: there is no group {name!r} on this machine") from None


@dataclass(frozen=True)
class Limits:
    """What one delivery may cost, so that no file can exhaust or hang a run."""

    max_file_bytes: int = 64 << 20  # the largest export at NRW scale is about 1 MB
    # A file's data rows: the largest export has a few thousand (a Jobcenter's customers); 64 MB of
    # ";;;;" rows are 4 million, each failing a dozen rules, and their findings exhausted the memory.
    max_file_rows: int = 50_000
    # The files read together (a chunk of the ingest, a run's files of the check folder): their
    # frames and findings take ~11 times their bytes (12 files of 60 MB read together: 8.2 GB at
    # peak). A chunk of 1,750 NRW deliveries is ~40 MB. A file counts with the bytes read of it (at
    # most max_file_bytes); one larger than this bound (set below max_file_bytes) goes alone.
    max_batch_bytes: int = 128 << 20
    workbook_workers: int = 2
    workbook_memory_bytes: int = 512 << 20  # address space of a workbook worker (a monthly workbook: ~20 MB)
    workbook_seconds: float = 60.0  # per workbook (a monthly workbook: ~0.01 s)
    # A period the archive would no longer keep (Settings.archive_retention_years) is not taken.
    max_period_age_years: int = ARCHIVE_RETENTION_YEARS
    # A file larger than the free space beyond this (Settings.min_free_bytes) is left in the
    # inbox: archiving it would fill the disk and fail this run and every one after.
    keep_free_bytes: int = DEFAULT_MIN_FREE_BYTES

    def bytes_read(self, size: int) -> int:
        """What a file of ``size`` bytes counts towards ``max_batch_bytes``: a larger file than
        ``max_file_bytes`` is not read, only refused."""
        return min(size, self.max_file_bytes)


def default_key_file(environ: Mapping[str, str]) -> Path:
    """Outside the repository and the data home: the user's configuration folder."""
    base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "teilhabe" / "pseudonym.key"


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _megabytes(value: str | None, default: int) -> int:
    return int(value) << 20 if value else default


@dataclass(frozen=True)
class Settings:
    """Every ``TEILHABE_*`` setting, read in one place (``from_environment``) and passed on
    explicitly: readers, the load stage and publishing take what they need as arguments."""

    home: DataHome
    # Per DuckDB process (DuckDB would take 80 % of the machine). 768 MB keeps a 5-year NRW run
    # under 2 GiB in all (linkage and dbt ~200 MB less than at 1 GB) and is as fast (docs/performance.md).
    duckdb_memory_limit: str = "768MB"
    limits: Limits = Limits()
    # Processed files leave the inbox (privacy.md §2) unless the inbox must not be changed (a
    # read-only share, the benchmark's inbox views): then the pipeline remembers them instead.
    keep_inbox_files: bool = False
    ingest_chunk_files: int = 1750  # about four months of NRW deliveries: ~0.9 GB of frames at a time
    archive_retention_years: int = ARCHIVE_RETENTION_YEARS
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES  # kept free on the data home's disk; 0: no check
    analysts_group: str | None = None  # the group that may read the analysts' copy
    pseudonym_key: bytes | None = field(default=None, repr=False)  # the secret itself, never shown
    pseudonym_key_file: Path | None = None
    publish_file_delay: float = 0.0  # seconds between an extract's files: lets crash tests kill mid-write
    home_named: bool = True  # TEILHABE_HOME was set (not the default ./data)

    @property
    def ingest_memory_limit(self) -> str:
        """Half the DuckDB limit for the ingest's connection: it appends and reads back little, but
        DuckDB keeps every block it wrote cached up to its limit (at NRW 5 years 730 MB of 1 GB,
        never read again, which made the ingest the run's peak of memory)."""
        size = memory_bytes(self.duckdb_memory_limit)
        return f"{size // 2}B" if size else self.duckdb_memory_limit

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        get, default, limits = environ.get, cls(DataHome(Path())), Limits()
        retention = int(get("TEILHABE_ARCHIVE_RETENTION_YEARS") or default.archive_retention_years)
        keep_free = _megabytes(get("TEILHABE_MIN_FREE_MB"), default.min_free_bytes)
        dagster = get("DAGSTER_HOME")
        return cls(
            home=DataHome(Path(get("TEILHABE_HOME") or "data").resolve(), None, Path(dagster) if dagster else None),
            duckdb_memory_limit=get("TEILHABE_DUCKDB_MEMORY_LIMIT") or default.duckdb_memory_limit,
            limits=Limits(
                max_file_bytes=_megabytes(get("TEILHABE_MAX_FILE_MB"), limits.max_file_bytes),
                max_file_rows=int(get("TEILHABE_MAX_FILE_ROWS") or limits.max_file_rows),
                max_batch_bytes=_megabytes(get("TEILHABE_MAX_BATCH_MB"), limits.max_batch_bytes),
                workbook_memory_bytes=_megabytes(get("TEILHABE_WORKBOOK_MEMORY_MB"), limits.workbook_memory_bytes),
                workbook_seconds=float(get("TEILHABE_WORKBOOK_SECONDS") or limits.workbook_seconds),
                max_period_age_years=retention,
                keep_free_bytes=keep_free,
            ),
            keep_inbox_files=_flag(get("TEILHABE_KEEP_INBOX_FILES")),
            ingest_chunk_files=int(get("TEILHABE_INGEST_CHUNK_FILES") or default.ingest_chunk_files),
            archive_retention_years=retention,
            min_free_bytes=keep_free,
            analysts_group=get("TEILHABE_ANALYSTS_GROUP") or None,
            pseudonym_key=environ["TEILHABE_PSEUDONYM_KEY"].encode() if "TEILHABE_PSEUDONYM_KEY" in environ else None,
            pseudonym_key_file=Path(get("TEILHABE_PSEUDONYM_KEY_FILE") or default_key_file(environ)),
            publish_file_delay=float(get("TEILHABE_PUBLISH_FILE_DELAY") or 0),
            home_named=bool(get("TEILHABE_HOME")),
        )  # fmt: skip


_BYTES = {"": 1, "b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_BYTES |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def memory_bytes(limit: str) -> int | None:
    """A DuckDB memory limit ("1GB", "1536MB", "2GiB": DuckDB's units) in bytes; None if it is
    not one (a percentage): DuckDB then says what is wrong with it."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", limit)
    if not match or match[2].lower() not in _BYTES:
        return None
    return int(float(match[1]) * _BYTES[match[2].lower()])


def settings() -> Settings:
    """The settings of this process, from its environment (read when asked, never on import)."""
    return Settings.from_environment()


def quiet_telemetry() -> None:
    """Switch off the usage statistics of every tool we drive (no network here, and no need)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
