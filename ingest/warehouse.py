"""Loading a batch into the warehouse: raw archive, delivery log, quarantine and landing tables.

One run takes every new file of the inbox. Files already logged (same name, size and mtime) are not
read again. Each new file is archived as received (content-addressed by SHA-256, owner-only), read
and validated with the rest of its batch, and logged. Identical bytes for the same sender, part and
period are a duplicate. A newer delivery for the same landing table, sender and period replaces
the older one's rows (the older stays in the archive and the log, as superseded). Files are taken
in received order, in chunks of a few thousand, each chunk one transaction: a crash leaves the
landing tables as they were after the last whole chunk, as if the later files had not arrived yet,
and the rerun takes those. (One transaction for a whole initial load would hold every uncommitted
row in memory: DuckDB keeps them outside its memory limit, ~0.2 GiB per chunk.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ingest.batch import read_batch
from ingest.identify import Delivery
from ingest.landing import empty_landing_frame, landing_frame
from ingest.pseudonymise import PseudonymKey
from schemas import SOURCE_TABLES

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
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    superseded: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    tables_changed: set[str] = field(default_factory=set)

    def summary(self) -> str:
        return (
            f"{self.new_files} new files ({self.skipped_known} already known): {self.loaded} loaded, "
            f"{self.rejected} rejected, {self.duplicates} duplicates, {self.superseded} superseded; "
            f"{self.rows_loaded:,} rows loaded, {self.rows_quarantined:,} quarantined"
        )


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(OPS_DDL)
    for table in SOURCE_TABLES:
        con.register("_empty", empty_landing_frame(table).to_arrow())
        con.execute(f"create table if not exists landing.{table} as select * from _empty")
        con.unregister("_empty")


def archive_file(archive: Path, content: bytes, sha256: str) -> Path:
    """Store bytes as received under their SHA-256; owner-only; written once."""
    folder = archive / sha256[:2]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / sha256
    if not path.exists():
        temporary = path.with_suffix(".part")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    return path


def _new_files(con: duckdb.DuckDBPyConnection, inbox: Path) -> tuple[list[tuple[Path, os.stat_result]], int]:
    known = {
        (name, size, mtime)
        for name, size, mtime in con.execute(
            "select file_name, bytes, file_mtime_ns from ops.delivery_log"
        ).fetchall()
    }
    files, skipped = [], 0
    with os.scandir(inbox) as entries:  # one stat per file: the inbox keeps every file ever sent
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(".part") or not entry.is_file():
                continue
            stat = entry.stat()
            if (entry.name, stat.st_size, stat.st_mtime_ns) in known:
                skipped += 1
                continue
            files.append((Path(entry.path), stat))
    files.sort(key=lambda item: (item[1].st_mtime_ns, item[0].name))  # received order
    return files, skipped


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


def ingest(
    con: duckdb.DuckDBPyConnection, inbox: Path, archive: Path, key: PseudonymKey, run_id: str = ""
) -> IngestReport:
    prepare(con)
    report = IngestReport()
    files, report.skipped_known = _new_files(con, inbox)
    report.new_files = len(files)
    if not files:
        return report
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    archive.mkdir(parents=True, exist_ok=True)
    os.chmod(archive, 0o700)  # plaintext lives here and only here (privacy.md §2)
    # Chunks bound memory (frames and uncommitted rows) while fixed costs are paid once per chunk.
    for start in range(0, len(files), chunk_files()):
        con.execute("begin transaction")
        try:
            _ingest_chunk(con, files[start : start + chunk_files()], archive, key, run_id, now, report)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return report


def chunk_files() -> int:
    return int(os.environ.get(CHUNK_ENV, DEFAULT_CHUNK_FILES))


def _ingest_chunk(
    con: duckdb.DuckDBPyConnection,
    files: list[tuple[Path, os.stat_result]],
    archive: Path,
    key: PseudonymKey,
    run_id: str,
    now: dt.datetime,
    report: IngestReport,
) -> None:
    hashes: dict[str, tuple[str, int, int, dt.datetime]] = {}
    stats = {path.name: stat for path, stat in files}

    def archive_as_read(path: Path, content: bytes) -> None:
        sha256 = hashlib.sha256(content).hexdigest()
        archive_file(archive, content, sha256)
        stat = stats[path.name]
        received = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
        hashes[path.name] = (sha256, len(content), stat.st_mtime_ns, received)

    batch = read_batch(
        [p for p, _ in files], known_workshops=_known_workshops(con), on_content=archive_as_read
    )

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
            status, message = "duplicate", f"the same bytes as delivery {first}"
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
    by_status = dict(log.group_by("status").len().iter_rows())
    report.loaded += by_status.get("loaded", 0)
    report.rejected += by_status.get("rejected", 0)
    report.duplicates += by_status.get("duplicate", 0)
    report.superseded += by_status.get("superseded", 0)
    report.rows_loaded += int(log.filter(pl.col("status") == "loaded")["rows_loaded"].sum())
    report.rows_quarantined += int(log["rows_quarantined"].sum())


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
