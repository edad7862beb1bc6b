"""The load stage: every new delivery of the inbox into the warehouse (raw archive, delivery log,
quarantine, landing tables); one chunk is loaded by ingest/chunk.py.

One run takes every new file of the inbox. A file is known when its name, size, modification and
change time and inode are what the last run recorded (``ops.inbox_files``): the change time moves
whenever the bytes change, even under an upload that keeps timestamps, so anything else is hashed,
and only new bytes make a new delivery. Entries that are no deliveries (directories, symbolic
links, FIFOs, hidden files, files still being written) are recorded in ``ops.ignored_entries``
with the reason. Each new file is archived as received (content-addressed by SHA-256,
owner-only), read and validated with the rest of its batch, and logged. Identical bytes for the same sender, part and
period are a duplicate. A newer delivery for the same landing table, sender and period replaces
the older one's rows (the older stays in the archive and the log, as superseded). Files are taken
in received order, in chunks of a few thousand files and at most ``Limits.max_batch_bytes``, each
chunk one transaction: a crash leaves the landing tables as they were after the last whole chunk,
as if the later files had not arrived yet, and the rerun takes those. (One transaction for a whole initial load would hold every uncommitted
row in memory: DuckDB keeps them outside its memory limit, ~0.2 GiB per chunk.) While a chunk is
written, the next one is read in a second thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import duckdb
import polars as pl

from ingest.chunk import (
    Arrival,
    IngestReport,
    LoadContext,
    ReadChunk,
    known_workshops,
    load_chunk,
    read_chunk,
)
from ingest.encodings import forget_values
from ingest.identify import FIRST_YEAR
from ingest.inbox import (
    IgnoredEntry,
    InboxFile,
    InboxScan,
    Unstable,
    archive_path,
    content_hash,
    name_problem,
    read_weight,
    scan_inbox,
    signature_of,
)
from ingest.ops_tables import check_key, prepare
from ingest.pseudonymise import PseudonymKey
from teilhabe.settings import Limits, Settings

DEFAULT_CHUNK_FILES = Settings.ingest_chunk_files  # one default, in the settings


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


def record_ignored(
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


def received_at(file: InboxFile, now: dt.datetime) -> dt.datetime:
    """When a file arrived: its modification time, never later than now (a clock ahead or a
    forged time cannot make a future period plausible), and now where that time is older than
    any export (an archive unpacked without times gives 1980: its period was "after receipt")."""
    modified = dt.datetime.fromtimestamp(file.mtime_ns / 1e9, dt.UTC).replace(tzinfo=None)
    return now if modified.year < FIRST_YEAR else min(modified, now)


def ingest(
    con: duckdb.DuckDBPyConnection,
    inbox: Path,
    archive: Path,
    key: PseudonymKey,
    run_id: str = "",
    limits: Limits = Limits(),
    keep_files: bool = False,
    chunk_files: int = DEFAULT_CHUNK_FILES,
) -> IngestReport:
    """Take every new delivery of the inbox; processed files then leave it (unless ``keep_files``)."""
    prepare(con)
    report = IngestReport()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    scan = scan_inbox(inbox)
    report.uploads_in_progress = len(scan.uploads_in_progress)
    check_key(con, key, now)
    files, unstable, known = _new_files(con, scan, report)
    report.new_files = len(files)
    if not keep_files:  # archived before, nothing new: the plaintext leaves the inbox too
        report.moved_out += _clear_inbox(
            [f for f, sha in known.items() if archive_path(archive, sha).exists()]
        )
    arrivals = [
        Arrival(f, received_at(f, now), f.mtime_ns, name_problem(os.path.basename(f.path))) for f in files
    ]
    ctx = LoadContext(con, archive, key, run_id, now, report, limits)
    try:
        ignored = scan.ignored + unstable + _load(ctx, arrivals, chunk_files, keep_files)
        _release_held(ctx, chunk_files)
    finally:
        forget_values()  # the names and dates remembered across chunks, and their hashes
    record_ignored(con, ignored, now, run_id)
    report.ignored = len(ignored)
    return report


def _release_held(ctx: LoadContext, chunk_files: int) -> None:
    """Load the held files of workshops a register now names, from the archive, as they first
    arrived (their received time decides which is the newer of two); then their held entries are
    marked released. A crash between the two repeats the load in the next run, where the same
    bytes are a duplicate: nothing is loaded twice, nothing is lost."""
    known = known_workshops(ctx.con) or set()
    held = [
        row
        for row in ctx.con.execute(
            """select delivery_id, file_name, sha256, bytes, file_mtime_ns, received_at, sender
               from ops.delivery_log where status = 'held' order by received_at, delivery_id"""
        ).fetchall()
        if row[6] in known
    ]
    arrivals = []
    for held_id, name, sha256, size, mtime_ns, received, _ in held:
        path = archive_path(ctx.archive, sha256)
        if path.exists():  # the retention keeps held files (ingest/retention.py)
            info = path.stat()
            file = InboxFile(os.fsencode(path), name, size, *signature_of(info)[1:])
            arrivals.append(Arrival(file, received, mtime_ns, from_inbox=False, held_id=held_id))
    if not arrivals:
        return
    _load(ctx, arrivals, chunk_files)
    # Released: the held files this load logged anew (one it could not take stays held)
    released = ctx.con.execute(
        """update ops.delivery_log as held
           set status = 'released',
               message = 'gehalten, bis das Werkstättenverzeichnis die Werkstatt nannte; dann übernommen',
               superseded_by = (select max(now.delivery_id) from ops.delivery_log as now
                                where now.sha256 = held.sha256 and now.file_name = held.file_name
                                  and now.status != 'held' and now.status != 'released')
           where list_contains(?, held.delivery_id)
             and exists (select 1 from ops.delivery_log as now
                         where now.sha256 = held.sha256 and now.file_name = held.file_name
                           and now.delivery_id > held.delivery_id
                           and now.status != 'held' and now.status != 'released')
           returning held.delivery_id""",
        [[row[0] for row in held]],
    ).fetchall()
    ctx.report.released += len(released)


def _clear_inbox(files: list[InboxFile]) -> int:
    """Remove processed files from the inbox (the archive holds them, privacy.md §2): only if the
    name still holds the very file that was taken (a new upload under it stays for the next run),
    and only where the pipeline may (an inbox it cannot change keeps them, known by their record)."""
    removed = 0
    for file in files:
        try:
            info = os.lstat(file.path)
            if signature_of(info) == file.signature:
                os.unlink(file.path)
                removed += 1
        except OSError:
            continue
    return removed


def _load(
    ctx: LoadContext, arrivals: list[Arrival], chunk_files: int, keep: bool = True
) -> list[IgnoredEntry]:
    """Arrivals in received order, in chunks (``_chunks``), each one transaction; after its
    commit, the chunk's inbox files leave the inbox (unless ``keep``). Returns the entries that
    changed while being read."""
    ctx.archive.mkdir(parents=True, exist_ok=True)
    os.chmod(ctx.archive, 0o700)  # plaintext lives here and only here (privacy.md §2)
    arrivals = sorted(arrivals, key=lambda a: (a.received_at, a.mtime_ns, a.name))
    chunks = _chunks(arrivals, chunk_files, ctx.limits)
    ignored: list[IgnoredEntry] = []
    known = known_workshops(ctx.con)
    with _one_checkpoint(ctx.con), ThreadPoolExecutor(1, thread_name_prefix="teilhabe-read-ahead") as reader:
        read = partial(reader.submit, read_chunk, ctx.archive, ctx.limits)
        pending = read(chunks[0], known) if chunks else None
        for index in range(len(chunks)):
            taken = pending.result()
            following = chunks[index + 1] if index + 1 < len(chunks) else None
            # The next chunk is read (files taken, parsed, validated: no table touched) while this
            # one is written, on the other core. A register changes the workshops the next chunk
            # is checked against: after a chunk holding one, the next is read once it committed.
            ahead = following is not None and not _holds_register(taken)
            pending = read(following, known) if ahead else None
            ctx.con.execute("begin transaction")
            # The archived files are on disk before the log that names them commits: synced while
            # the chunk is written (the wait is the disk's, not a core's).
            syncing = threading.Thread(target=os.sync, name="teilhabe-archive-sync")
            syncing.start()
            try:
                load_chunk(ctx, taken)
                syncing.join()
                ctx.con.execute("commit")
            except BaseException:
                # a failed rollback (a full disk ends the transaction itself) must not hide the cause
                with contextlib.suppress(duckdb.Error):
                    ctx.con.execute("rollback")
                if pending is not None:
                    pending.cancel()
                raise
            if following is not None and not ahead:
                known = known_workshops(ctx.con)
                pending = read(following, known)
            ignored += taken.intake.unstable
            if not keep:
                ctx.report.moved_out += _clear_inbox(
                    [a.file for _, _, a in taken.intake.taken.values() if a.from_inbox]
                )
    return ignored


def _chunks(arrivals: list[Arrival], chunk_files: int, limits: Limits) -> list[list[Arrival]]:
    """Consecutive arrivals, at most ``chunk_files`` files and ``limits.max_batch_bytes`` bytes
    each (a workbook's unpacked: ingest.inbox.read_weight; a file alone may be larger), never two
    of one name. Chunks bound memory; fixed costs are paid once per chunk."""
    chunks, current, names, size = [], [], set(), 0
    for arrival in arrivals:
        bytes_read = limits.bytes_read(read_weight(arrival.file, limits.max_batch_bytes))
        full = len(current) >= chunk_files or size + bytes_read > limits.max_batch_bytes
        if current and (full or arrival.name in names):
            chunks.append(current)
            current, names, size = [], set(), 0
        current.append(arrival)
        names.add(arrival.name)
        size += bytes_read
    return [*chunks, current] if current else chunks


@contextlib.contextmanager
def _one_checkpoint(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The chunks' commits without a checkpoint each, one checkpoint after the last. Every chunk's
    write-ahead log passes DuckDB's threshold (16 MB), and its checkpoint took 1-3 s at NRW 5 years
    (31 s of the writing thread in all; one checkpoint at the end: 6 s). A committed chunk is as
    durable in the log: DuckDB replays it when the file is next opened after a crash."""
    threshold = con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]
    con.execute("set checkpoint_threshold = '1TB'")
    try:
        yield
    finally:
        con.execute(f"set checkpoint_threshold = '{threshold}'")
    con.execute("checkpoint")


def _holds_register(chunk: ReadChunk) -> bool:
    return any(o.delivery and o.delivery.format == "lv_register" for o in chunk.batch.files.values())


def replay(
    con: duckdb.DuckDBPyConnection,
    deliveries: list[tuple[str, str, int, int, dt.datetime]],
    source_archive: Path,
    archive: Path,
    key: PseudonymKey,
    run_id: str = "rebuild",
    limits: Limits = Limits(),
    chunk_files: int = DEFAULT_CHUNK_FILES,
) -> IngestReport:
    """Load deliveries again, as the archive kept them, in the order they first arrived (a new data
    home under a new key). ``deliveries``: (file name, sha256, bytes, mtime_ns, received_at) from
    the old delivery log; files the retention removed are skipped (and counted)."""
    prepare(con)
    report, now = IngestReport(), dt.datetime.now(dt.UTC).replace(tzinfo=None)
    check_key(con, key, now)
    arrivals = []
    for name, sha256, size, mtime_ns, received in deliveries:
        path = archive_path(source_archive, sha256)
        if not path.exists():
            report.skipped_known += 1  # removed by the archive's retention
            continue
        info = path.stat()
        file = InboxFile(os.fsencode(path), name, size, *signature_of(info)[1:])
        arrivals.append(Arrival(file, received, mtime_ns, from_inbox=False))
    report.new_files = len(arrivals)
    _load(LoadContext(con, archive, key, run_id, now, report, limits), arrivals, chunk_files)
    # The senders heard of these files when the old data home took them.
    con.execute("insert or ignore into ops.answered_runs values (?, ?)", [run_id, now])
    return report
