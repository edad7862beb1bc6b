"""Loading one chunk of files, inside its transaction, in named steps: read and archive each file
once; date register versions; decide each file's status (loaded, rejected, duplicate, superseded);
replace older deliveries of the same table, sender and period; write landing rows, the delivery
log and the quarantine; remember the inbox files; count. Set operations throughout: one join per
table, never one query per file.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb
import polars as pl

from ingest.batch import Batch, Incoming, read_batch
from ingest.formats import WFBM_PARTS
from ingest.identify import Delivery, sender_named_in
from ingest.inbox import IgnoredEntry, InboxFile, Unstable, take
from ingest.issues import Issue, issues_frame
from ingest.landing import PERSON_COLUMNS, RECORD_IDENTITY, identified, landing_frame, linkage_frame
from ingest.pseudonymise import PseudonymKey
from teilhabe.disk import free_bytes
from teilhabe.settings import Limits


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
    held: int = 0  # files of a workshop no register names yet
    released: int = 0  # held files loaded in this run, a register naming their workshop having come
    rows_loaded: int = 0
    rows_quarantined: int = 0
    tables_changed: set[str] = field(default_factory=set)

    def summary(self) -> str:
        text = (
            f"{self.new_files} new files ({self.skipped_known} already known): {self.loaded} loaded, "
            f"{self.rejected} rejected, {self.duplicates} duplicates, {self.superseded} superseded; "
            f"{self.rows_loaded:,} rows loaded, {self.rows_quarantined:,} quarantined"
        )
        if self.held or self.released:
            text += f"; {self.held} held for a register to name their workshop, {self.released} held before loaded now"
        if self.moved_out:
            text += f"; {self.moved_out} processed files moved out of the inbox (archived)"
        if self.ignored:
            text += f"; {self.ignored} inbox entries ignored (see ops.ignored_entries)"
        if self.uploads_in_progress:
            text += f"; {self.uploads_in_progress} uploads in progress (.part) left for the next run"
        return text


@dataclass
class LoadContext:
    """What every step of loading shares: the connection (inside the chunk's transaction), the
    archive, the pseudonym key, the run, its time, the limits per file, and the report it adds to."""

    con: duckdb.DuckDBPyConnection
    archive: Path
    key: PseudonymKey
    run_id: str
    now: dt.datetime
    report: IngestReport
    limits: Limits = field(default_factory=Limits)
    # a check's load, rolled back (``rehearse``): compared with the sender's own deliveries only
    rehearsal: bool = False


@dataclass(frozen=True)
class Arrival:
    """A file to take: from the inbox, or (rebuilding) a delivery as the archive kept it, under
    the name, arrival and modification time it was delivered with."""

    file: InboxFile
    received_at: dt.datetime
    mtime_ns: int
    name_problem: str | None = None
    from_inbox: bool = True
    held_id: int | None = None  # a held file being released: its held entry in the delivery log

    @property
    def name(self) -> str:
        return self.file.name


TAKE_AHEAD = 16  # files taken (hashed, archived) ahead of the one being read
TAKING_THREADS = 4


@dataclass
class _Intake:
    """Taking a chunk's files: each read once (hashed, archived, kept for reading); what was
    taken, and what changed while being read (left for the next run, as if not arrived yet).

    Taking is mostly waiting for the disk (creating, writing and renaming each archive copy: at
    NRW 5 years ~1 ms per file, 38 s in all), so threads take the ``TAKE_AHEAD`` files after the
    furthest one read while the reader parses: only their bytes wait in memory."""

    archive: Path
    limits: Limits
    taking: ThreadPoolExecutor
    taken: dict[str, tuple[str, int, Arrival]] = field(default_factory=dict)
    unstable: list[IgnoredEntry] = field(default_factory=list)
    _arrivals: list[Arrival] = field(default_factory=list)
    _pending: dict[int, Future] = field(default_factory=dict)
    _submitted: int = 0

    def incoming(self, arrivals: list[Arrival]) -> list[Incoming]:
        self._arrivals = arrivals
        return [
            Incoming(a.name, a.received_at.date(), partial(self._load, i), a.name_problem)
            for i, a in enumerate(arrivals)
        ]

    def _load(self, index: int) -> bytes | None:
        """A file's bytes once taken; the files up to ``TAKE_AHEAD`` after it are being taken."""
        while self._submitted < min(index + 1 + TAKE_AHEAD, len(self._arrivals)):
            self._pending[self._submitted] = self.taking.submit(self._take, self._arrivals[self._submitted])
            self._submitted += 1
        return self._pending.pop(index).result()

    def _take(self, arrival: Arrival) -> bytes | None:
        room = free_bytes(self.archive) - self.limits.keep_free_bytes
        if arrival.from_inbox and arrival.file.size > room:  # what the copy takes, also of a sparse file
            self.unstable.append(IgnoredEntry(arrival.name, "no_space", _no_space(arrival.file.size, room)))
            return b""
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


def _no_space(size: int, room: int) -> str:
    return (
        f"too large to archive: {size / 2**20:,.0f} MB, {max(room, 0) / 2**20:,.0f} MB free beyond the "
        "minimum kept free (TEILHABE_MIN_FREE_MB); left in the inbox"
    )


@dataclass(frozen=True)
class _Taken:
    """A file of the chunk as it was taken: its hash, size, times and (if from the inbox) its entry."""

    sha256: str
    size: int
    mtime_ns: int
    received_at: dt.datetime
    inbox_file: InboxFile | None
    held_id: int | None = None


@dataclass
class ReadChunk:
    """A chunk's files as read, before its transaction: what was taken (hashed, archived) and the
    batch read and validated from them. Reading touches no table, so the next chunk is read while
    one is written (ingest/load.py)."""

    intake: _Intake
    batch: Batch


def read_chunk(archive: Path, limits: Limits, arrivals: list[Arrival], known: set[str] | None) -> ReadChunk:
    """Each file read once (hashed and archived on the way) and validated with the rest of the
    chunk against the workshops ``known`` before it; a file that changed while being read is
    dropped from the batch, as if it had not arrived yet."""
    with ThreadPoolExecutor(TAKING_THREADS, thread_name_prefix="teilhabe-take") as taking:
        intake = _Intake(archive, limits, taking)
        try:
            batch = read_batch(intake.incoming(arrivals), known_workshops=known, limits=limits)
        except BaseException:
            taking.shutdown(cancel_futures=True)
            raise
    if intake.unstable:
        unstable = [entry.name for entry in intake.unstable]
        batch.files = {name: outcome for name, outcome in batch.files.items() if name not in unstable}
        batch.findings = batch.findings.filter(~pl.col("file").is_in(unstable))
        batch.valid = {t: f.filter(~pl.col("_file").is_in(unstable)) for t, f in batch.valid.items()}
    return ReadChunk(intake, batch)


def load_chunk(ctx: LoadContext, chunk: ReadChunk) -> None:
    """Load one chunk as read (the caller holds the transaction)."""
    intake, batch = chunk.intake, chunk.batch
    ctx.report.new_files -= len(intake.unstable)
    taken = {
        name: _Taken(sha, size, a.mtime_ns, a.received_at, a.file if a.from_inbox else None, a.held_id)
        for name, (sha, size, a) in intake.taken.items()
    }
    log = _load_batch(ctx, batch, taken)
    _remember_inbox_files(ctx, log, taken)
    _count(ctx.report, log)


def _load_batch(ctx: LoadContext, batch: Batch, taken: dict[str, _Taken]) -> pl.DataFrame:
    """The batch into the delivery log, the quarantine and the landing tables, with the warnings
    that compare it with what the warehouse holds; its delivery log rows."""
    _date_registers(ctx.con, batch, taken)
    log, latest = _decide(ctx, batch, taken)
    _replace_older(ctx, latest, log)
    _write_landing(ctx, batch, latest, log)
    _write_log(ctx.con, log, batch.findings)
    loaded = log.filter(pl.col("status") == "loaded")["delivery_id"].to_list()
    _warn_unknown_persons(ctx.con, loaded)
    placements = _check_placements(ctx.con, loaded)
    _warn_late_transitions(ctx.con, loaded)
    _warn_shrunk_corrections(ctx.con, loaded)
    _warn_persons_of_another_workshop(ctx.con, loaded)
    _warn_rows_of_another_workshop(ctx.con, sorted(set(loaded) | set(placements)))
    return log


# The findings that compare a file with its sender's other deliveries, which reading the file alone
# cannot give; a check (``rehearse``) tells them too. Not those that compare it with other senders'
# deliveries (a Personenmeldung's persons in another workshop's, bytes another sender sent): a check
# is free and repeatable, and would tell a workshop whether persons it made up are in another's.
OWN_DELIVERIES_RULES = (
    "same_bytes_other_period", "unknown_person", "late_transition", "correction_shrank",
    "persons_of_another_workshop",  # of placements and transitions: unknown to their own workshop
)  # fmt: skip


@dataclass(frozen=True)
class Rehearsed:
    """What loading a file now would do beside the warehouse's deliveries: its status in the
    delivery log, when the delivery it would replace came (a correction) or the one whose bytes it
    repeats came (a duplicate), and its ``OWN_DELIVERIES_RULES`` findings."""

    status: str
    replaces: dt.date | None
    repeats: dt.date | None
    findings: list[Issue]


# The rows a rehearsal may write at once: an insert of a whole row group (122,880 rows) is written
# to the database file at once, and a rollback leaves its blocks there, readable until reused.
REHEARSAL_ROWS = 100_000


def rehearse(
    con: duckdb.DuckDBPyConnection,
    key: PseudonymKey,
    limits: Limits,
    batch: Batch,
    files: dict[str, tuple[str, int, int, dt.datetime]],
) -> dict[str, Rehearsed]:
    """Load a batch as read (``files``: each one's SHA-256, size, modification time and arrival;
    at most REHEARSAL_ROWS data rows) as the pipeline would, in a transaction of its own that is
    rolled back: nothing stays, not even the tables of a new warehouse. For the check folder
    (publish/check_reports.py), whose Prüfbericht then tells what only the warehouse knows: a
    correction that shrank, a placement of a person the month's Personenmeldung lacks, bytes sent
    before. Nothing of other senders' deliveries: a file is loaded as its sender's own even where
    another sender sent the same bytes. Raises what loading would (another pseudonym key:
    ``KeyProblem``)."""
    from ingest.encodings import forget_values
    from ingest.ops_tables import check_key, prepare

    if sum(batch.files[name].rows_in for name in files) > REHEARSAL_ROWS:
        raise ValueError(f"a rehearsal of more than {REHEARSAL_ROWS:,} rows")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    taken = {
        name: _Taken(sha, size, mtime, received, None) for name, (sha, size, mtime, received) in files.items()
    }
    # only the findings of the comparisons are wanted: those of reading the files are the caller's
    batch = Batch(batch.files, batch.valid, batch.findings.clear())
    cursor = con.cursor()  # a transaction of its own, whatever the caller's connection is in
    try:
        cursor.execute("begin transaction")
        try:
            prepare(cursor)
            check_key(cursor, key, now)
            run = f"check-{now:%Y%m%d%H%M%S}"
            ctx = LoadContext(cursor, Path(), key, run, now, IngestReport(), limits, rehearsal=True)
            log = _load_batch(ctx, batch, taken)
            told, found = _rehearsal_outcome(cursor, log)
        finally:
            try:
                cursor.execute("rollback")
            finally:
                forget_values()
    finally:
        cursor.close()
    findings: dict[str, list[Issue]] = {name: [] for name, *_ in told}
    for name, row, column, rule, level, message, value, table in found:
        findings[name].append(Issue(name, row, column, rule, level, message, value, table))
    return {
        name: Rehearsed(status, replaces and replaces.date(), repeats and repeats.date(), findings[name])
        for name, status, replaces, repeats in told
    }


def _rehearsal_outcome(con: duckdb.DuckDBPyConnection, log: pl.DataFrame) -> tuple[list, list]:
    """Each rehearsed file's status, when the delivery it replaces came, and when the
    one whose bytes it repeats came (as ``_previous_deliveries`` found it: the first of them, of
    a register the one in force); and its findings of OWN_DELIVERIES_RULES."""
    con.register("_log", log.select("delivery_id", "file_name").to_arrow())
    told = con.execute(
        """
        select l.file_name, d.status,
               (select min(o.received_at) from ops.delivery_log o where o.superseded_by = d.delivery_id),
               (select case when d.format = 'lv_register'
                            then arg_max(o.received_at, o.period || lpad(o.delivery_id::varchar, 20, '0'))
                            else arg_min(o.received_at, o.delivery_id) end
                from ops.delivery_log o
                where d.status = 'duplicate' and o.sha256 = d.sha256 and o.sender = d.sender
                  and o.part = d.part and (o.period = d.period or o.format = 'lv_register')
                  and o.delivery_id < d.delivery_id and o.status in ('loaded', 'superseded'))
        from _log l join ops.delivery_log d using (delivery_id)
        """
    ).fetchall()
    found = con.execute(
        """
        select file_name, source_row, column_name, rule, level, message, value, source_table
        from ops.quarantine where delivery_id in (select delivery_id from _log)
          and list_contains(?, rule)
          and not (rule = 'persons_of_another_workshop' and source_table = 'wfbm_personen')
        order by file_name, source_table nulls first, source_row nulls first, rule
        """,
        [list(OWN_DELIVERIES_RULES)],
    ).fetchall()
    # A Personenmeldung checked alone re-checks the month's placements already delivered: their
    # warnings go with their own file, which a check does not answer. The Personenmeldung's report
    # says how many of them its persons would leave out (a senders' review: 0 findings for a file
    # that dropped ten persons with placements).
    found += [
        (name, None, "Personennummer", "unknown_person", "warning",
         (f"{count} Außenarbeitsplätze Ihrer Lieferung vom {received:%d.%m.%Y} gehören zu Personen, die in "
          "dieser Personenmeldung fehlen: sie würden dann nicht für die BiAp-Quote zählen; bitte prüfen, "
          "ob diese Personen zu Recht fehlen" if count > 1 else
          f"Ein Außenarbeitsplatz Ihrer Lieferung vom {received:%d.%m.%Y} gehört zu einer Person, die in "
          "dieser Personenmeldung fehlt: er würde dann nicht für die BiAp-Quote zählen; bitte prüfen, "
          "ob diese Person zu Recht fehlt"), None, "wfbm_personen")
        for name, received, count in con.execute(
            """
            select l.file_name, p.received_at, count(*)
            from _log l
            join ops.delivery_log c on c.delivery_id = l.delivery_id and c.part in ('personen', 'workbook')
            join ops.delivery_log p
                on p.sender = c.sender and p.period = c.period and p.part = 'aussenarbeitsplaetze'
                and p.status = 'loaded' and p.delivery_id not in (select delivery_id from _log)
            join ops.quarantine q
                on q.delivery_id = p.delivery_id and q.rule = 'unknown_person'
                and q.source_table = 'wfbm_aussenarbeitsplaetze'
            group by all order by all
            """
        ).fetchall()
    ]  # fmt: skip
    con.unregister("_log")
    return told, found


def known_workshops(con: duckdb.DuckDBPyConnection) -> set[str] | None:
    rows = con.execute(
        """
        select werkstatt_nr from landing.lv_werkstaetten
        where delivery_id in (select max(delivery_id) from landing.lv_werkstaetten group by sender)
        """
    ).fetchall()
    return {r[0] for r in rows} if rows else None


def _date_registers(con: duckdb.DuckDBPyConnection, batch: Batch, taken: dict[str, _Taken]) -> None:
    """Register versions are kept side by side (their period is the day they came): dim_workshops
    builds the history from them. A register is never dated before the one in force (sources.md:
    earlier means received earlier by the pipeline): an upload that kept an old modification time
    (WinSCP does by default) became a past version, and the register in force stayed (a
    hostile-input review). Every other delivery has the period it names."""
    in_force = dict(
        con.execute(
            "select sender, max(period) from ops.delivery_log where format = 'lv_register' "
            "and status in ('loaded', 'superseded') group by sender"
        ).fetchall()
    )
    for outcome in batch.files.values():
        if outcome.delivery and outcome.delivery.format == "lv_register":
            d = outcome.delivery
            received = max(taken[outcome.name].received_at.date().isoformat(), in_force.get(d.sender, ""))
            outcome.delivery = Delivery(d.name, "lv_register", d.sender, "werkstaetten", received)


def _duplicate_key(
    sha256: str, fmt: str | None, sender: str | None, part: str | None, period: str | None
) -> tuple:
    """Identical bytes for the same sender, part and period (a register: whenever it came, and
    only the register in force: an earlier one sent again to restore it is a new version)."""
    return (sha256, sender, part, "" if fmt == "lv_register" else period)


def _replacement_key(table: str, delivery: Delivery) -> tuple[str, str, str]:
    return (table, delivery.sender or "", delivery.period)


# A workshop's placements can stay the same for months; any other file with data rows that is
# byte for byte another period's was most likely exported for the wrong month.
SAME_BYTES_EXPECTED = {"aussenarbeitsplaetze"}


def _previous_deliveries(
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[tuple, int], dict[tuple, str], dict[str, tuple]]:
    """The first delivery of each content (for duplicates), loaded or superseded since; the
    period each content with data rows was first delivered for (sha256, sender, part); and the
    sender, period and delivery of each content with data rows (sha256)."""
    previous: dict[tuple, int] = {}
    periods: dict[tuple, str] = {}
    owners: dict[str, tuple] = {}
    registers: dict[str, tuple] = {}  # the register in force per sender: (its key, its delivery)
    for sha, fmt, sender, part, period, rows, delivery_id in con.execute(
        "select sha256, format, sender, part, period, rows_in, delivery_id from ops.delivery_log "
        "where status in ('loaded', 'superseded') order by delivery_id"
    ).fetchall():
        if fmt == "lv_register":  # in dim_workshops' order: by the day it came, then delivery
            if sender not in registers or (period, delivery_id) >= registers[sender][1]:
                registers[sender] = (_duplicate_key(sha, fmt, sender, part, period), (period, delivery_id))
        else:
            previous.setdefault(_duplicate_key(sha, fmt, sender, part, period), delivery_id)
        if rows and fmt != "lv_register":
            periods.setdefault((sha, sender, part), period)
        if rows:
            owners.setdefault(sha, (sender, period, delivery_id))
    for key, (_, delivery_id) in registers.values():
        previous[key] = delivery_id
    return previous, periods, owners


def _file_of(con: duckdb.DuckDBPyConnection, delivery_id: int) -> tuple[str, dt.datetime, int | None]:
    """A delivery's file name, arrival, and the delivery that replaced it (None: in force)."""
    return con.execute(
        "select file_name, received_at, case when status = 'superseded' then superseded_by end "
        "from ops.delivery_log where delivery_id = ?",
        [delivery_id],
    ).fetchone()


def _same_bytes_as_another_sender(owner: tuple) -> str:
    """Data rows byte for byte another sender's delivery: sent under the wrong number, almost
    surely (a Jobcenter's customers copied under another's Kreis replaced that Jobcenter's month
    without a word, a hostile-input review)."""
    sender, period, delivery_id = owner
    return (
        f"byteweise gleich der Lieferung {delivery_id} von {sender} für {period}: wohl unter falscher "
        "Nummer gesendet; nicht geladen. Bitte die eigene Datei senden"
    )


RELEASED_TOO_LATE = (
    "gehalten, bis das Werkstättenverzeichnis die Werkstatt nannte; inzwischen kam eine spätere "
    "Lieferung für denselben Zeitraum, die gilt"
)


def _taken_after(con: duckdb.DuckDBPyConnection, delivery: Delivery, held_id: int) -> int | None:
    """The newest delivery of the same sender, part and period that the pipeline took after a held
    file (its correction, sent with the register): the released file replaces nothing then. The
    pipeline's own order (delivery ids), not the files' modification times, which senders set."""
    overlapping = [delivery.part]  # a workshop's workbook holds its three CSV parts
    if delivery.part == "workbook":
        overlapping += WFBM_PARTS
    elif delivery.part in WFBM_PARTS:
        overlapping.append("workbook")
    return con.execute(
        "select max(delivery_id) from ops.delivery_log where sender = ? and period = ? "
        "and list_contains(?, part) and delivery_id > ? and status in ('loaded', 'superseded')",
        [delivery.sender, delivery.period, overlapping, held_id],
    ).fetchone()[0]


def _same_bytes_as_another_period(name: str, period: str, other: str) -> Issue:
    return Issue(
        name, None, None, "same_bytes_other_period", "warning",
        f"byteweise gleich der Lieferung für {other}: geladen für {period}; bitte prüfen, ob der "
        "richtige Zeitraum exportiert wurde (sonst die richtige Datei erneut senden)",
    )  # fmt: skip


def _refused(
    ctx: LoadContext, outcome, file: _Taken, duplicate_of: tuple | None, owners: dict[str, tuple]
) -> tuple[str, str, int | None] | None:
    """(status, message, superseded by) of a file that is not loaded: rejected, held, a duplicate,
    another sender's bytes, or a held file whose period a later delivery took; None: loaded."""
    d = outcome.delivery
    if outcome.rejected_because:
        return "rejected", outcome.rejected_because, None
    if outcome.held_because:
        return "held", outcome.held_because, None
    if duplicate_of is not None:
        return "duplicate", _same_bytes_again(*duplicate_of), None
    if not ctx.rehearsal and outcome.rows_in and (owner := owners.get(file.sha256)) and owner[0] != d.sender:
        return "rejected", _same_bytes_as_another_sender(owner), None
    if file.held_id is not None and (newer := _taken_after(ctx.con, d, file.held_id)):
        return "superseded", RELEASED_TOO_LATE, newer
    return None


def _same_bytes_again(delivery_id: int, name: str, received_at: dt.datetime, replaced_by: int | None) -> str:
    """A duplicate names the file it repeats and when that came, not only its delivery id: the
    sender and the operator look for a file, not a number (an operator review). Bytes of a delivery
    a later one replaced change nothing either (sources.md: identical to an earlier delivery); the
    sender is told which delivery stays in force (it read "nichts geändert" as if its file were)."""
    said = f"dieselben Bytes wie {name} vom {received_at:%d.%m.%Y} (Lieferung {delivery_id}"
    if replaced_by is None:
        return said + "; nichts geändert)"
    return (
        said
        + f"), die Lieferung {replaced_by} ersetzt hat: nichts geändert, es gilt weiter Lieferung {replaced_by}"
    )


def _decide(ctx: LoadContext, batch: Batch, taken: dict[str, _Taken]) -> tuple[pl.DataFrame, dict]:
    """Each file's delivery id (in received order) and status, as the rows of the delivery log;
    and which file now holds each (landing table, sender, period): a later file of the batch wins."""
    start = ctx.con.execute("select coalesce(max(delivery_id), 0) from ops.delivery_log").fetchone()[0]
    # as the chunks were cut (ingest/load.py): a file dated 1980 counts as received by the run
    in_received_order = sorted(batch.files, key=lambda n: (taken[n].received_at, taken[n].mtime_ns, n))
    ids = {name: start + i for i, name in enumerate(in_received_order, start=1)}
    files = {ids[name]: (name, taken[name].received_at, None) for name in in_received_order}
    previous, periods, owners = _previous_deliveries(ctx.con)
    log_rows, latest, warnings, rejections = [], {}, [], []
    for name in in_received_order:
        outcome, file = batch.files[name], taken[name]
        d = outcome.delivery
        status, message, superseded_by = "loaded", None, None
        named = (d.format, d.sender, d.part, d.period) if d else (None, None, None, None)
        content = _duplicate_key(file.sha256, *named)
        sender, period = (d.sender, d.period) if d else (None, None)
        if sender is None:  # a name no pattern matches, or a workbook rejected before its title block
            # was read (empty, damaged): its sender hears of it where the name says who and when
            sender, period = sender_named_in(name) or (sender, period)
        first = previous.get(content)
        repeats = (first, *(files.get(first) or _file_of(ctx.con, first))) if first is not None else None
        if refused := _refused(ctx, outcome, file, repeats, owners):
            status, message, superseded_by = refused
            if status == "rejected" and not outcome.rejected_because:
                rejections.append(Issue(name, None, None, "same_bytes_other_sender", "file", message))
        else:
            previous[content] = ids[name]
            if outcome.rows_in:
                owners.setdefault(file.sha256, (d.sender, d.period, ids[name]))
            for table in d.tables:
                latest[_replacement_key(table, d)] = name
            if outcome.rows_in and d.format != "lv_register" and d.part not in SAME_BYTES_EXPECTED:
                other = periods.setdefault((file.sha256, d.sender, d.part), d.period)
                if other != d.period:
                    warnings.append(_same_bytes_as_another_period(name, d.period, other))
        log_rows.append(
            {
                "delivery_id": ids[name], "file_name": name, "format": d.format if d else None,
                "sender": sender, "part": d.part if d else None, "period": period,
                "sha256": file.sha256, "bytes": file.size, "file_mtime_ns": file.mtime_ns,
                "received_at": file.received_at, "ingested_at": ctx.now, "run_id": ctx.run_id, "status": status,
                "rows_in": outcome.rows_in, "rows_loaded": outcome.rows_loaded if status == "loaded" else 0,
                "rows_quarantined": outcome.rows_quarantined, "message": message, "superseded_by": superseded_by,
            }
        )  # fmt: skip
    if warnings or rejections:
        batch.findings = pl.concat([batch.findings, issues_frame(warnings + rejections)])
    log = pl.DataFrame(log_rows, infer_schema_length=None)
    return _superseded_within(log, batch, latest, ids), latest


def _superseded_within(log: pl.DataFrame, batch: Batch, latest: dict, ids: dict[str, int]) -> pl.DataFrame:
    """Within the batch, a file all of whose tables were taken by a later file never loads, and
    says which file took its period and why that one (a hostile-input review: of two files of one
    month in one run, the older won by its name, without a word)."""
    winners = set(latest.values())
    loaded_files = log.filter(pl.col("status") == "loaded")["file_name"].to_list()
    taken_by = {
        n: latest[_replacement_key(t, batch.files[n].delivery)]
        for n in loaded_files
        if n not in winners
        for t in batch.files[n].delivery.tables[:1]
    }
    superseded_by = {n: ids[winner] for n, winner in taken_by.items()}
    told = {
        n: f"ersetzt durch {winner}, im selben Lauf für denselben Zeitraum eingegangen und als spätere "
        "geladen (jüngere Änderungszeit, bei gleicher der im Namen spätere); bitte je Zeitraum nur eine "
        "Datei senden"
        for n, winner in taken_by.items()
    }
    in_batch = pl.col("file_name").is_in(list(superseded_by))
    return log.with_columns(
        pl.when(in_batch)
        .then(pl.col("file_name").replace_strict(told, default=None, return_dtype=pl.String))
        .otherwise(pl.col("message"))
        .alias("message"),
        pl.when(in_batch).then(pl.lit("superseded")).otherwise(pl.col("status")).alias("status"),
        pl.when(in_batch).then(0).otherwise(pl.col("rows_loaded")).alias("rows_loaded"),
        pl.when(in_batch)
        .then(pl.col("file_name").replace_strict(superseded_by, default=None, return_dtype=pl.Int64))
        .otherwise(pl.col("superseded_by").cast(pl.Int64))
        .alias("superseded_by"),
    )


WORKBOOK_TABLES = tuple(f"wfbm_{part}" for part in WFBM_PARTS)  # the landing tables a workbook fills


def _replace_older(ctx: LoadContext, latest: dict, log: pl.DataFrame) -> None:
    """Earlier deliveries of the same table, sender and period leave the landing tables (they stay
    in the archive and the log, as superseded): one join per table."""
    ids = dict(log.select("file_name", "delivery_id").iter_rows())
    replacing = pl.DataFrame(
        [(table, sender, period, ids[name]) for (table, sender, period), name in latest.items()],
        schema={"landing_table": pl.String, "sender": pl.String, "period": pl.String, "new_id": pl.Int64},
        orient="row",
    )
    con = ctx.con
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
    if not superseded:
        return
    # A workshop's workbook holds three parts: a CSV file replacing one of them leaves the others
    # in force, and the workbook stays loaded, told as partly replaced (it was logged superseded
    # whole, while two of its sheets were still what the figures rest on).
    partly = {
        old
        for table in WORKBOOK_TABLES
        for (old,) in con.execute(
            f"select distinct delivery_id from landing.{table} where delivery_id in (select unnest(?))",
            [list(superseded)],
        ).fetchall()
    }
    changes = pl.DataFrame(
        [(old, new, old in partly) for old, new in superseded.items()],
        schema={"old": pl.Int64, "new": pl.Int64, "partly": pl.Boolean},
        orient="row",
    )
    con.register("_superseded", changes.to_arrow())
    con.execute(
        """update ops.delivery_log
           set status = case when s.partly then status else 'superseded' end,
               superseded_by = case when s.partly then superseded_by else s.new end,
               message = case when s.partly
                              then 'teilweise ersetzt durch Lieferung ' || s.new || '; die übrigen Teile gelten'
                              else message end
           from _superseded s where delivery_id = s.old"""
    )
    con.unregister("_superseded")
    ctx.report.superseded += len(superseded) - len(partly)


def _write_landing(ctx: LoadContext, batch: Batch, latest: dict, log: pl.DataFrame) -> None:
    """The valid rows of each table's winning files, pseudonymised, into landing."""
    deliveries = log.filter(pl.col("file_name").is_in(list(set(latest.values())))).select(
        pl.col("file_name").alias("_file"), "delivery_id", "sender", "period"
    )
    for table in list(batch.valid):
        valid = batch.valid.pop(table)  # each table's rows let go once written: less memory at once
        wanted = {n for (t, _, _), n in latest.items() if t == table}
        frame = identified(
            table, valid.filter(pl.col("_file").is_in(list(wanted))), deliveries, ctx.key.secret
        )
        rows = landing_frame(table, frame)
        if rows.height:
            ctx.con.register("_rows", rows.to_arrow())
            ctx.con.execute(f"insert into landing.{table} by name select * from _rows")
            ctx.con.unregister("_rows")
            ctx.report.tables_changed.add(table)
        if table in PERSON_COLUMNS and rows.height:
            records = linkage_frame(table, frame, ctx.key.secret, partial(_not_recorded, ctx.con))
            _write_linkage_records(ctx, records)


def _not_recorded(con: duckdb.DuckDBPyConnection, records: pl.DataFrame) -> pl.DataFrame:
    """The person records whose identity linkage.person_records does not hold yet."""
    con.register("_candidates", records.select(RECORD_IDENTITY).with_row_index("_i").to_arrow())
    new = con.execute(
        "select _i from _candidates c anti join linkage.person_records r using (source_table, local_key, person_key) "
        "order by _i"
    ).pl()
    con.unregister("_candidates")
    return records[new["_i"]]


def _write_linkage_records(ctx: LoadContext, records: pl.DataFrame) -> None:
    """New person records' encodings (a person already known under the same identity is kept as
    first delivered: ``_not_recorded`` left such records out before encoding, the conflict clause
    keeps it so whatever the caller passed)."""
    ctx.con.register("_records", records.to_arrow())
    ctx.con.execute(
        "insert into linkage.person_records by name select * from _records on conflict do nothing"
    )
    ctx.con.unregister("_records")


def _write_log(con: duckdb.DuckDBPyConnection, log: pl.DataFrame, findings: pl.DataFrame) -> None:
    """The delivery log's rows and every finding (file, row, column, rule) into the quarantine."""
    con.register("_log", log.to_arrow())
    con.execute("insert into ops.delivery_log by name select * from _log")
    con.unregister("_log")
    findings = findings.join(
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


def _warn_unknown_persons(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> None:
    """A transition of a Personennummer that no snapshot of its workshop holds is loaded, with a
    warning: a typing error in the number, or a person the snapshots missed."""
    con.execute(
        """
        insert into ops.quarantine by name
        select t.delivery_id, d.file_name, t.source_row as source_row, 'wfbm_uebergaenge' as source_table,
               'Personennummer' as column_name, 'unknown_person' as rule, 'warning' as level,
               'Übergang einer Person, die in keiner Personenmeldung dieser Werkstatt vorkommt'
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


def _check_placements(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> list[int]:
    """A placement of a Personennummer that its month's snapshot does not hold is loaded with a
    warning: it counts in no BiAp-Quote (counted with the month's persons in the work area),
    silently before. Checked once the month's snapshot is in, whichever file came first, and again
    with each new snapshot of the month: the placements loaded before it are told (the warning goes
    with their file, in the month's Rückmeldung), or no longer told once it holds their persons.
    Returns the placements' deliveries checked again."""
    again = [
        row[0]
        for row in con.execute(
            """
            select distinct a.delivery_id
            from landing.wfbm_aussenarbeitsplaetze as a
            semi join (
                select sender, period from landing.wfbm_personen where delivery_id in (select unnest(?))
            ) using (sender, period)
            where a.delivery_id not in (select unnest(?))
            """,
            [delivery_ids, delivery_ids],
        ).fetchall()
    ]
    con.execute(  # what the snapshot before them said of these placements
        """
        delete from ops.quarantine
        where delivery_id in (select unnest(?)) and source_table = 'wfbm_aussenarbeitsplaetze'
          and rule in ('unknown_person', 'persons_of_another_workshop')
        """,
        [again],
    )
    con.execute(
        """
        insert into ops.quarantine by name
        with placements as (
            select delivery_id, sender, period, source_row, person_local_key
            from landing.wfbm_aussenarbeitsplaetze where delivery_id in (select unnest(?))
        ),
        months as (select distinct sender, period from placements),
        snapshots as (  -- the placements' workshops and months only (all: ~4 million rows at NRW 5 years)
            select p.sender, p.period, p.person_local_key
            from landing.wfbm_personen as p semi join months using (sender, period)
        )
        select t.delivery_id, d.file_name, t.source_row, 'wfbm_aussenarbeitsplaetze' as source_table,
               'Personennummer' as column_name, 'unknown_person' as rule, 'warning' as level,
               'Außenarbeitsplatz einer Person, die in der Personenmeldung dieser Werkstatt für '
                   || strftime(cast(t.period || '-01' as date), '%m/%Y') || ' nicht vorkommt: zählt '
                   || 'für die BiAp-Quote nicht; bitte die Personennummer prüfen' as message,
               null as value
        from placements as t
        join ops.delivery_log as d using (delivery_id)
        where exists (select 1 from snapshots as s where s.sender = t.sender and s.period = t.period)
          and not exists (
              select 1 from snapshots as s
              where s.sender = t.sender and s.period = t.period and s.person_local_key = t.person_local_key
          )
        """,
        [[*delivery_ids, *again]],
    )
    return again


def _warn_late_transitions(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> None:
    """A transition dated in an earlier month whose own file came and did not hold it, and that no
    file before named (a re-sent row with a changed Rückkehr lies earlier too, sources.md §1): it is
    loaded, as a late report would be, but never without a word, since it changes the figures of a
    month that may be published (a hostile review: a transition of 2022 in a 2025 file changed
    2022's K-figures silently), and a mistyped year does the same."""
    con.execute(
        """
        insert into ops.quarantine by name
        select t.delivery_id, d.file_name, t.source_row, 'wfbm_uebergaenge' as source_table,
               'Datum' as column_name, 'late_transition' as rule, 'warning' as level,
               -- months as the reports write them (12/2024); "der" right after the Übergang it means
               'Übergang, der in Ihrer Meldung für ' || strftime(t.datum, '%m/%Y') || ' nicht stand, obwohl '
                   || 'sein Datum in diesem Monat liegt: er ändert die Zahlen für ' || strftime(t.datum, '%m/%Y')
                   || '; bitte das Datum prüfen, wenn der Übergang nicht nachgemeldet ist' as message,
               null as value
        from landing.wfbm_uebergaenge t
        join ops.delivery_log d using (delivery_id)
        where t.delivery_id in (select unnest(?))
          and strftime(t.datum, '%Y-%m') < t.period
          and exists (  -- the month's own transitions came: a workbook or an uebergaenge file
              select 1 from ops.delivery_log m
              where m.sender = t.sender and m.period = strftime(t.datum, '%Y-%m')
                and m.part in ('uebergaenge', 'workbook') and m.status in ('loaded', 'superseded')
          )
          and not exists (
              select 1 from landing.wfbm_uebergaenge e
              where e.sender = t.sender and e.person_local_key = t.person_local_key
                and e.datum = t.datum and e.period < t.period
          )
        """,
        [delivery_ids],
    )


# A correction with fewer than this share of the data rows of the delivery it replaces is told.
SHRUNK_CORRECTION = 0.5


def _warn_shrunk_corrections(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> None:
    """A correction replaces its period whole (sources.md), so one with far fewer rows than the
    delivery it replaces loads, with a warning to its sender and the operator: a hostile-input
    review replaced a month's 363 persons by the first 108 (an upload that stopped at a line end),
    and K01, K14 and the totals moved without a word. Its own rows only: the counts are the sender's."""
    con.execute(
        f"""
        insert into ops.quarantine by name
        select new.delivery_id, new.file_name, null as source_row, null as source_table, null as column_name,
               'correction_shrank' as rule, 'warning' as level,
               'ersetzt die Lieferung vom ' || strftime(old.received_at, '%d.%m.%Y') || ' (' || old.rows_in
                   || ' Datenzeilen) mit nur ' || new.rows_in || ': der Zeitraum beruht nun allein auf dieser '
                   || 'Datei; bitte prüfen, ob sie vollständig ist' as message,
               null as value
        from ops.delivery_log as new
        join ops.delivery_log as old on old.superseded_by = new.delivery_id
        where new.delivery_id in (select unnest(?))
          and old.rows_in >= 10 and new.rows_in < old.rows_in * {SHRUNK_CORRECTION}
        """,
        [delivery_ids],
    )


# A snapshot of which at least this share of persons another workshop reports for the same month is told.
SHARED_SNAPSHOT = 0.5


def _warn_persons_of_another_workshop(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> None:
    """A Personenmeldung at least half of whose persons (by the exact person key) another workshop
    reports for the same month loads with a warning: persons change workshops one by one, never
    half of them in a month, so it is most likely another workshop's file under this one's name (a
    hostile-input review: a workshop's shuffled snapshot under another's name replaced that one's
    month, K01 12/240 became 0/576, without a word). The other workshop is not named."""
    con.execute(
        f"""
        insert into ops.quarantine by name
        with new as (
            select distinct delivery_id, sender, period, person_key
            from landing.wfbm_personen where delivery_id in (select unnest(?))
        ),
        shared as (
            select new.delivery_id, count(distinct new.person_key) as persons,
                   count(distinct new.person_key) filter (where other.person_key is not null) as elsewhere
            from new
            left join landing.wfbm_personen as other
              on other.period = new.period and other.person_key = new.person_key and other.sender != new.sender
            group by new.delivery_id
        )
        select shared.delivery_id, d.file_name, null as source_row, 'wfbm_personen' as source_table,
               null as column_name, 'persons_of_another_workshop' as rule, 'warning' as level,
               'die Hälfte oder mehr der Personen dieser Meldung stehen in der Personenmeldung einer anderen '
                   || 'Werkstatt für denselben Monat: bitte prüfen, ob es die Datei dieser Werkstatt ist' as message,
               null as value
        from shared join ops.delivery_log as d using (delivery_id)
        where shared.persons >= 10 and shared.elsewhere >= shared.persons * {SHARED_SNAPSHOT}
        """,
        [delivery_ids],
    )


def _warn_rows_of_another_workshop(con: duckdb.DuckDBPyConnection, delivery_ids: list[int]) -> None:
    """A file's placements or transitions at least half of which name persons unknown to its
    workshop (``unknown_person``, row by row) get one warning more: most likely another workshop's
    file under this one's name (a hostile-input review; its Personenmeldung is caught by
    ``_warn_persons_of_another_workshop``), and it replaced this workshop's month. Transitions only
    once the workshop has sent a Personenmeldung: before, every transition is unknown."""
    con.execute(
        f"""
        insert into ops.quarantine by name
        with told as (
            select delivery_id, source_table, count(distinct source_row) as unknown
            from ops.quarantine
            where delivery_id in (select unnest(?)) and rule = 'unknown_person'
            group by all
        ),
        rows_in as (
            select delivery_id, 'wfbm_aussenarbeitsplaetze' as source_table, count(*) as data_rows,
                   'Außenarbeitsplätze' as what,
                   'nicht in der Personenmeldung dieser Werkstatt für ihren Monat' as where_missing
            from landing.wfbm_aussenarbeitsplaetze where delivery_id in (select unnest(?)) group by all
            union all
            select delivery_id, 'wfbm_uebergaenge', count(*), 'Übergänge',
                   'in keiner Personenmeldung dieser Werkstatt'
            from landing.wfbm_uebergaenge as t
            where delivery_id in (select unnest(?))
              and exists (select 1 from landing.wfbm_personen as p where p.sender = t.sender)
            group by all
        )
        select told.delivery_id, d.file_name, null as source_row, told.source_table, null as column_name,
               'persons_of_another_workshop' as rule, 'warning' as level,
               'die Hälfte oder mehr der ' || rows_in.what || ' dieser Datei nennen Personennummern, die '
                   || rows_in.where_missing || ' stehen: bitte prüfen, ob es die Datei dieser Werkstatt ist'
                   as message,
               null as value
        from told
        join rows_in using (delivery_id, source_table)
        join ops.delivery_log as d using (delivery_id)
        where rows_in.data_rows >= 10 and told.unknown >= rows_in.data_rows * {SHARED_SNAPSHOT}
          and not exists (
              select 1 from ops.quarantine as q
              where q.delivery_id = told.delivery_id and q.source_table = told.source_table
                  and q.rule = 'persons_of_another_workshop'
          )
        """,
        [delivery_ids, delivery_ids, delivery_ids],
    )


def _remember_inbox_files(ctx: LoadContext, log: pl.DataFrame, taken: dict[str, _Taken]) -> None:
    """The inbox files taken, with what identifies them unchanged on the next run (ops.inbox_files)."""
    files = {name: t.inbox_file for name, t in taken.items() if t.inbox_file is not None}
    seen = (
        log.filter(pl.col("file_name").is_in(list(files)))
        .select("file_name", "bytes", "file_mtime_ns", "sha256", "delivery_id")
        .with_columns(
            pl.col("file_name").replace_strict({n: f.ctime_ns for n, f in files.items()}).alias("ctime"),
            pl.col("file_name").replace_strict({n: f.inode for n, f in files.items()}).alias("inode"),
            pl.lit(ctx.now).alias("seen_at"),
        )
    )
    ctx.con.register("_seen", seen.to_arrow())
    ctx.con.execute(
        "insert or replace into ops.inbox_files select file_name, bytes, file_mtime_ns, ctime, inode, sha256, "
        "delivery_id, seen_at from _seen"
    )
    ctx.con.unregister("_seen")


def _count(report: IngestReport, log: pl.DataFrame) -> None:
    by_status = dict(log.group_by("status").len().iter_rows())
    report.loaded += by_status.get("loaded", 0)
    report.rejected += by_status.get("rejected", 0)
    report.duplicates += by_status.get("duplicate", 0)
    report.superseded += by_status.get("superseded", 0)
    report.held += by_status.get("held", 0)
    report.rows_loaded += int(log.filter(pl.col("status") == "loaded")["rows_loaded"].sum())
    report.rows_quarantined += int(log["rows_quarantined"].sum())
