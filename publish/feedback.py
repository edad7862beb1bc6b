"""A Rückmeldung to every sender (issue 17): after each run that took a file of a sender, what
became of each of its files for that period, every rejected file and every quarantined row with row,
column and rule (a value only where it is not an identifier: an unknown code may be shown, a name
never, ingest/issues.py), the parts still expected for the period, plausibility notes, and how to
check a file before sending. In German, as HTML and CSV, in outbox/<folder>/rueckmeldung/<period>/
(senders.yaml names each sender's folder and how it is addressed, publish/senders.py), delivered
like an extract: a version folder written whole and renamed into place, `latest` switched
atomically, no new version when nothing changed, every outcome in ops.feedback_log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import duckdb
import polars as pl

from ingest.formats import LANDSCHAFTSVERBAENDE, in_workbook_terms
from ingest.ops_tables import append_rows, prepare_answered_runs
from ingest.run_state import unanswered_runs
from publish.expected import (
    CALENDAR,
    PART_NAMES,
    calendar_exists,
    german_count,
    german_period,
    german_time,
    mistyped_numbers,
    query_rows,
)
from publish.files import findings_csv, findings_xlsx
from publish.outbox import _fsync_dir, _switch_latest, _versions, _write
from publish.reports import html_template
from publish.rule_words import NOT_SHOWN, rule_word, value_shown
from publish.senders import Sender, SenderDirectory, load_senders
from schemas.base import WERKSTATT_NR_PATTERN
from teilhabe.disk import is_disk_full, storage_error

TEMPLATES = Path(__file__).with_name("templates")
FOLDER = "rueckmeldung"
WRITERS = 8  # threads writing versions (they wait for the disk, not the CPU)
REMIND_DAYS = 365  # overdue parts due within this many days are reminded of
HEADCOUNT_CHANGE = 0.20  # a workshop's headcount that moves more than this against the month before
STATUS_WORDS = {
    "loaded": "geladen",
    "rejected": "abgelehnt",
    "duplicate": "Duplikat einer früheren Lieferung (nichts geändert)",
    "superseded": "ersetzt durch eine spätere Lieferung",
    "corrected": "abgelehnt; Ihre spätere Lieferung hat die Datei ersetzt und ist geladen",
    "held": "gehalten: die Werkstatt steht noch nicht im Werkstättenverzeichnis; geladen, sobald es sie nennt",
    "released": "gehalten, bis das Werkstättenverzeichnis die Werkstatt nannte; dann geladen",
}
LEVEL_WORDS = {"file": "Datei abgelehnt", "row": "Zeile zurückgestellt", "warning": "Hinweis"}
# Findings the page lists one by one; beyond, it sums them up by file, column and rule (a file in a
# new date format has a finding in every row: 40,000 of them made a page of 8 MB).
FINDINGS_LISTED = 200
ROWS_NAMED = 5  # per summed-up finding, its first rows
# The CSV lists the first rows of each file, column and rule one by one and says how many more (all
# are in ops.quarantine): eight files of 50,000 rows failing 13 rules each took 82 s and 8 GB of
# memory as 5.2 million findings held in Python.
ROWS_PER_RULE_IN_CSV = 1_000
FEEDBACK_DDL = """
create schema if not exists ops;
create table if not exists ops.feedback_log (
    sender varchar not null,
    period varchar not null,
    version varchar,
    status varchar not null,
    files integer,
    findings integer,
    run_id varchar,
    logged_at timestamp not null
);
"""
# In the page's order; "Regel" in words (publish/rule_words.py), the code last for the sender's IT.
CSV_HEADER = ("Datei", "Zeile", "Spalte", "Art", "Regel", "Meldung", "Wert", "Regelcode")


@dataclass(frozen=True)
class Feedback:
    sender: str
    sender_kind: str
    period: str
    files: list[dict]
    findings: list[dict]  # the first ROWS_PER_RULE_IN_CSV of each file, column and rule
    summary: list[dict]  # per file, column, level, rule and message: how many, the first rows
    expected: list[str]  # parts of the period not received (yet)
    notes: list[str]  # plausibility
    nothing_expected: str | None = None  # why the calendar expects nothing of the period, if it does not

    def state(self) -> str:
        """What the sender is told, without the day it is told: equal states make no new version."""
        body = {
            "files": self.files,
            "findings": self.findings,
            "counts": [line["count"] for line in self.summary],
            "expected": self.expected,
            "notes": self.notes,
            **({"nothing_expected": self.nothing_expected} if self.nothing_expected else {}),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def found(self) -> int:
        return sum(line["count"] for line in self.summary)

    @cached_property  # the CSV's and the workbook's
    def rows(self) -> list[list]:
        """The findings, the parts still expected and the plausibility notes, as the CSV and the
        workbook list them."""
        rows = []
        for f in self.findings:
            rows.append([f["file_name"], f["source_row"] if f["source_row"] is not None else "", f["column_name"] or "",
                         LEVEL_WORDS.get(f["level"], f["level"]), rule_word(f["rule"]), f["message"],
                         value_shown(f["rule"], f["value"]),
                         f["rule"]])  # fmt: skip
        for line in self.summary:
            if (more := line["count"] - ROWS_PER_RULE_IN_CSV) > 0:
                rows.append([line["file_name"], "", line["column_name"] or "",
                             LEVEL_WORDS.get(line["level"], line["level"]), rule_word(line["rule"]),
                             f"{line['message']}: in {german_count(more)} weiteren Zeilen (oben die ersten "
                             f"{german_count(ROWS_PER_RULE_IN_CSV)})", "", line["rule"]])  # fmt: skip
        # what the page says beside the findings, that a sender working from the CSV would miss (a
        # senders' review: a CSV of only its header line, the question about a mistyped number on
        # the page alone)
        rows += [["", "", "", "Noch erwartet", "", part, "", "expected"] for part in self.expected]
        rows += [["", "", "", "Plausibilität", "", note, "", "plausibility"] for note in self.notes]
        return rows

    def csv(self) -> bytes:
        return findings_csv(CSV_HEADER, self.rows)

    def xlsx(self) -> bytes:
        return findings_xlsx("Rückmeldung", CSV_HEADER, self.rows)


def senders_to_answer(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[tuple[str, str]]:
    """(sender, period) of every file these runs took whose sender is known: a workshop of a
    register, a Jobcenter of the reference list, a Landschaftsverband, a workshop whose file is held
    for its register (a well-formed Werkstatt-Nr.). Nothing else gets a folder (the operator sees
    such a file in the run's findings), so no text a file could smuggle in names one. And a
    recognised workshop that a held file of these runs may be meant for (a mistyped number:
    expected.MISTYPED_NUMBERS), for that file's period."""
    mistyped = {(m["workshop"], m["period"]) for m in mistyped_numbers(con) if m["run_id"] in run_ids}
    return sorted(mistyped | {
        (sender, period)
        for sender, period in con.execute(
            """select distinct log.sender, log.period from ops.delivery_log as log
               where list_contains(?, log.run_id) and log.period is not null
                 and (list_contains(?, log.sender)
                      or log.sender in (select werkstatt_nr from marts.dim_workshops)
                      or log.sender in (select kreisschluessel from marts.dim_regions)
                      or (log.status = 'held' and regexp_full_match(log.sender, ?)))
               order by all""",
            [run_ids, list(LANDSCHAFTSVERBAENDE), WERKSTATT_NR_PATTERN],
        ).fetchall()
    })  # fmt: skip


def overdue_to_remind(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(sender, period) of every overdue part of the delivery calendar: the sender is reminded of
    what it has not sent, also when it sent nothing at all (a senders' review: a workshop that never
    sent heard nothing, only the operator's digest named it). A reminder whose content is unchanged
    makes no new version, so each is sent once, and again only when something changed. Only parts
    due within REMIND_DAYS of the calendar's last due day: older gaps are the operator's (the
    digest lists every one), and a year is what a sender can still act on."""
    if not calendar_exists(con):
        return []
    return [
        tuple(row)
        for row in con.execute(
            f"select distinct sender, period from {CALENDAR} where status = 'overdue' and due_on >= "
            f"(select max(due_on) from {CALENDAR}) - interval {REMIND_DAYS} day order by all"
        ).fetchall()
    ]


def feedbacks(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]) -> list[Feedback]:
    """The Rückmeldungen for (sender, period) pairs, each query once for all of them."""
    if not pairs:
        return []
    con.register("wanted", pl.DataFrame(pairs, schema=["sender", "period"], orient="row").to_arrow())
    try:
        return _feedbacks(con, pairs)
    finally:
        con.unregister("wanted")


# A rejected file that a later delivery of the same part and period replaced and that was loaded:
# the sender corrected it. Its rejection stays in the list of files, as "corrected", but is no
# longer a finding to act on (a senders' review: the corrected month still read "Befunde (1)").
CORRECTED = """log.status = 'rejected' and exists (
               select 1 from ops.delivery_log as later
               where later.sender = log.sender and later.period = log.period
                   and later.part is not distinct from log.part and later.delivery_id > log.delivery_id
                   and later.status in ('loaded', 'superseded'))"""


def _feedbacks(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]) -> list[Feedback]:
    files = _grouped(
        con,
        f"""select log.sender, log.period, log.delivery_id, log.file_name, log.format, log.part,
                  case when {CORRECTED} then 'corrected' else log.status end as status,
                  log.received_at, log.rows_in, log.rows_loaded, log.rows_quarantined, log.message
           from ops.delivery_log as log join wanted using (sender, period)
           order by log.received_at, log.delivery_id""",
    )
    told = f"""from ops.quarantine as q
           join ops.delivery_log as log on q.delivery_id = log.delivery_id and log.status in ('loaded', 'rejected')
               and not ({CORRECTED})
           join wanted using (sender, period)"""
    findings = _grouped(
        con,
        f"""select log.sender, log.period, q.file_name, q.source_row, q.column_name, q.rule, q.level, q.message,
                  q.value, log.format, q.source_table
           {told}
           qualify row_number() over (
               partition by q.delivery_id, q.source_table, q.column_name, q.rule, q.level, q.message
               order by q.source_row nulls first) <= {ROWS_PER_RULE_IN_CSV}
           order by q.file_name, q.source_row nulls first, q.column_name, q.rule""",
    )
    summary = _grouped(
        con,
        f"""select log.sender, log.period, q.file_name, q.column_name, q.level, q.rule, q.message,
                  count(*) as count,
                  coalesce(list_slice(
                      list(q.source_row order by q.source_row) filter (where q.source_row is not null),
                      1, {ROWS_NAMED}), []) as rows,
                  log.format, q.source_table, q.delivery_id  -- the key the listed findings are capped by
           {told}
           group by all
           order by q.file_name, min(q.source_row) nulls first, q.column_name, q.rule""",
    )
    for line in (line for lines in summary.values() for line in lines):
        del line["delivery_id"]
    for finding in (f for found in (*findings.values(), *summary.values()) for f in found):
        if finding.pop("format") == "wfbm_xlsx":  # as the sender reads its workbook
            finding["column_name"], finding["message"] = in_workbook_terms(
                finding["source_table"], finding["column_name"], finding["rule"], finding["message"]
            )
        del finding["source_table"]
    calendar = {}
    if calendar_exists(con):
        calendar = _grouped(
            con,
            """select e.sender, e.period, e.part, e.status, e.due_on from ops.expected_deliveries as e
               join wanted using (sender, period) order by e.part""",
        )
    notes = _headcount_notes(con)
    for where, lines in _unknown_person_notes(con).items():
        notes.setdefault(where, []).extend(lines)
    for where, lines in _mistyped_number_notes(con).items():
        notes.setdefault(where, []).extend(lines)
    made = []
    for sender, period in pairs:
        mine = files.get((sender, period), [])
        kind = sender_kind(sender)
        entries = calendar.get((sender, period), [])
        missing = [
            PART_NAMES.get(e["part"], e["part"])
            + (f" (überfällig, fällig am {e['due_on']:%d.%m.%Y})" if e["status"] == "overdue" else "")
            for e in entries
            if e["status"] in ("overdue", "pending")
        ]
        shown = [{k: v for k, v in f.items() if k != "delivery_id"} for f in mine]
        made.append(
            Feedback(sender, kind, period, shown, findings.get((sender, period), []),
                     summary.get((sender, period), []), missing,
                     notes.get((sender, period), []) if kind == "werkstatt" else [],
                     _nothing_expected(entries, kind, mine))
        )  # fmt: skip
    return made


def sender_kind(sender: str) -> str:
    """A Landschaftsverband (LWL, LVR), a workshop (its Werkstatt-Nr.) or a Jobcenter (its Kreis)."""
    if sender in ("LWL", "LVR"):
        return "landschaftsverband"
    return "werkstatt" if sender.startswith(("LWL-", "LVR-")) else "jobcenter"


def _nothing_expected(entries: list[dict], sender_kind: str, files: list[dict]) -> str | None:
    """Why the delivery calendar expects nothing of this sender for the period, where it does not
    (then "all expected parts have arrived" would be wrong): the sender is not expected then, no
    register names the workshop yet (its files are held), the file is a register (sent when it
    changes), or the period lies outside the calendar (a future month, a mistyped period in the
    file name)."""
    if any(e["status"] != "not_expected" for e in entries):
        return None
    if files and not entries and all(f["part"] == "werkstaetten" for f in files):
        return (
            "Das Werkstättenverzeichnis wird geliefert, wenn es sich ändert: der Lieferkalender erwartet "
            "es nicht zu festen Terminen."
        )
    if not entries and any(f["status"] == "held" for f in files):
        return (
            "Der Lieferkalender erwartet von Ihrer Werkstatt noch nichts: kein Werkstättenverzeichnis "
            "eines Landschaftsverbands nennt ihre Werkstatt-Nr. bisher. Bitte prüfen Sie die Werkstatt-Nr. "
            "im Dateinamen (bei der Arbeitsmappe im Kopfblock, Zelle B2); stimmt sie, werden die "
            "gehaltenen Dateien geladen, sobald das Verzeichnis sie nennt."
        )
    if entries:
        who = (
            "Ihre Werkstatt ist für diesen Zeitraum nicht als anerkannt im Werkstättenverzeichnis geführt"
            if sender_kind == "werkstatt"
            else "Sie sind für diesen Zeitraum nicht als Lieferant geführt"
        )
        return f"Der Lieferkalender erwartet für diesen Zeitraum keine Lieferung von Ihnen: {who}."
    return (
        "Der Lieferkalender führt diesen Zeitraum nicht: er umfasst die Monate, für die Lieferungen "
        "dieser Art vorliegen. Bitte prüfen Sie den Zeitraum im Dateinamen."
    )


def _grouped(con: duckdb.DuckDBPyConnection, sql: str) -> dict[tuple[str, str], list[dict]]:
    """Rows by (sender, period), the two columns dropped."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for row in query_rows(con, sql):
        grouped.setdefault((row.pop("sender"), row.pop("period")), []).append(row)
    return grouped


def _headcount_notes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """A workshop's headcount on the Stichtag that moved by more than HEADCOUNT_CHANGE against the
    month before (a forgotten area, or a file of another month?), for the wanted (sender, period)."""
    moved = con.execute(
        f"""with months as (
               select werkstatt_nr, month, sum(persons) as persons from marts.fct_workshop_headcount group by all
           )
           select this.werkstatt_nr, this.month, before.persons, this.persons
           from months as this
           join wanted on wanted.sender = this.werkstatt_nr and wanted.period = this.month
           join months as before
             on before.werkstatt_nr = this.werkstatt_nr
            and before.month = strftime(cast(this.month || '-01' as date) - interval 1 month, '%Y-%m')
           where before.persons > 0 and abs(this.persons - before.persons) > {HEADCOUNT_CHANGE} * before.persons"""
    ).fetchall()
    return {
        (nr, month): [
            f"Die Zahl der Beschäftigten am Stichtag änderte sich gegenüber dem Vormonat um "
            f"{(now - before) * 100 / before:+.0f} % ({before} → {now}). Bitte prüfen Sie, ob die Personenmeldung "
            "vollständig ist."
        ]
        for nr, month, before, now in moved
    }


UNKNOWN_PERSONS_LISTED = 20


def _unknown_person_notes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """A transition of a person whom no Personenmeldung of the workshop up to that month names (a
    mistyped Personennummer?), for the wanted (sender, period) whose Personenmeldung is in: by file
    and row, never the number itself."""
    rows = con.execute(
        """select u.sender, u.period, log.file_name, u.source_row
           from landing.wfbm_uebergaenge as u
           join wanted on wanted.sender = u.sender and wanted.period = u.period
           join ops.delivery_log as log on log.delivery_id = u.delivery_id
           where exists (select 1 from landing.wfbm_personen as p where p.sender = u.sender and p.period = u.period)
             and not exists (
               select 1 from landing.wfbm_personen as p
               where p.sender = u.sender and p.period <= u.period and p.person_local_key = u.person_local_key)
           order by all"""
    ).fetchall()
    found: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for sender, period, file_name, row in rows:
        found.setdefault((sender, period), []).append((file_name, row))
    notes = {}
    for where, hits in found.items():
        shown = "; ".join(f"{name} Zeile {row}" for name, row in hits[:UNKNOWN_PERSONS_LISTED])
        more = (
            f" und {len(hits) - UNKNOWN_PERSONS_LISTED} weitere" if len(hits) > UNKNOWN_PERSONS_LISTED else ""
        )
        who = (
            "Ein Übergang einer Person, die" if len(hits) == 1 else f"{len(hits)} Übergänge von Personen, die"
        )
        notes[where] = [
            f"{who} in keiner Personenmeldung der Werkstatt bis {german_period(where[1])} "
            f"{'steht' if len(hits) == 1 else 'stehen'}: {shown}{more}. Bitte prüfen Sie dort die Personennummer."
        ]
    return notes


def _mistyped_number_notes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """For a workshop that misses a part of a period: a held file of that part and period under a
    number one keystroke from its own (expected.MISTYPED_NUMBERS), asked about, never loaded as
    its file. Names the number and the part, not the file: a file's name is what a sender typed."""
    notes: dict[tuple[str, str], list[str]] = {}
    for m in mistyped_numbers(con):
        what = (
            "eine Arbeitsmappe, deren Zelle B2"
            if m["part"] == "workbook"
            else f"eine Datei „{PART_NAMES.get(m['part'], m['part'])}“, deren Name"
        )
        notes.setdefault((m["workshop"], m["period"]), []).append(
            f"Am {m['received_at']:%d.%m.%Y} kam für {german_period(m['period'])} {what} die Werkstatt-Nr. "
            f"{m['held_as']} nennt, die in keinem Werkstättenverzeichnis steht; von Ihrer Werkstatt "
            f"({m['workshop']}) fehlt dieser Teil noch. Ist es Ihre Datei mit einer vertippten Nummer? Dann "
            f"senden Sie sie bitte mit Ihrer Werkstatt-Nr. {m['workshop']} erneut. Die Datei unter {m['held_as']} "
            "wird nicht als Ihre geladen."
        )
    return notes


def _summed_up(summary: list[dict]) -> list[dict]:
    """One line per file, column, kind and rule (and its message): how many rows, the first ones."""
    return [
        {"file_name": line["file_name"], "column_name": line["column_name"] or "",
         "level_word": LEVEL_WORDS.get(line["level"], line["level"]), "rule": line["rule"],
         "rule_word": rule_word(line["rule"]),
         "message": line["message"], "count": german_count(line["count"]),
         "rows": ", ".join(map(str, line["rows"])) + (" …" if line["count"] > len(line["rows"]) else "")}
        for line in summary
    ]  # fmt: skip


def html(item: Feedback, addressee: str) -> bytes:
    period = german_period(item.period)
    files = [
        {**f, "status_word": STATUS_WORDS.get(f["status"], f["status"]), "part_word": PART_NAMES.get(f["part"], f["part"] or ""),
         "received": german_time(f["received_at"]) if f["received_at"] else ""}
        for f in item.files
    ]  # fmt: skip
    findings = [
        {
            **f,
            "level_word": LEVEL_WORDS.get(f["level"], f["level"]),
            "rule_word": rule_word(f["rule"]),
            "value": value_shown(f["rule"], f["value"]),
        }
        for f in item.findings[:FINDINGS_LISTED]
    ]
    found = item.found
    register = "lv_<LV>_werkstaetten.csv" if item.sender_kind == "werkstatt" else None
    page = html_template("rueckmeldung.html.j2").render(
        sender=addressee, period=period, files=files, findings=findings, expected=item.expected,
        withheld=any(f["value"] == NOT_SHOWN for f in findings),
        nothing_expected=item.nothing_expected, notes=item.notes, register=register, created=f"{datetime.now(UTC):%d.%m.%Y}", found=german_count(found),
        summary=_summed_up(item.summary) if found > FINDINGS_LISTED else [],
        not_listed=german_count(found - FINDINGS_LISTED) if found > FINDINGS_LISTED else None,
    )  # fmt: skip
    return page.encode("utf-8")


def deliver_feedback(item: Feedback, sender: Sender, outbox: Path) -> tuple[str, str | None]:
    """Write a new version unless the newest one says the same; (status, version)."""
    folder = outbox / sender.folder / FOLDER / item.period
    for leftover in folder.glob(".v*.tmp-*"):  # a crashed attempt; never visible as a version
        shutil.rmtree(leftover, ignore_errors=True)
    versions = _versions(folder) if folder.exists() else []
    newest = versions[-1] if versions else None
    if newest and json.loads((newest / "manifest.json").read_text("utf-8"))["state_sha256"] == item.state():
        # a run killed between the rename and the switch left a version without `latest`, and the
        # next run found it unchanged and left it so (an operator's review): as the extracts do
        if (folder / "latest").is_symlink() and os.readlink(folder / "latest") == newest.name:
            return "unchanged", newest.name
        _switch_latest(folder, newest)
        return "completed", newest.name
    version = f"v{(int(newest.name[1:]) if newest else 0) + 1:04d}"
    building = folder / f".{version}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        building.mkdir(parents=True)
        _write(building / "rueckmeldung.html", html(item, sender.name))
        _write(building / "rueckmeldung.csv", item.csv())
        if item.rows:  # a workbook of only its header line says nothing (and a first load writes ~9,000)
            _write(building / "rueckmeldung.xlsx", item.xlsx())
        manifest = {
            "sender": item.sender, "period": item.period, "version": version,
            "supersedes": newest.name if newest else None, "files": len(item.files),
            "findings": item.found, "state_sha256": item.state(),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }  # fmt: skip
        _write(building / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _fsync_dir(building)
        building.rename(folder / version)
    except BaseException as error:
        shutil.rmtree(building, ignore_errors=True)  # never a half-written version left behind
        if isinstance(error, Exception) and is_disk_full(error):
            raise storage_error(
                f"the Rückmeldung for {item.sender} {item.period}", building, error
            ) from error
        raise
    _fsync_dir(folder)
    _switch_latest(folder, folder / version)
    return "delivered", version


def addressed(con: duckdb.DuckDBPyConnection, items: list[Feedback], directory: SenderDirectory) -> list:
    """Each Rückmeldung's sender entry of senders.yaml (None: it gets none), with the workshop's
    name of its newest register and the Jobcenter's Kreis name for the templates."""
    workshops = dict(
        con.execute(
            "select werkstatt_nr, arg_max(workshop_name, valid_from) from marts.dim_workshops group by 1"
        ).fetchall()
    )
    kreise = dict(con.execute("select kreisschluessel, kreis_name from marts.dim_regions").fetchall())
    made = []
    for item in items:
        names = (
            {"workshop_name": workshops[item.sender]}
            if item.sender in workshops
            else {"kreis_name": kreise[item.sender]}
            if item.sender in kreise
            else {}
        )
        sender = directory.sender(item.sender, item.sender_kind, names)
        made.append(sender if sender is not None and sender.feedback else None)
    return made


def send_feedback(
    con: duckdb.DuckDBPyConnection, outbox: Path, run_id: str, directory: SenderDirectory | None = None
) -> list[tuple[str, str, str]]:
    """A Rückmeldung for every (sender, period) whose file this run took, or a run that failed
    before its Rückmeldungen, or whose part is overdue (a reminder), and whose sender senders.yaml addresses (``directory``: loaded from it
    by default); (sender, period, status), status ``not_sent`` for a sender without one."""
    con.execute(FEEDBACK_DDL)
    prepare_answered_runs(con)
    runs = sorted({run_id, *unanswered_runs(con)})
    pairs = sorted({*senders_to_answer(con, runs), *overdue_to_remind(con)})
    now, items = datetime.now(UTC).replace(tzinfo=None), feedbacks(con, pairs)
    senders = addressed(con, items, directory or load_senders())

    def deliver(item: Feedback, sender: Sender | None) -> tuple[str, str | None]:
        return deliver_feedback(item, sender, outbox) if sender else ("not_sent", None)

    # Each version is written and synced to disk apart; the waits for the disk overlap in threads
    # (a first load of five years is ~9,000 of them).
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(deliver, items, senders))
    logged = [
        (item.sender, item.period, version, status, len(item.files), item.found, run_id, now)
        for item, (status, version) in zip(items, results, strict=True)
    ]
    con.begin()
    try:
        append_rows(con, "ops.feedback_log", logged)
        con.execute("insert or ignore into ops.answered_runs select unnest(?), ?", [runs, now])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return [(sender, period, status) for sender, period, _, status, *_ in logged]
