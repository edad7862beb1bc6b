"""What should have arrived, from the delivery calendar ops.expected_deliveries (dbt model
dbt_project/models/operations; issue 17): for the operator of a hundred senders, the daily digest of
overdue and late files (internal, reports/operations/: senders, parts and periods, never a person
or a value); for a partner, the data status of its report — which of the files its figures rest on
were missing or late.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from ingest.formats import WFBM_PARTS

CALENDAR = "ops.expected_deliveries"
LATE_WINDOW_DAYS = 90  # late arrivals are listed for this long after their due day
COLUMNS = ("status", "sender", "sender_kind", "landschaftsverband", "part", "period", "due_on", "received_at",
           "days_late", "file_name", "message", "similar_workshops")  # fmt: skip


@dataclass(frozen=True)
class Digest:
    as_of: date
    overdue: list[dict]
    late: list[dict]
    rejected: list[dict] = field(default_factory=list)  # refused by a run of the window, not since sent again
    held: list[dict] = field(default_factory=list)  # waiting for a register that names their sender
    # files of the inbox's check folder whose sender no rule recognised: their Prüfbericht is the
    # operator's to forward (publish/check_reports.py)
    checked_unaddressed: list[dict] = field(default_factory=list)
    # when the last file arrived and the last complete run ended (naive UTC; None: never): the
    # calendar ends at the newest month anyone delivered, so a drop folder nothing reaches any more
    # showed no new overdue file, and a run failing every night showed nothing (an operator review)
    last_received: datetime | None = None
    last_complete_run: datetime | None = None
    loaded_since_complete_run: int = 0  # files a run loaded that no complete run has built and published

    def text(self) -> str:
        def line(row: dict) -> str:
            when = (
                f"received {row['received_at']:%Y-%m-%d}, {row['days_late']} days late"
                if row["received_at"]
                else f"{row['days_late']} days overdue"
            )
            return (
                f"  {row['sender']:<10} {row['sender_kind']:<18} {row['part']:<22} {row['period']:<8} "
                f"due {row['due_on']:%Y-%m-%d}, {when}"
            )

        def arrival(row: dict) -> str:
            what = " ".join(row[c] or "?" for c in ("sender", "part", "period"))
            typo = (
                f"; a mistyped number? {row['similar_workshops']} still misses this part of this period"
                if row.get("similar_workshops")
                else ""
            )
            return f"  {row['file_name']} ({what}), received {row['received_at']:%Y-%m-%d}: {row['message']}{typo}"

        senders = len({r["sender"] for r in self.overdue})
        received = (
            f"last file received {self.last_received:%Y-%m-%d} ({(self.as_of - self.last_received.date()).days} "
            "days ago)"
            if self.last_received
            else "no file received yet"
        )
        complete = (
            f"last complete run {self.last_complete_run:%Y-%m-%d %H:%M} UTC"
            if self.last_complete_run
            else "no complete run yet"
        )
        if self.loaded_since_complete_run:
            complete += (
                f"; {self.loaded_since_complete_run} file{'s' if self.loaded_since_complete_run != 1 else ''} "
                "loaded since, not yet built and published: the "
                "run after them failed or is still going (see its log: make dev, or journalctl)"
            )
        lines = [
            f"Delivery digest as of {self.as_of:%Y-%m-%d}",
            received,
            complete,
            f"overdue: {len(self.overdue)} files from {senders} senders" + (":" if self.overdue else ""),
            *(line(r) for r in self.overdue),
            f"late in the last {LATE_WINDOW_DAYS} days: {len(self.late)} files" + (":" if self.late else ""),
            *(line(r) for r in self.late),
            f"rejected in the last {LATE_WINDOW_DAYS} days, no good file since: {len(self.rejected)} files"
            + (":" if self.rejected else ""),
            *(arrival(r) for r in self.rejected),
            f"held for a register: {len(self.held)} files" + (":" if self.held else ""),
            *(arrival(r) for r in self.held),
        ]
        if self.checked_unaddressed:  # only where there are: most days no sender checks a file
            lines.append(
                f"checked in inbox/pruefen/ in the last {LATE_WINDOW_DAYS} days, of no sender recognised, or "
                f"held, or of a sender that never delivered (forward the report, or check that the sender "
                f"collects its folder): {len(self.checked_unaddressed)} files:"
            )
            lines += [
                f"  {r['file_name']}, checked {r['checked_at']:%Y-%m-%d}"
                + (f" (also in the folder of {r['sender']})" if r["sender"] else "")
                + f": reports/operations/{r['report']}"
                for r in self.checked_unaddressed
            ]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows([*self.overdue, *self.late, *self.rejected, *self.held])
        return buffer.getvalue()


def calendar_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'ops' and table_name = 'expected_deliveries'"
        ).fetchone()[0]
    )


def overdue(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every overdue file, the longest overdue first."""
    if not calendar_exists(con):
        return []
    return query_rows(
        con,
        f"select * from {CALENDAR} where status = 'overdue' order by days_late desc, sender, part, period",
    )


def digest(con: duckdb.DuckDBPyConnection, today: date | None = None) -> Digest:
    today = today or date.today()
    if not calendar_exists(con):
        return Digest(today, [], [])
    late = query_rows(
        con,
        f"select * from {CALENDAR} where status = 'late' and due_on >= ? order by due_on desc, sender, part",
        [today - timedelta(days=LATE_WINDOW_DAYS)],
    )
    return Digest(
        today, overdue(con), late, *_arrivals_to_act_on(con, today), _checked_unaddressed(con, today),
        *last_activity(con),
    )  # fmt: skip


def last_activity(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None, int]:
    """The newest receipt, the end of the last complete run (ops.run_state), and how many files
    runs have loaded since it (a rejected or held file needs no build: its run is no complete one,
    and says so to its sender)."""
    received = con.execute("select max(received_at) from ops.delivery_log").fetchone()[0]
    has_state = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'ops' and table_name = 'run_state'"
    ).fetchone()[0]
    completed = (
        con.execute("select max(completed_at) from ops.run_state").fetchone()[0] if has_state else None
    )
    since = con.execute(
        "select count(*) from ops.delivery_log where status in ('loaded', 'superseded') "
        "and ingested_at > coalesce(?, timestamp '0001-01-01')",
        [completed],
    ).fetchone()[0]
    return received, completed, since


def _checked_unaddressed(con: duckdb.DuckDBPyConnection, today: date) -> list[dict]:
    columns = {
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'ops' and table_name = 'check_log'"
        ).fetchall()
    }
    if not columns:
        return []
    # a home whose log predates the operator's copies, until its next check adds the column
    copy = "operator_report" if "operator_report" in columns else "null"
    return query_rows(
        con,
        f"""select file_name, checked_at, sender, coalesce({copy}, report) as report from ops.check_log
           where (sender is null or {copy} is not null) and checked_at >= ?
           order by checked_at, file_name""",
        [today - timedelta(days=LATE_WINDOW_DAYS)],
    )


def _arrivals_to_act_on(con: duckdb.DuckDBPyConnection, today: date) -> tuple[list[dict], list[dict]]:
    """The files the operator may have to chase: rejected by a run of the last LATE_WINDOW_DAYS and
    not followed by a loaded file of the same sender, part and period (a file whose name said
    neither stays listed for the window); and the files held for a register."""
    arrivals = """select delivery_id, status, sender, part, period, received_at, file_name, message
                  from ops.delivery_log as log where {} order by received_at, file_name"""
    rejected = query_rows(
        con,
        arrivals.format("""status = 'rejected' and ingested_at >= ? and not exists (
                select 1 from ops.delivery_log as later
                where later.status = 'loaded' and later.sender = log.sender and later.part = log.part
                      and later.period = log.period and later.delivery_id > log.delivery_id)"""),
        [today - timedelta(days=LATE_WINDOW_DAYS)],
    )
    held = query_rows(con, arrivals.format("status = 'held'"))
    similar: dict[int, list[str]] = {}
    for row in mistyped_numbers(con):
        similar.setdefault(row["delivery_id"], []).append(row["workshop"])
    for row in held:
        row["similar_workshops"] = " ".join(similar.get(row["delivery_id"], []))
    return rejected, held


# A held file whose Werkstatt-Nr. is one keystroke (a digit wrong, two swapped) from that of one
# recognised workshop, and only one, whose same part of the same period is overdue: most likely
# that workshop's file under a mistyped number (a new workshop's number is one keystroke from
# several, which are then not asked) (a senders' review: the workshop was told "überfällig"
# without a word why, and the Rückmeldung went to a number nobody reads). Only ever said as a
# question to the workshop and the operator: the file stays held, never loaded as the other's.
MISTYPED_NUMBERS = f"""
    with candidates as (
        select distinct held.delivery_id, held.run_id, held.sender as held_as, held.part, held.period,
               held.received_at, e.sender as workshop
        from ops.delivery_log as held
        join {CALENDAR} as e
          on e.period = held.period and (held.part = 'workbook' or e.part = held.part)
         and e.status = 'overdue' and e.sender_kind = 'werkstatt'
         and left(e.sender, 4) = left(held.sender, 4) and damerau_levenshtein(e.sender, held.sender) = 1
        where held.status = 'held'
    )
    select * from candidates
    qualify count(distinct workshop) over (partition by delivery_id) = 1
    order by received_at, delivery_id"""


def mistyped_numbers(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each held file (``delivery_id``, ``run_id``, ``held_as``, ``part``, ``period``) with a
    recognised ``workshop`` whose number it may be a typo of (MISTYPED_NUMBERS)."""
    return query_rows(con, MISTYPED_NUMBERS) if calendar_exists(con) else []


def write(report: Digest, folder: Path) -> Path:
    """``digest-<date>.txt`` and ``.csv`` in ``folder``, each written whole and renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"digest-{report.as_of:%Y-%m-%d}"
    for suffix, text in ((".txt", report.text()), (".csv", report.csv())):
        target = stem.with_suffix(suffix)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    return stem.with_suffix(".txt")


PART_NAMES = {
    "personen": "Personenmeldung", "aussenarbeitsplaetze": "Außenarbeitsplätze", "uebergaenge": "Übergänge",
    "bestand": "Bestand", "kunden": "Kunden", "massnahmen": "Maßnahmen", "integrationen": "Integrationen",
    "leistungsdokumentation": "Leistungsdokumentation", "budget_fuer_arbeit": "Budget für Arbeit",
    "werkstaetten": "Werkstättenverzeichnis", "workbook": "Arbeitsmappe (alle Teile)",
}  # fmt: skip
MAX_STATUS_LINES = 15


def data_status(con: duckdb.DuckDBPyConnection, partner, periods: list[str]) -> list[str] | None:
    """The files of the partner's scope for ``periods`` (months and years) that are overdue or came
    late, in German, the newest period first (a report's own period weighs most: the oldest first
    cut a yearly report's December gaps off), one line per sender, period and status, saying where
    a file came and was rejected; at most MAX_STATUS_LINES and how many more; then those in force
    with quarantined rows. A Landschaftsverband's scope: its workshops and its own files; a
    Jobcenter's: its own files, and where it receives K14, the files of the workshops with their
    seat in its Kreis (whose persons K14's row counts; a partners' review read "all on time" above a
    K14 row short of a silent workshop's). None where there is no calendar yet."""
    if not calendar_exists(con):
        return None
    if partner.statewide:
        scope, parameters = "true", []
    elif partner.landschaftsverband:
        scope = "e.landschaftsverband = ? and e.sender_kind in ('werkstatt', 'landschaftsverband')"
        parameters = [partner.landschaftsverband]
    else:
        scope, parameters = (
            "e.sender_kind = 'jobcenter' and list_contains(?, e.sender)",
            [list(partner.kreise)],
        )
        if "k14" in partner.kpis:
            scope = f"(({scope}) or (e.sender_kind = 'werkstatt' and list_contains(?, w.kreisschluessel)))"
            parameters.append(list(partner.kreise))
    rows = query_rows(
        con,
        f"""select e.*, w.workshop_name
            from {CALENDAR} e
            left join marts.dim_workshops w on w.werkstatt_nr = e.sender and w.is_current
            where e.status in ('overdue', 'late') and list_contains(?, e.period) and {scope}
            order by e.status desc, e.period desc, e.sender, e.part""",
        [periods, *parameters],
    )
    # one line per sender, period and status: the parts named together
    grouped: dict[tuple, list[str]] = {}
    for row in rows:
        key = (row["status"], row["sender"], row["workshop_name"], row["period"], row["due_on"],
               row["received_at"].date() if row["received_at"] else None, row.get("rejected_on"))  # fmt: skip
        grouped.setdefault(key, []).append(row["part"])
    lines = []
    shown = list(grouped.items())[:MAX_STATUS_LINES]
    for (status, sender, name, period, due, received, rejected), found in shown:
        who = f"{sender} ({name})" if name else sender
        when = german_period(period)
        what = _named_parts(found)
        if status == "overdue":
            sent = f"; eine Datei vom {rejected:%d.%m.%Y} wurde abgelehnt" if rejected else ""
            lines.append(f"Überfällig: {what} von {who} für {when}, fällig am {due:%d.%m.%Y}{sent}.")
        else:
            lines.append(
                f"Verspätet: {what} von {who} für {when}, eingegangen am {received:%d.%m.%Y}, fällig am {due:%d.%m.%Y}."
            )
    if len(grouped) > MAX_STATUS_LINES:
        lines.append(f"… und {len(grouped) - MAX_STATUS_LINES} weitere.")
    lines += _corrected_late(con, scope, [periods, *parameters])
    incomplete = _incomplete(con, scope, [periods, *parameters])
    return (lines or ([ON_TIME] if incomplete else [])) + incomplete


ON_TIME = "Alle Lieferungen, auf denen diese Zahlen beruhen, kamen fristgerecht."


def _named_parts(parts: list[str]) -> str:
    """Parts in German, personen first as the spec lists them: „Personenmeldung, Außenarbeitsplätze
    und Übergänge“."""
    order = list(PART_NAMES)
    named = [
        PART_NAMES.get(p, p)
        for p in sorted(parts, key=lambda p: order.index(p) if p in order else len(order))
    ]
    return f"{', '.join(named[:-1])} und {named[-1]}" if len(named) > 1 else named[0]


# The files in force, each under the calendar's parts it delivers (a workshop's workbook: all three).
IN_FORCE = f"""(
    select *, unnest(case when format = 'wfbm_xlsx' then {list(WFBM_PARTS)} else [part] end) as calendar_part
    from ops.delivery_log where status = 'loaded'
)"""


def _corrected_late(con: duckdb.DuckDBPyConnection, scope: str, parameters: list) -> list[str]:
    """The files that came on time and were replaced after their due day by the correction the
    figures now rest on, one line per sender, period and correction (a partners' review read „kamen
    fristgerecht“ above figures resting on a correction a month late)."""
    rows = query_rows(
        con,
        f"""select e.sender, e.period, e.due_on, w.workshop_name, f.part as delivered_as,
                   list(distinct e.part) as parts, min(e.received_at) as first_at, f.received_at as corrected_at
            from {CALENDAR} e
            join {IN_FORCE} as f
              on f.sender = e.sender and f.calendar_part = e.part and f.period = e.period
            left join marts.dim_workshops w on w.werkstatt_nr = e.sender and w.is_current
            where e.status = 'on_time' and f.received_at > e.received_at and cast(f.received_at as date) > e.due_on
              and list_contains(?, e.period) and {scope}
            group by all
            order by f.received_at desc, e.sender, e.period""",
        parameters,
    )
    lines = []
    for row in rows[:MAX_STATUS_LINES]:
        who = f"{row['sender']} ({row['workshop_name']})" if row["workshop_name"] else row["sender"]
        what = PART_NAMES["workbook"] if row["delivered_as"] == "workbook" else _named_parts(row["parts"])
        lines.append(
            f"Nach der Frist korrigiert: {what} von {who} für {german_period(row['period'])}, "
            f"fristgerecht eingegangen am {row['first_at']:%d.%m.%Y}, ersetzt am {row['corrected_at']:%d.%m.%Y} "
            f"(fällig am {row['due_on']:%d.%m.%Y}); diese Zahlen beruhen auf der Korrektur."
        )
    if len(rows) > MAX_STATUS_LINES:
        lines.append(f"… und {len(rows) - MAX_STATUS_LINES} weitere Korrekturen nach der Frist.")
    return lines


def _incomplete(con: duckdb.DuckDBPyConnection, scope: str, parameters: list) -> list[str]:
    """The files in force whose quarantined rows are missing from the figures, one line each:
    the figures rest on the rest of the file (the sender was told, in its Rückmeldung). Not how
    many rows: a privacy review read a workshop's monthly transitions from "1 von 2 Zeilen" of its
    file (a count K02 suppresses), and its headcount from the rows of its Personenmeldung."""
    rows = query_rows(
        con,
        f"""select distinct log.delivery_id, e.sender, log.part, e.period, w.workshop_name
            from {CALENDAR} e
            join {IN_FORCE} as log on log.sender = e.sender and log.calendar_part = e.part and log.period = e.period
            left join marts.dim_workshops w on w.werkstatt_nr = e.sender and w.is_current
            where log.rows_quarantined > 0 and list_contains(?, e.period) and {scope}
            order by e.period desc, e.sender, log.part""",
        parameters,
    )
    lines = []
    for row in rows[:MAX_STATUS_LINES]:
        who = f"{row['sender']} ({row['workshop_name']})" if row["workshop_name"] else row["sender"]
        part, when = PART_NAMES.get(row["part"], row["part"]), german_period(row["period"])
        lines.append(
            f"Unvollständig: {part} von {who} für {when}: fehlerhafte Zeilen zurückgestellt; sie fehlen in "
            "diesen Zahlen, bis eine korrigierte Datei kommt."
        )
    if len(rows) > MAX_STATUS_LINES:
        lines.append(f"… und {len(rows) - MAX_STATUS_LINES} weitere Dateien mit zurückgestellten Zeilen.")
    return lines


def german_period(period: str) -> str:
    """2024-12 as 12/2024, 2024-Q4 as 4. Quartal 2024, a register's day 2024-03-12 as 12.03.2024; a
    year as it is."""
    if re.fullmatch(r"\d{4}-\d{2}", period):
        return f"{period[5:]}/{period[:4]}"
    if re.fullmatch(r"\d{4}-Q[1-4]", period):
        return f"{period[-1]}. Quartal {period[:4]}"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", period):
        return f"{period[8:]}.{period[5:7]}.{period[:4]}"
    return period


BERLIN = ZoneInfo("Europe/Berlin")  # the senders' clocks


def german_time(moment: datetime) -> str:
    """A moment the warehouse keeps in UTC (without a zone) as a sender's clock shows it: the
    Rückmeldung showed a file uploaded at 14:30 as received at 13:30 (12:30 in summer), the
    Prüfbericht the sender's time."""
    return f"{moment.replace(tzinfo=UTC).astimezone(BERLIN):%d.%m.%Y %H:%M} Uhr"


def german_count(number: int) -> str:
    """1840 as 1.840."""
    return f"{number:,}".replace(",", ".")


def query_rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[dict]:
    """A query's rows as dicts."""
    cursor = con.execute(sql, parameters or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
