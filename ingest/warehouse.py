"""Loading a batch into the warehouse: raw archive, delivery log, quarantine and landing tables.

One run takes every new file of the inbox. A file is known when its name, size, modification and
change time and inode are what the last run recorded (``ops.inbox_files``): the change time moves
whenever the bytes change, even under an upload that keeps timestamps, so anything else is hashed,
and only new bytes make a new delivery. Entries that are no deliveries (directories, symbolic
links, FIFOs, hidden files, files still being written) are recorded in ``ops.ignored_entries``
with the reason. Each new file is archived as received (content-addressed by SHA-256,
owner-only), read and validated with the rest of its batch, and logged. Identical bytes for the same sender, part and
period are a duplicate. A newer delivery for the same landing table, sender and period replaces
the older one's rows (the older stays in the archive and the log, as superseded). Files are taken
in received order, in chunks of a few thousand, each chunk one transaction: a crash leaves the
landing tables as they were after the last whole chunk, as if the later files had not arrived yet,
and the rerun takes those. (One transaction for a whole initial load would hold every uncommitted
row in memory: DuckDB keeps them outside its memory limit, ~0.2 GiB per chunk.)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ingest.batch import Incoming, read_batch
from ingest.identify import Delivery
from ingest.inbox import (
    IgnoredEntry,
    InboxFile,
    InboxScan,
    Unstable,
    archive_path,
    content_hash,
    name_problem,
    scan_inbox,
    take,
)
from ingest.landing import DROPPED, empty_landing_frame, landing_frame, snake
from ingest.pseudonymise import KeyProblem, PseudonymKey
from schemas import SOURCE_TABLES
from teilhabe.settings import Limits, keep_inbox_files

CHUNK_ENV = "TEILHABE_INGEST_CHUNK_FILES"
DEFAULT_CHUNK_FILES = 2000  # about five months of NRW deliveries: ~1 GB of frames at a time
RETENTION_ENV = "TEILHABE_ARCHIVE_RETENTION_YEARS"
DEFAULT_RETENTION_YEARS = 6  # privacy.md §2: enough to rebuild five years of history

OPS_DDL = """
create schema if not exists landing;
create schema if not exists ops;
create sequence if not exists ops.delivery_ids start 1;
create table if not exists ops.delivery_log (
    delivery_id bigint primary key,
    file_name varchar not null,
    format varchar,
    sender varchar,
    part varchar,
    period varchar,
    sha256 varchar not null,
    bytes bigint not null,
    file_mtime_ns bigint not null,
    received_at timestamp not null,
    ingested_at timestamp not null,
    run_id varchar,
    status varchar not null,
    rows_in integer,
    rows_loaded integer,
    rows_quarantined integer,
    message varchar,
    superseded_by bigint,
    archive_removed_at timestamp
);
create table if not exists ops.pseudonym_key (
    fingerprint varchar not null,
    first_used_at timestamp not null
);
create table if not exists ops.inbox_files (
    file_name varchar primary key,
    bytes bigint not null,
    file_mtime_ns bigint not null,
    file_ctime_ns bigint,
    file_inode bigint,
    sha256 varchar not null,
    delivery_id bigint,
    seen_at timestamp not null
);
create table if not exists ops.ignored_entries (
    entry_name varchar not null,
    kind varchar not null,
    reason varchar not null,
    first_seen_at timestamp not null,
    last_seen_at timestamp not null,
    run_id varchar,
    primary key (entry_name, kind)
);
create table if not exists ops.quarantine (
    delivery_id bigint not null,
    file_name varchar not null,
    source_row integer,
    source_table varchar,
    column_name varchar,
    rule varchar not null,
    level varchar not null,
    message varchar not null,
    value varchar
);
"""


@dataclass
class IngestReport:
    new_files: int = 0
    skipped_known: int = 0
    rehashed: int = 0  # files whose stat changed but whose hash shows the same bytes
    ignored: int = 0  # entries that are no deliveries (ops.ignored_entries)
    uploads_in_progress: int = 0
    moved_out: int = 0  # processed files removed from the inbox (the archive holds them)
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    superseded: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    tables_changed: set[str] = field(default_factory=set)

    def summary(self) -> str:
        text = (
            f"{self.new_files} new files ({self.skipped_known} already known): {self.loaded} loaded, "
            f"{self.rejected} rejected, {self.duplicates} duplicates, {self.superseded} superseded; "
            f"{self.rows_loaded:,} rows loaded, {self.rows_quarantined:,} quarantined"
        )
        if self.moved_out:
            text += f"; {self.moved_out} processed files moved out of the inbox (archived)"
        if self.ignored:
            text += f"; {self.ignored} inbox entries ignored (see ops.ignored_entries)"
        if self.uploads_in_progress:
            text += f"; {self.uploads_in_progress} uploads in progress (.part) left for the next run"
        return text


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(OPS_DDL)
    # A warehouse from before ops.inbox_files: its files are known by the log (and hashed once).
    con.execute(
        """
        insert into ops.inbox_files
        select file_name, bytes, file_mtime_ns, null, null, sha256, delivery_id, ingested_at
        from ops.delivery_log
        where not exists (select 1 from ops.inbox_files)
        qualify row_number() over (partition by file_name order by delivery_id desc) = 1
        """
    )
    for table in SOURCE_TABLES:
        con.register("_empty", empty_landing_frame(table).to_arrow())
        con.execute(f"create table if not exists landing.{table} as select * from _empty")
        con.unregister("_empty")
        for column in DROPPED.get(table, ()):  # a warehouse from before they were dropped at the door
            con.execute(f"alter table landing.{table} drop column if exists {snake(column)}")


def _new_files(
    con: duckdb.DuckDBPyConnection, scan: InboxScan, report: IngestReport
) -> tuple[list[InboxFile], list[IgnoredEntry], dict[InboxFile, str]]:
    """The inbox's new deliveries, in received order. A known name with a new size or modification
    time is a new delivery (the same bytes again are logged as a duplicate). A known name, size and
    modification time with another change time or inode (copied, restored, or an upload that keeps
    timestamps) is hashed: only changed bytes make a delivery. Also returns the unchanged files
    with their SHA-256."""
    known = {
        row[0]: row[1:]
        for row in con.execute(
            "select file_name, bytes, file_mtime_ns, file_ctime_ns, file_inode, sha256 from ops.inbox_files"
        ).fetchall()
    }
    new, unstable, refreshed, unchanged = [], [], [], {}
    for file in scan.files:
        record = known.get(file.name)
        if record and record[:4] == file.signature:
            report.skipped_known += 1
            unchanged[file] = record[4]
            continue
        if record and record[:2] == file.signature[:2]:
            try:
                same = content_hash(file) == record[4]
            except Unstable as reason:
                unstable.append(IgnoredEntry(file.name, "unstable", str(reason)))
                continue
            if same:
                report.skipped_known += 1
                report.rehashed += 1
                refreshed.append((*file.signature, file.name))
                unchanged[file] = record[4]
                continue
        new.append(file)
    if refreshed:  # one set-based update (executemany costs ~1 ms a row)
        columns = ["bytes", "mtime_ns", "ctime_ns", "inode", "file_name"]
        con.register("_refreshed", pl.DataFrame(refreshed, schema=columns, orient="row").to_arrow())
        con.execute(
            "update ops.inbox_files f set bytes = r.bytes, file_mtime_ns = r.mtime_ns, file_ctime_ns = r.ctime_ns, "
            "file_inode = r.inode from _refreshed r where f.file_name = r.file_name"
        )
        con.unregister("_refreshed")
    return new, unstable, unchanged


def _record_ignored(
    con: duckdb.DuckDBPyConnection, ignored: list[IgnoredEntry], now: dt.datetime, run_id: str
) -> None:
    if ignored:
        entries = {(e.name, e.kind): e.reason for e in ignored}  # one row per entry, however often seen
        frame = pl.DataFrame(
            [(name, kind, reason, now, now, run_id) for (name, kind), reason in entries.items()],
            schema=["entry_name", "kind", "reason", "first_seen_at", "last_seen_at", "run_id"],
            orient="row",
        )
        con.register("_ignored", frame.to_arrow())
        con.execute(
            """
            insert into ops.ignored_entries select * from _ignored
            on conflict (entry_name, kind) do update
            set reason = excluded.reason, last_seen_at = excluded.last_seen_at, run_id = excluded.run_id
            """
        )
        con.unregister("_ignored")


def _known_workshops(con: duckdb.DuckDBPyConnection) -> set[str] | None:
    rows = con.execute(
        """
        select werkstatt_nr from landing.lv_werkstaetten
        where delivery_id in (select max(delivery_id) from landing.lv_werkstaetten group by sender)
        """
    ).fetchall()
    return {r[0] for r in rows} if rows else None


def _duplicate_key(
    sha256: str, fmt: str | None, sender: str | None, part: str | None, period: str | None
) -> tuple:
    """Identical bytes for the same sender, part and period (a register: whenever it came)."""
    return (sha256, sender, part, "" if fmt == "lv_register" else period)


def _replacement_key(table: str, delivery: Delivery) -> tuple[str, str, str]:
    return (table, delivery.sender or "", delivery.period)


def received_at(file: InboxFile, now: dt.datetime) -> dt.datetime:
    """When a file arrived: its modification time, never later than now (a clock ahead or a
    forged time cannot make a future period plausible)."""
    return min(dt.datetime.fromtimestamp(file.mtime_ns / 1e9, dt.UTC).replace(tzinfo=None), now)


def ingest(
    con: duckdb.DuckDBPyConnection,
    inbox: Path,
    archive: Path,
    key: PseudonymKey,
    run_id: str = "",
    limits: Limits | None = None,
    keep_files: bool | None = None,
) -> IngestReport:
    """Take every new delivery of the inbox; processed files then leave it (unless ``keep_files``,
    default TEILHABE_KEEP_INBOX_FILES)."""
    prepare(con)
    limits = limits or Limits.from_environment()
    keep = keep_inbox_files() if keep_files is None else keep_files
    report = IngestReport()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    scan = scan_inbox(inbox)
    report.uploads_in_progress = len(scan.uploads_in_progress)
    check_key(con, key, now)
    files, unstable, known = _new_files(con, scan, report)
    report.new_files = len(files)
    if not keep:  # archived before, nothing new: the plaintext leaves the inbox too
        report.moved_out += _clear_inbox(
            [f for f, sha in known.items() if archive_path(archive, sha).exists()]
        )
    arrivals = [
        Arrival(f, received_at(f, now), f.mtime_ns, name_problem(os.path.basename(f.path))) for f in files
    ]
    ignored = scan.ignored + unstable + _load(con, arrivals, archive, key, run_id, now, report, limits, keep)
    _record_ignored(con, ignored, now, run_id)
    report.ignored = len(ignored)
    return report


def _clear_inbox(files: list[InboxFile]) -> int:
    """Remove processed files from the inbox (the archive holds them, privacy.md §2): only if the
    name still holds the very file that was taken (a new upload under it stays for the next run),
    and only where the pipeline may (an inbox it cannot change keeps them, known by their record)."""
    removed = 0
    for file in files:
        try:
            info = os.lstat(file.path)
            if (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino) == file.signature:
                os.unlink(file.path)
                removed += 1
        except OSError:
            continue
    return removed


def check_key(con: duckdb.DuckDBPyConnection, key: PseudonymKey, now: dt.datetime | None = None) -> None:
    """One key per warehouse: its fingerprint is kept on first use, and another key is refused
    (its pseudonyms would never meet the old ones)."""
    row = con.execute("select fingerprint from ops.pseudonym_key").fetchone()
    if row is None:
        con.execute(
            "insert into ops.pseudonym_key values (?, ?)", [key.fingerprint, now or dt.datetime.now()]
        )
    elif row[0] != key.fingerprint:
        raise KeyProblem(
            f"this warehouse was built with another pseudonym key (fingerprint {row[0]}, this key "
            f"{key.fingerprint}): use that key, or build a new data home from the archive with this one "
            "(`teilhabe rebuild --to DIR`)"
        )


def warehouse_key_problem(warehouse: Path, key: PseudonymKey) -> str | None:
    """Whether a warehouse was built with another key, checked read-only before a run starts
    (None also where it cannot be read now: the ingest checks again, under its lock)."""
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            check_key(con, key)
    except KeyProblem as problem:
        return str(problem)
    except duckdb.Error:  # locked by a running pipeline, or a warehouse from before fingerprints
        return None
    return None


# What a rebuilt home keeps of the old one (no pseudonyms in either): what partners received, and
# which of their cells were suppressed (they stay suppressed, privacy.md §3).
CARRIED_OVER = ("ops.extract_log", "ops.suppression_history")


def carry_over(old_warehouse: Path, con: duckdb.DuckDBPyConnection) -> None:
    """The publication history a rebuild keeps: what partners received does not change with a key."""
    con.execute(f"attach '{old_warehouse}' as previous (read_only)")
    try:
        for table in CARRIED_OVER:
            found = con.execute(
                "select count(*) from duckdb_tables() where database_name = 'previous' "
                "and schema_name = ? and table_name = ?",
                table.split("."),
            ).fetchone()[0]
            if found:
                con.execute(f"create or replace table {table} as select * from previous.{table}")
    finally:
        con.execute("detach previous")


@dataclass(frozen=True)
class Arrival:
    """A file to take: from the inbox, or (rebuilding) a delivery as the archive kept it, under
    the name, arrival and modification time it was delivered with."""

    file: InboxFile
    received_at: dt.datetime
    mtime_ns: int
    name_problem: str | None = None
    from_inbox: bool = True

    @property
    def name(self) -> str:
        return self.file.name


def _load(
    con: duckdb.DuckDBPyConnection,
    arrivals: list[Arrival],
    archive: Path,
    key: PseudonymKey,
    run_id: str,
    now: dt.datetime,
    report: IngestReport,
    limits: Limits,
    keep: bool = True,
) -> list[IgnoredEntry]:
    """Arrivals in received order, in chunks of a few thousand (never two of one name), each
    chunk one transaction; after its commit, the chunk's inbox files leave the inbox (unless
    ``keep``). Returns the entries that changed while being read."""
    archive.mkdir(parents=True, exist_ok=True)
    os.chmod(archive, 0o700)  # plaintext lives here and only here (privacy.md §2)
    arrivals = sorted(arrivals, key=lambda a: (a.received_at, a.mtime_ns, a.name))
    chunks, current, names = [], [], set()
    for arrival in arrivals:  # chunks bound memory; fixed costs are paid once per chunk
        if len(current) >= chunk_files() or arrival.name in names:
            chunks.append(current)
            current, names = [], set()
        current.append(arrival)
        names.add(arrival.name)
    chunks += [current] if current else []
    ignored = []
    for chunk in chunks:
        con.execute("begin transaction")
        try:
            intake = _ingest_chunk(con, chunk, archive, key, run_id, now, report, limits)
            os.sync()  # the archived files are on disk before the log that names them commits
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        ignored += intake.unstable
        if not keep:
            report.moved_out += _clear_inbox([a.file for _, _, a in intake.taken.values() if a.from_inbox])
    return ignored


def replay(
    con: duckdb.DuckDBPyConnection,
    deliveries: list[tuple[str, str, int, int, dt.datetime]],
    source_archive: Path,
    archive: Path,
    key: PseudonymKey,
    run_id: str = "rebuild",
    limits: Limits | None = None,
) -> IngestReport:
    """Load deliveries again, as the archive kept them, in the order they first arrived (a new data
    home under a new key). ``deliveries``: (file name, sha256, bytes, mtime_ns, received_at) from
    the old delivery log; files the retention removed are skipped (and counted)."""
    prepare(con)
    limits = limits or Limits.from_environment()
    report, now = IngestReport(), dt.datetime.now(dt.UTC).replace(tzinfo=None)
    check_key(con, key, now)
    arrivals = []
    for name, sha256, size, mtime_ns, received in deliveries:
        path = archive_path(source_archive, sha256)
        if not path.exists():
            report.skipped_known += 1  # removed by the archive's retention
            continue
        info = path.stat()
        file = InboxFile(os.fsencode(path), name, size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        arrivals.append(Arrival(file, received, mtime_ns, from_inbox=False))
    report.new_files = len(arrivals)
    _load(con, arrivals, archive, key, run_id, now, report, limits)
    return report


def chunk_files() -> int:
    return int(os.environ.get(CHUNK_ENV, DEFAULT_CHUNK_FILES))


@dataclass
class _Intake:
    """Taking a chunk's files: each read once (hashed, archived, kept for reading); what was
    taken, and what changed while being read (left for the next run, as if not arrived yet)."""

    archive: Path
    limits: Limits
    taken: dict[str, tuple[str, int, Arrival]] = field(default_factory=dict)
    unstable: list[IgnoredEntry] = field(default_factory=list)

    def incoming(self, arrival: Arrival) -> Incoming:
        load = lambda: self._take(arrival)  # noqa: E731
        return Incoming(arrival.name, arrival.received_at.date(), load, arrival.name_problem)

    def _take(self, arrival: Arrival) -> bytes | None:
        try:
            taken = take(arrival.file, self.archive, self.limits.max_file_bytes)
        except Unstable as reason:
            self.unstable.append(IgnoredEntry(arrival.name, "unstable", str(reason)))
            return b""
        except OSError as error:
            raise OSError(
                error.errno, f"archiving {arrival.name!r} into {self.archive} failed: {error.strerror}"
            ) from error
        self.taken[arrival.name] = (taken.sha256, taken.size, arrival)
        return taken.content


def _ingest_chunk(
    con: duckdb.DuckDBPyConnection,
    arrivals: list[Arrival],
    archive: Path,
    key: PseudonymKey,
    run_id: str,
    now: dt.datetime,
    report: IngestReport,
    limits: Limits,
) -> _Intake:
    intake = _Intake(archive, limits)
    batch = read_batch(
        [intake.incoming(arrival) for arrival in arrivals],
        known_workshops=_known_workshops(con),
        limits=limits,
    )
    report.new_files -= len(intake.unstable)
    if intake.unstable:  # read while still being written: as if it had not arrived yet
        unstable = [entry.name for entry in intake.unstable]
        batch.files = {name: outcome for name, outcome in batch.files.items() if name not in unstable}
        batch.findings = batch.findings.filter(~pl.col("file").is_in(unstable))
        batch.valid = {t: f.filter(~pl.col("_file").is_in(unstable)) for t, f in batch.valid.items()}
    hashes = {
        name: (sha256, size, arrival.mtime_ns, arrival.received_at)
        for name, (sha256, size, arrival) in intake.taken.items()
    }
    files_by_name = {name: a.file for name, (_, _, a) in intake.taken.items() if a.from_inbox}

    # Register versions are kept side by side (their period is the day they came): dim_workshops
    # builds the history from them. Every other delivery has the period it names.
    for outcome in batch.files.values():
        if outcome.delivery and outcome.delivery.format == "lv_register":
            outcome.delivery = Delivery(
                outcome.delivery.name,
                "lv_register",
                outcome.delivery.sender,
                "werkstaetten",
                hashes[outcome.name][3].date().isoformat(),
            )

    start = con.execute("select coalesce(max(delivery_id), 0) from ops.delivery_log").fetchone()[0]
    in_received_order = sorted(batch.files, key=lambda n: (hashes[n][2], n))
    ids = {name: start + i for i, name in enumerate(in_received_order, start=1)}
    previous: dict[tuple, int] = {}
    for sha, fmt, sender, part, period, delivery_id in con.execute(
        "select sha256, format, sender, part, period, delivery_id from ops.delivery_log "
        "where status in ('loaded', 'superseded') order by delivery_id"
    ).fetchall():
        previous.setdefault(_duplicate_key(sha, fmt, sender, part, period), delivery_id)
    log_rows, latest = [], {}
    for name in in_received_order:
        outcome = batch.files[name]
        sha256, size, mtime_ns, received = hashes[name]
        d = outcome.delivery
        status, message = "loaded", None
        if outcome.rejected_because:
            status, message = "rejected", outcome.rejected_because
        elif _duplicate_key(sha256, d.format, d.sender, d.part, d.period) in previous:
            first = previous[_duplicate_key(sha256, d.format, d.sender, d.part, d.period)]
            status, message = "duplicate", f"dieselben Bytes wie Lieferung {first} (nichts geändert)"
        else:
            previous[_duplicate_key(sha256, d.format, d.sender, d.part, d.period)] = ids[name]
            for table in d.tables:
                latest[_replacement_key(table, d)] = name  # a later file of the batch wins
        log_rows.append(
            {
                "delivery_id": ids[name], "file_name": name, "format": d.format if d else None,
                "sender": d.sender if d else None, "part": d.part if d else None, "period": d.period if d else None,
                "sha256": sha256, "bytes": size, "file_mtime_ns": mtime_ns, "received_at": received,
                "ingested_at": now, "run_id": run_id, "status": status,
                "rows_in": outcome.rows_in, "rows_loaded": outcome.rows_loaded if status == "loaded" else 0,
                "rows_quarantined": outcome.rows_quarantined, "message": message, "superseded_by": None,
            }
        )  # fmt: skip
    log = pl.DataFrame(log_rows, infer_schema_length=None)
    winners = set(latest.values())
    loaded_files = log.filter(pl.col("status") == "loaded")["file_name"].to_list()
    # Within the batch, a file all of whose tables were taken by a later file never loads.
    superseded_by = {
        n: ids[latest[_replacement_key(t, batch.files[n].delivery)]]
        for n in loaded_files
        if n not in winners
        for t in batch.files[n].delivery.tables[:1]
    }
    in_batch = pl.col("file_name").is_in(list(superseded_by))
    log = log.with_columns(
        pl.when(in_batch).then(pl.lit("superseded")).otherwise(pl.col("status")).alias("status"),
        pl.when(in_batch).then(0).otherwise(pl.col("rows_loaded")).alias("rows_loaded"),
        pl.col("file_name")
        .replace_strict(superseded_by, default=None, return_dtype=pl.Int64)
        .alias("superseded_by"),
    )
    deliveries = log.filter(pl.col("file_name").is_in(list(winners))).select(
        pl.col("file_name").alias("_file"), "delivery_id", "sender", "period"
    )

    # Still inside the chunk's transaction (opened by ingest()). Earlier deliveries of the same table,
    # sender and period are replaced: one join per table, never one query per file.
    replacing = pl.DataFrame(
        [(table, sender, period, ids[name]) for (table, sender, period), name in latest.items()],
        schema={"landing_table": pl.String, "sender": pl.String, "period": pl.String, "new_id": pl.Int64},
        orient="row",
    )
    con.register("_replacing", replacing.to_arrow())
    superseded: dict[int, int] = {}  # old delivery -> the one replacing it
    for table in replacing["landing_table"].unique().to_list():
        replaced = con.execute(
            f"""
            select distinct l.delivery_id, r.new_id
            from landing.{table} l
            join _replacing r on r.landing_table = '{table}' and l.sender = r.sender and l.period = r.period
            """
        ).fetchall()
        if replaced:
            con.execute(
                f"delete from landing.{table} where delivery_id in (select unnest(?))",
                [[old for old, _ in replaced]],
            )
            superseded.update(replaced)
    con.unregister("_replacing")
    if superseded:
        con.register(
            "_superseded", pl.DataFrame(list(superseded.items()), schema=["old", "new"], orient="row")
        )
        con.execute(
            "update ops.delivery_log set status = 'superseded', superseded_by = s.new "
            "from _superseded s where delivery_id = s.old"
        )
        con.unregister("_superseded")
        report.superseded += len(superseded)
    for table, valid in batch.valid.items():
        wanted = {n for (t, _, _), n in latest.items() if t == table}
        rows = landing_frame(table, valid.filter(pl.col("_file").is_in(list(wanted))), deliveries, key.secret)
        if rows.height:
            con.register("_rows", rows.to_arrow())
            con.execute(f"insert into landing.{table} by name select * from _rows")
            con.unregister("_rows")
            report.tables_changed.add(table)
    con.register("_log", log.to_arrow())
    con.execute("insert into ops.delivery_log by name select * from _log")
    con.unregister("_log")
    findings = batch.findings.join(
        log.select(pl.col("file_name").alias("file"), "delivery_id"), on="file", how="inner"
    ).select(
        "delivery_id", pl.col("file").alias("file_name"), pl.col("row").alias("source_row"),
        pl.col("table").alias("source_table"), pl.col("column").alias("column_name"), "rule", "level",
        "message", "value",
    )  # fmt: skip
    if findings.height:
        con.register("_findings", findings.to_arrow())
        con.execute("insert into ops.quarantine by name select * from _findings")
        con.unregister("_findings")
    _warn_unknown_persons(con, log.filter(pl.col("status") == "loaded")["delivery_id"].to_list())
    seen = (
        log.filter(pl.col("file_name").is_in(list(files_by_name)))
        .select("file_name", "sha256", "delivery_id")
        .with_columns(
            pl.col("file_name")
            .replace_strict({n: f.ctime_ns for n, f in files_by_name.items()})
            .alias("ctime"),
            pl.col("file_name").replace_strict({n: f.inode for n, f in files_by_name.items()}).alias("inode"),
            pl.lit(now).alias("seen_at"),
        )
    )
    con.register(
        "_seen", seen.join(log.select("file_name", "bytes", "file_mtime_ns"), on="file_name").to_arrow()
    )
    con.execute(
        "insert or replace into ops.inbox_files select file_name, bytes, file_mtime_ns, ctime, inode, sha256, "
        "delivery_id, seen_at from _seen"
    )
    con.unregister("_seen")
    by_status = dict(log.group_by("status").len().iter_rows())
    report.loaded += by_status.get("loaded", 0)
    report.rejected += by_status.get("rejected", 0)
    report.duplicates += by_status.get("duplicate", 0)
    report.superseded += by_status.get("superseded", 0)
    report.rows_loaded += int(log.filter(pl.col("status") == "loaded")["rows_loaded"].sum())
    report.rows_quarantined += int(log["rows_quarantined"].sum())
    return intake


def _warn_unknown_persons(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> None:
    """A transition of a Personennummer that no snapshot of its workshop holds is loaded, with a
    warning: a typing error in the number, or a person the snapshots missed."""
    con.execute(
        """
        insert into ops.quarantine by name
        select t.delivery_id, d.file_name, t.source_row as source_row, 'wfbm_uebergaenge' as source_table,
               'Personennummer' as column_name, 'unknown_person' as rule, 'warning' as level,
               'Übergang einer Person, die in keiner Monatsmeldung (Personen) dieser Werkstatt vorkommt'
                   as message, null as value
        from landing.wfbm_uebergaenge t
        join ops.delivery_log d using (delivery_id)
        where t.delivery_id in (select unnest(?))
          and not exists (
              select 1 from landing.wfbm_personen p
              where p.sender = t.sender and p.person_local_key = t.person_local_key
          )
        """,
        [delivery_ids],
    )


def retention_years() -> int:
    return int(os.environ.get(RETENTION_ENV, DEFAULT_RETENTION_YEARS))


def prune_archive(
    con: duckdb.DuckDBPyConnection, archive: Path, years: int, today: dt.date | None = None
) -> int:
    """Remove archived files whose every delivery's period ended more than ``years`` ago
    (privacy.md §2: on purpose, by a setting, and recorded in the delivery log)."""
    today = today or dt.date.today()
    cutoff = dt.date(today.year - years, today.month, min(today.day, 28))
    period_end = """
        case when length(period) = 7 then last_day(strptime(period || '-01', '%Y-%m-%d'))
             when length(period) = 4 then make_date(cast(period as integer), 12, 31)
             when length(period) = 10 then strptime(period, '%Y-%m-%d')
             else received_at end
    """
    expired = con.execute(
        f"select sha256 from ops.delivery_log group by sha256 "
        f"having max({period_end}) < ? and bool_and(archive_removed_at is null)",
        [cutoff],
    ).fetchall()
    for (sha256,) in expired:
        (archive / sha256[:2] / sha256).unlink(missing_ok=True)
    if expired:
        con.execute(
            "update ops.delivery_log set archive_removed_at = now() where sha256 in (select unnest(?))",
            [[sha for (sha,) in expired]],
        )
    return len(expired)
