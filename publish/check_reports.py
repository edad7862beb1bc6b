"""The check folder: a sender puts a file into the inbox's ``pruefen/`` folder (the same upload it
uses for deliveries, no program to install) and gets a Prüfbericht back: what the pipeline would do
with it, with every finding's row, column and rule, in German, as HTML and CSV in
outbox/<folder>/pruefung/<checked at>/ (senders.yaml's folder, as the Rückmeldung's). The file is
read by the readers of a delivery under the same limits (ingest/checking.py) and compared with the
sender's deliveries in a load that is rolled back; never loaded, never archived, and deleted once
its report is written: a test file is no delivery, and its personal data is kept nowhere. A file
whose sender the warehouse does not know (no rule reads its name, nor does it plainly name one)
gets its report in the operator's reports/operations/pruefung/ instead, so no text a file carries
names a folder; a file held for a register, or of a sender that never delivered, gets the same page
there too, to forward. Every check is logged in ops.check_log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import duckdb

from ingest.batch import Incoming
from ingest.checking import HELD_HINT, CheckedFile, Warehouse, check_files, compared_example, rows_said
from ingest.chunk import known_workshops
from ingest.formats import LANDSCHAFTSVERBAENDE
from ingest.identify import sender_named_in
from ingest.inbox import (
    CHECK_FOLDER,
    IgnoredEntry,
    InboxFile,
    check_folder,
    name_problem,
    read_bounded,
    read_weight,
    scan_inbox,
    signature_of,
)
from ingest.load import record_ignored
from ingest.ops_tables import append_rows
from ingest.pseudonymise import PseudonymKey
from publish.expected import german_time
from publish.feedback import LEVEL_WORDS, ROWS_PER_RULE_IN_CSV, addressed, sender_kind
from publish.files import findings_csv, findings_xlsx
from publish.outbox import _fsync_dir, _write
from publish.reports import html_template
from publish.rule_words import NOT_SHOWN, rule_word, value_shown
from publish.senders import Sender, SenderDirectory, load_senders
from schemas.base import WERKSTATT_NR_PATTERN
from teilhabe.disk import is_disk_full, storage_error
from teilhabe.settings import Limits

FOLDER = "pruefung"
SHRANK = (
    "Achtung: sie hat viel weniger Zeilen als die Lieferung, die sie ersetzen würde. Eine Korrektur "
    "ersetzt die ganze Lieferung: senden Sie immer die vollständige Datei, nicht nur die geänderten Zeilen."
)
HELD_WORD = "Datei gehalten"
# The report of a file no sender can be told of goes to the operator's, addressed so.
OPERATOR = "das Betriebsteam des Teilhabe Warehouse (Absender nicht erkannt)"
# Files checked per run, the oldest first, their bytes within Limits.max_batch_bytes; the rest wait
# for the next run: a sender that fills the folder cannot make one run read thousands of files, or
# hold a hundred of the largest in memory at once.
MAX_FILES_PER_RUN = 100
FINDINGS_LISTED = 200  # on the page; all of them (up to ROWS_PER_RULE_IN_CSV per rule) in the CSV
CSV_HEADER = ("Zeile", "Spalte", "Art", "Regel", "Meldung", "Wert", "Regelcode")
CHECK_LOG_DDL = """
create schema if not exists ops;
create table if not exists ops.check_log (
    file_name varchar not null,
    sha256 varchar not null,
    sender varchar,
    period varchar,
    verdict varchar not null,
    findings integer not null,
    report varchar,
    run_id varchar,
    checked_at timestamp not null,
    operator_report varchar
);
-- the operator's copy of a held file's report (added since: homes that began before have no column)
alter table ops.check_log add column if not exists operator_report varchar;
"""


@dataclass(frozen=True)
class CheckReport:
    """One checked file's report, addressed like a Rückmeldung (``sender``, ``sender_kind``)."""

    checked: CheckedFile
    sha256: str
    received: dt.datetime
    sender: str | None
    sender_kind: str | None

    def sentence(self) -> str:
        outcome, rehearsed = self.checked.outcome, self.checked.rehearsed
        if outcome.rejected_because:
            return "Nicht so senden: als Lieferung würde die Datei abgelehnt, nichts von ihr würde geladen."
        if outcome.held_because:
            later = self.checked.once_known
            then = f" Dann: {rows_said(later.rows_loaded, later.rows_quarantined)}." if later else ""
            return (
                "Als Lieferung würde die Datei gehalten, bis ein Werkstättenverzeichnis ihre Werkstatt-Nr. "
                f"nennt.{then}"
            )
        if self.duplicate:
            when = f" vom {rehearsed.repeats:%d.%m.%Y}" if rehearsed.repeats else ""
            return (
                f"Nichts zu tun: die Datei ist genau Ihre Lieferung{when}. Sie noch einmal zu senden ändert "
                "nichts (eine Datei wird nur einmal geladen)."
            )
        said = f"Als Lieferung: {rows_said(outcome.rows_loaded, outcome.rows_quarantined)}"
        if rehearsed and rehearsed.replaces:
            said += f"; sie würde Ihre Lieferung vom {rehearsed.replaces:%d.%m.%Y} für denselben Zeitraum ersetzen"
        said += "."
        if any(issue.rule == "correction_shrank" for issue in self.checked.findings):
            # a sender who sends only the corrected rows empties the rest of the month (a senders' review)
            said += f" {SHRANK}"
        return said

    @property
    def duplicate(self) -> bool:
        """The file is byte for byte a delivery the warehouse holds: sending it changes nothing."""
        rehearsed = self.checked.rehearsed
        return rehearsed is not None and rehearsed.status == "duplicate"

    @property
    def recognised(self) -> str | None:
        """What the file was taken for, as a sentence ("Erkannt als: Personenmeldung, …")."""
        said = self.checked.recognised
        return said[0].upper() + said[1:] if said else None

    def level_word(self, issue) -> str:
        """A finding's kind; the finding that holds a file says so ("Datei abgelehnt" beside a verdict
        "gehalten" contradicted it: a senders' review)."""
        if issue.rule == "unknown_werkstatt_nr" and self.checked.outcome.held_because:
            return HELD_WORD
        return LEVEL_WORDS.get(issue.level, issue.level)

    def html(self, addressee: str) -> bytes:
        findings = [
            {"row": i.row, "column": i.column, "level_word": self.level_word(i), "rule": i.rule,
             "rule_word": rule_word(i.rule), "message": i.message, "value": value_shown(i.rule, i.value)}
            for i in self.checked.findings[:FINDINGS_LISTED]
        ]  # fmt: skip
        found = len(self.checked.findings)
        compared = compared_example([self.checked.outcome.delivery]) if self.checked.rehearsed else None
        page = html_template("pruefbericht.html.j2").render(
            sender=addressee, file_name=self.checked.name,
            received=german_time(self.received),
            verdict=self.sentence(), recognised=self.recognised,
            held_hint=HELD_HINT if self.checked.outcome.held_because else None, findings=findings,
            compared=compared, duplicate=self.duplicate, withheld=any(f["value"] == NOT_SHOWN for f in findings),
            kinds={f["level_word"] for f in findings},
            found=found, not_listed=found - FINDINGS_LISTED if found > FINDINGS_LISTED else None,
        )  # fmt: skip
        return page.encode("utf-8")

    @cached_property  # the CSV's and the workbook's
    def rows(self) -> list[list]:
        """The verdict and what the file was recognised as, then every finding, at most
        ROWS_PER_RULE_IN_CSV per column, rule and message, then how many more. (A senders' review:
        the CSV of a repeated file was an empty table, and said nothing of what would happen.)"""
        rows, seen = [["", "", "Ergebnis", "", self.sentence(), "", "verdict"]], {}
        if self.recognised:
            rows.append(["", "", "Erkannt", "", self.recognised, "", "recognised"])
        for issue in self.checked.findings:
            key = (issue.column, issue.rule, issue.level, issue.message)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= ROWS_PER_RULE_IN_CSV:
                rows.append([issue.row if issue.row is not None else "", issue.column or "",
                             self.level_word(issue), rule_word(issue.rule), issue.message,
                             value_shown(issue.rule, issue.value), issue.rule])  # fmt: skip
        for (column, rule, level, message), count in seen.items():
            if (more := count - ROWS_PER_RULE_IN_CSV) > 0:
                rows.append(["", column or "", LEVEL_WORDS.get(level, level), rule_word(rule),
                             f"{message}: in {more} weiteren Zeilen", "", rule])  # fmt: skip
        return rows

    def csv(self) -> bytes:
        return findings_csv(CSV_HEADER, self.rows)

    def xlsx(self) -> bytes:
        return findings_xlsx("Prüfbericht", CSV_HEADER, self.rows)


def _taken(files: list[InboxFile], limits: Limits) -> list[tuple[InboxFile, bytes | None, str]]:
    """Each file's bytes (None beyond the size limit) and their hash, read once; a file that changed
    while it was read (an upload still going on) is left for the next run."""
    taken = []
    for entry in files:
        try:
            data = read_bounded(Path(os.fsdecode(entry.path)), limits.max_file_bytes)
            after = os.lstat(entry.path)
        except OSError:  # vanished meanwhile
            continue
        if signature_of(after) != entry.signature:
            continue
        digest = hashlib.sha256(data).hexdigest() if data is not None else f"size:{entry.size}"
        taken.append((entry, data, digest))
    return taken


def _known_sender(con: duckdb.DuckDBPyConnection, sender: str | None) -> bool:
    """A Landschaftsverband, a well-formed Werkstatt-Nr. (a workshop of a register, or one whose
    register has not come yet), or a Jobcenter's Kreis: as the Rückmeldungen answer."""
    if not sender:
        return False
    if sender in LANDSCHAFTSVERBAENDE or re.fullmatch(WERKSTATT_NR_PATTERN, sender):
        return True
    try:
        return bool(
            con.execute(
                "select count(*) from marts.dim_regions where kreisschluessel = ?", [sender]
            ).fetchone()[0]
        )
    except duckdb.CatalogException:  # the first run, before the warehouse is built
        return False


def _deliver(report: CheckReport, folder: Path, addressee: str) -> Path:
    """The report's own folder, written whole under a temporary name and renamed into place."""
    # the time and a hash of name and content; two reports never share a folder
    tag = hashlib.sha256(f"{report.checked.name}\0{report.sha256}".encode()).hexdigest()[:8]
    name = f"{report.received:%Y%m%d-%H%M%S}-{tag}"
    if (folder / name).exists():
        name += f"-{uuid.uuid4().hex[:4]}"
    building = folder / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        building.mkdir(parents=True)
        _write(building / "pruefbericht.html", report.html(addressee))
        _write(building / "pruefbericht.csv", report.csv())
        _write(building / "pruefbericht.xlsx", report.xlsx())
        manifest = {
            "file_name": report.checked.name, "sha256": report.sha256, "sender": report.sender,
            "period": report.checked.period, "verdict": report.sentence(),
            "findings": len(report.checked.findings), "checked_at": report.received.replace(tzinfo=UTC).isoformat(timespec="seconds"),
        }  # fmt: skip
        _write(building / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _fsync_dir(building)
        building.rename(folder / name)
    except BaseException as error:
        shutil.rmtree(building, ignore_errors=True)
        if isinstance(error, Exception) and is_disk_full(error):
            raise storage_error(f"the Prüfbericht of {report.checked.name}", building, error) from error
        raise
    _fsync_dir(folder)
    return folder / name


def _answer(
    report: CheckReport, sender: Sender | None, outbox: Path, operations: Path, to_operator: bool
) -> tuple[str, str | None]:
    """Deliver a report; where it went (relative to the outbox, or the operations reports for a
    file of no known sender) and where the operator's copy of the same page went, if
    ``to_operator``: the page to forward where a sender's folder may be a mistyped number's, or
    one nobody collects yet (a senders' and a hostile-input review)."""
    if sender is None:  # the operator forwards it, or sees a file nobody can be answered for
        return str(_deliver(report, operations / FOLDER, OPERATOR).relative_to(operations)), None
    where = str(_deliver(report, outbox / sender.folder / FOLDER, sender.name).relative_to(outbox))
    if not to_operator:
        return where, None
    return where, str(_deliver(report, operations / FOLDER, sender.name).relative_to(operations))


def _senders_delivered(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The senders with a file loaded: they collect their folders."""
    try:
        rows = con.execute("select distinct sender from ops.delivery_log where status = 'loaded'").fetchall()
    except duckdb.CatalogException:  # the first run, before anything was loaded
        return set()
    return {sender for (sender,) in rows}


def _record_ignored(con: duckdb.DuckDBPyConnection, scan, now: datetime, run_id: str) -> None:
    """What lies in the check folder and is no file to check (a hidden file, a folder, a link, a
    FIFO): recorded in ops.ignored_entries as the inbox's entries are, named under the folder, so
    the operator finds it (a hostile-input review found such entries left there, unrecorded)."""
    if not scan.ignored:
        return
    entries = [IgnoredEntry(f"{CHECK_FOLDER}/{e.name}", e.kind, e.reason) for e in scan.ignored]
    with contextlib.suppress(duckdb.CatalogException):  # the first run, before the ops tables exist
        record_ignored(con, entries, now, run_id)


def waiting_checks(inbox: Path) -> int:
    """How many files wait in the inbox's check folder."""
    folder = check_folder(inbox)
    return len(scan_inbox(folder).files) if folder else 0


def answer_checks(
    con: duckdb.DuckDBPyConnection,
    inbox: Path,
    outbox: Path,
    operations: Path,
    limits: Limits,
    run_id: str,
    directory: SenderDirectory | None = None,
    key: PseudonymKey | None = None,
) -> list[tuple[str, str | None, str, bool]]:
    """Check every file of the inbox's check folder, write its report, delete it; (file name,
    sender or None, path of the report relative to the outbox or the operations reports, whether it
    was compared with the sender's deliveries). With
    the warehouse's pseudonym ``key``, each file is also compared with the warehouse's deliveries
    (``ingest.checking.Warehouse``)."""
    folder = check_folder(inbox)
    if folder is None:
        return []
    scan, now = scan_inbox(folder), datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    _record_ignored(con, scan, now, run_id)
    waiting = sorted(scan.files, key=lambda entry: (entry.mtime_ns, entry.name))
    chosen, total = [], 0
    for entry in waiting[:MAX_FILES_PER_RUN]:
        total += limits.bytes_read(read_weight(entry, limits.max_batch_bytes))  # a workbook unpacked
        if chosen and total > limits.max_batch_bytes:
            break
        chosen.append(entry)
    taken = _taken(chosen, limits)
    if not taken:
        return []
    incoming = [
        Incoming(entry.name, now.date(), lambda data=data: data, name_problem(os.path.basename(entry.path)))
        for entry, data, _ in taken
    ]
    try:
        known = known_workshops(con) or set()  # as the ingest checks a delivery
    except duckdb.CatalogException:  # no register loaded yet: every workshop's file is held
        known = set()
    warehouse = None
    if key is not None:
        files = {
            entry.name: (digest, entry.size, entry.mtime_ns, now) for entry, data, digest in taken if data
        }
        warehouse = Warehouse(con, key, files)
    checked = {item.name: item for item in check_files(incoming, known, limits, warehouse)}
    reports = []
    for entry, _, digest in taken:
        item = checked[entry.name]
        # a name no rule reads is answered where it plainly names its sender, as a delivery's
        # Rückmeldung is ("Kopie von wfbm_LVR-0205_2024-12_uebergaenge (1).csv")
        sender = item.sender or (sender_named_in(entry.name) or (None,))[0]
        answerable = _known_sender(con, sender)
        kind = sender_kind(sender) if answerable else None
        reports.append(CheckReport(item, digest, now, sender if answerable else None, kind))
    delivered = _senders_delivered(con)
    addressable = [r for r in reports if r.sender]
    try:
        addresses = iter(addressed(con, addressable, directory or load_senders()))
    except duckdb.CatalogException:  # the first run, before the warehouse is built: the operator's
        addresses = iter([None] * len(addressable))
    logged, answered = [], []
    for report in reports:
        # a file held for a register, or of a sender that never delivered: a folder that may be a
        # mistyped number's, or that nobody collects yet (a hostile-input review): the operator's copy
        to_operator = bool(report.checked.outcome.held_because) or report.sender not in delivered
        sender = next(addresses) if report.sender else None
        where, copy = _answer(report, sender, outbox, operations, to_operator)
        logged.append(
            (report.checked.name, report.sha256, report.sender, report.checked.period, report.sentence(),
             len(report.checked.findings), where, run_id, now, copy)
        )  # fmt: skip
        answered.append((report.checked.name, report.sender, where, report.checked.rehearsed is not None))
    con.execute(CHECK_LOG_DDL)
    append_rows(con, "ops.check_log", logged)
    # Only now: a run that stopped before this point checks the files again (a second report), and
    # never loses one unanswered.
    for entry, _, _ in taken:
        with contextlib.suppress(FileNotFoundError):  # the sender took it back meanwhile
            os.unlink(entry.path)
    return answered
