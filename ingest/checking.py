"""A file checked before it is sent: the pipeline's own readers and contracts, nothing loaded or
kept. For `teilhabe check` on a sender's machine, and for the check folder of the inbox
(``pruefen/``, publish/check_reports.py), where a sender without the program puts a file and gets
a Prüfbericht back. What it says is for the sender, so in German: what the pipeline would do with
the file, whose file of which part and period it takes it for, and every finding with row,
column and rule."""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import polars as pl

from ingest.batch import Batch, FileOutcome, Incoming, read_batch
from ingest.chunk import REHEARSAL_ROWS, Rehearsed, rehearse
from ingest.formats import in_workbook_terms
from ingest.identify import Delivery
from ingest.inbox import display_name
from ingest.issues import Issue
from ingest.pseudonymise import KeyProblem, PseudonymKey
from teilhabe.settings import Limits

LOG = logging.getLogger(__name__)

HELD_HINT = (
    "Gehalten: das Verzeichnis nennt die Werkstatt-Nr. nicht. Prüfen Sie die Nummer im Dateinamen, bei der "
    "Arbeitsmappe im Kopfblock (Zelle B2), und ob es das Verzeichnis Ihres Landschaftsverbands ist."
)


def compared_example(deliveries: list[Delivery | None]) -> str:
    """What comparing files with the sender's earlier deliveries means, as a check says it: a
    workshop's example where a workshop's file is among them (a Personenmeldung's own, where
    they are all Personenmeldungen: a senders' review read the placements' example on one), else
    any sender's."""
    workshops = [d for d in deliveries if d is not None and d.format.startswith("wfbm")]
    if workshops and all(d.part == "personen" for d in workshops):
        return "etwa die Personenmeldung mit den schon gelieferten Außenarbeitsplätzen desselben Monats"
    if workshops:
        return "etwa Außenarbeitsplätze und Übergänge mit der Personenmeldung desselben Monats"
    return "etwa eine Korrektur mit der Lieferung, die sie ersetzt"


@dataclass(frozen=True)
class CheckedFile:
    name: str
    outcome: FileOutcome
    once_known: FileOutcome | None  # a held file read as if the register named its workshop
    findings: list[Issue]  # as the sender reads them (a workbook's in its own terms)
    rehearsed: Rehearsed | None = None  # loaded beside the warehouse's deliveries (the check folder)

    @property
    def verdict(self) -> str:
        said = verdict(self.outcome, self.rehearsed)
        return f"{said}; dann: {verdict(self.once_known)}" if self.once_known else said

    @property
    def recognised(self) -> str | None:
        return recognised(self.outcome)

    @property
    def sender(self) -> str | None:
        return self.outcome.delivery.sender if self.outcome.delivery else None

    @property
    def period(self) -> str | None:
        return self.outcome.delivery.period if self.outcome.delivery else None

    @property
    def refused(self) -> bool:
        return bool(self.outcome.rejected_because or self.outcome.held_because)


@dataclass(frozen=True)
class Warehouse:
    """What a check compares its files with (the check folder; `teilhabe check` has none): the
    warehouse, its pseudonym key, and each file's SHA-256, size, modification time and arrival."""

    con: duckdb.DuckDBPyConnection
    key: PseudonymKey
    files: dict[str, tuple[str, int, int, dt.datetime]]


def check_files(
    files: list[Incoming | Path], known: set[str] | None, limits: Limits, warehouse: Warehouse | None = None
) -> list[CheckedFile]:
    """Each file as the pipeline would take it (``known``: the register's Werkstatt-Nr.; None: not
    checked). A held file's rows are checked too, as they will be once the register names the
    workshop (a senders' review: a held file showed no row finding, only that it was held). With
    a ``warehouse``, each file that would load is also loaded beside the warehouse's deliveries,
    and rolled back (``rehearse``): its Prüfbericht then says what only they tell."""
    batch = read_batch(files, known_workshops=known, limits=limits)
    held = [item for item in files if _name(item) in batch.files and batch.files[_name(item)].held_because]
    once_known = read_batch(held, limits=limits) if held else None
    findings = _findings_of(batch, once_known)
    rehearsed = _rehearsed(batch, warehouse, limits) if warehouse else {}
    for name, told in rehearsed.items():
        findings[name] += [_as_read(batch, issue) for issue in told.findings]
    return [
        CheckedFile(
            name,
            outcome,
            once_known.files.get(name) if once_known and outcome.held_because else None,
            findings[name],
            rehearsed.get(name),
        )
        for name, outcome in batch.files.items()
    ]


# Rounds of rehearsal per check (each reads the delivery log and scans landing tables): two versions
# of one file checked at once need two; a hundred copies of one workbook under free names would be
# a hundred loads, so beyond these a file is told what it alone says.
MAX_REHEARSALS = 5


def _rehearsed(batch: Batch, warehouse: Warehouse, limits: Limits) -> dict[str, Rehearsed]:
    """Each file that would load, loaded beside the warehouse's deliveries and rolled back; the
    files together (a month's placements compared with the Personenmeldung checked with them),
    but never two of one table, sender and period in one round: two versions of a file checked
    at once are each what a delivery now would be, not the older replaced by the newer. At most
    REHEARSAL_ROWS rows a round and MAX_REHEARSALS rounds: a file beyond is told what it alone
    says, as is every file of a round whose load failed (logged: a check never stops a run)."""
    rounds: list[tuple[set, list[str], int]] = []
    for name, outcome in sorted(batch.files.items()):
        d = outcome.delivery
        if d is None or outcome.rejected_because or outcome.held_because or name not in warehouse.files:
            continue
        owns = {(table, d.sender, d.period) for table in d.tables}
        fits = (
            i
            for i, (o, _, rows) in enumerate(rounds)
            if not o & owns and rows + outcome.rows_in <= REHEARSAL_ROWS
        )
        at = next(fits, None)
        if at is None:
            if outcome.rows_in > REHEARSAL_ROWS or len(rounds) >= MAX_REHEARSALS:
                continue
            rounds.append((set(), [], 0))
            at = len(rounds) - 1
        o, names, rows = rounds[at]
        rounds[at] = (o | owns, [*names, name], rows + outcome.rows_in)
    told: dict[str, Rehearsed] = {}
    for _, names, _ in rounds:
        part = Batch(
            {n: replace(batch.files[n]) for n in names},  # copies: loading dates a register's own
            {t: f.filter(pl.col("_file").is_in(names)) for t, f in batch.valid.items()},
            batch.findings.clear(),  # a rehearsal loads only its comparisons' findings
        )
        try:
            told |= rehearse(
                warehouse.con, warehouse.key, limits, part, {n: warehouse.files[n] for n in names}
            )
        except KeyProblem as problem:  # not the warehouse's key (the ingest refuses to load with it)
            LOG.warning("checked files not compared with the warehouse: %s", problem)
            return {}
        except Exception:
            LOG.exception("checked files %s not compared with the warehouse", ", ".join(names))
    return told


def _as_read(batch: Batch, issue: Issue) -> Issue:
    """A finding as the sender reads its file: a workbook's in its own terms."""
    delivery = batch.files[issue.file].delivery
    if delivery and delivery.format == "wfbm_xlsx":
        column, message = in_workbook_terms(issue.table, issue.column, issue.rule, issue.message)
        return replace(issue, column=column, message=message)
    return issue


def _name(item: Incoming | Path) -> str:
    return item.name if isinstance(item, Incoming) else display_name(os.fsencode(item.name))  # as from_path


def _findings_of(batch: Batch, once_known: Batch | None) -> dict[str, list[Issue]]:
    """Each checked file's findings as its sender reads them; of a held file's second reading
    (``once_known``, the workshop taken as known) its rows' findings."""
    findings: dict[str, list[Issue]] = {name: [] for name in batch.files}
    for checked, rows_only in ((batch, False), (once_known, True)):
        for row in checked.findings.iter_rows(named=True) if checked else ():
            if rows_only and row["level"] == "file":
                continue
            findings[row["file"]].append(_as_read(checked, Issue(**row)))
    return findings


def recognised(outcome: FileOutcome) -> str | None:
    """Whose file of which part and period the pipeline takes it for: a workbook's name is free
    text, its workshop and month come from its title block (a senders' review: check never said
    which month it had read)."""
    delivery = outcome.delivery
    if delivery is None or not delivery.sender:
        return None
    from publish.expected import PART_NAMES, german_period

    kind = {"wfbm": "Werkstatt ", "jc": "Jobcenter "}.get(delivery.format.split("_")[0], "")
    what = "Arbeitsmappe" if delivery.part == "workbook" else PART_NAMES.get(delivery.part, delivery.part)
    when = f", {german_period(delivery.period)}" if delivery.period else ""
    return f"erkannt als: {what}, {kind}{delivery.sender}{when}"


def verdict(outcome: FileOutcome, rehearsed: Rehearsed | None = None) -> str:
    """What the pipeline would do with a checked file, as its sender reads it."""
    if outcome.rejected_because:
        return "würde ABGELEHNT"
    if rehearsed and rehearsed.status == "duplicate":
        when = f" am {rehearsed.repeats:%d.%m.%Y}" if rehearsed.repeats else ""
        return f"ändert nichts: dieselben Bytes kamen schon{when}"
    if outcome.held_because:
        return "würde GEHALTEN, bis das Werkstättenverzeichnis die Werkstatt nennt"
    return rows_said(outcome.rows_loaded, outcome.rows_quarantined)


def rows_said(loaded: int, quarantined: int) -> str:
    """What would be loaded, as the command line and the Prüfbericht say it (a senders' review: the
    one said "werden", the other "würden")."""
    from publish.expected import german_count

    return (
        f"{german_count(loaded)} Zeile{'' if loaded == 1 else 'n'} {'würde' if loaded == 1 else 'würden'} "
        f"geladen, {german_count(quarantined)} zurückgestellt"
    )
