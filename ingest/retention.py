"""Archive retention (privacy.md §2): delivered files are removed on purpose, by a setting, and the
removal is recorded in the delivery log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb


def prune_archive(
    con: duckdb.DuckDBPyConnection, archive: Path, years: int, today: dt.date | None = None
) -> int:
    """Remove archived files whose every delivery's period ended more than ``years`` ago, or, for
    a file of no period, that were taken more than ``years`` ago (privacy.md §2: on purpose, by a
    setting, and recorded in the delivery log). Never by a file's modification time, which its
    sender sets: a forged old one removed a hostile file from the archive at the next run (a
    register's period is the day it arrived, so its taking counts too)."""
    today = today or dt.date.today()
    cutoff = dt.date(today.year - years, today.month, min(today.day, 28))
    period_end = """
        case when length(period) = 7 then last_day(strptime(period || '-01', '%Y-%m-%d'))
             when length(period) = 4 then make_date(cast(period as integer), 12, 31)
             when length(period) = 10 then greatest(strptime(period, '%Y-%m-%d'), ingested_at)
             else ingested_at end
    """
    expired = con.execute(
        f"select sha256 from ops.delivery_log group by sha256 "
        # a held file waits for its register, however old its period (ingest/load.py)
        f"having max({period_end}) < ? and bool_and(archive_removed_at is null) and bool_and(status != 'held')",
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
