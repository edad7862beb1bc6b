"""A batch of deliveries read and validated together: every file read once, one contract run per
source table for the whole batch (never one per file), per-file accounting of rows in, loaded and
quarantined. Used by the pipeline and by ``teilhabe check``.

Each file is isolated: whatever its bytes, size or name, it ends as one outcome (loaded, with
quarantined rows, or rejected with a reason) and never stops the others. Workbooks are parsed
by worker processes under limits, a few files ahead of the CSV files read here.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ingest.identify import Delivery, beyond_retention, identify
from ingest.inbox import display_name, name_problem, read_bounded
from ingest.issues import ISSUE_SCHEMA, STANDS, Issue, issues_frame
from ingest.plausibility import check_content
from ingest.readers import (
    WORKBOOK_SHEETS,
    PlainCsv,
    ReadResult,
    read_delivery,
    submit_workbook,
    too_many_rows,
)
from ingest.sniff import is_zip
from ingest.validate import validate
from ingest.workbooks import WorkbookReader
from teilhabe.settings import Limits

LOOKAHEAD = 8  # workbooks handed to the workers ahead of the file being read


@dataclass(frozen=True)
class Incoming:
    """A file to read: its (display) name, the day it arrived, how to get its bytes (None when it
    is larger than the limit), and what is wrong with its name, if anything."""

    name: str
    received: dt.date
    load: Callable[[], bytes | None]
    name_problem: str | None = None


@dataclass
class FileOutcome:
    name: str
    delivery: Delivery | None
    rows_in: int = 0
    rows_quarantined: int = 0
    rejected_because: str | None = None
    held_because: str | None = None  # a workshop no register names yet: loaded once one does

    @property
    def rows_loaded(self) -> int:
        return 0 if self.rejected_because or self.held_because else self.rows_in - self.rows_quarantined


@dataclass
class Batch:
    files: dict[str, FileOutcome] = field(default_factory=dict)
    valid: dict[str, pl.DataFrame] = field(default_factory=dict)  # landing table -> valid text rows
    findings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ISSUE_SCHEMA))

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files.values() if f.rejected_because]

    @property
    def held(self) -> list[FileOutcome]:
        return [f for f in self.files.values() if f.held_because]


def registered_workshops(register: pl.DataFrame) -> set[str]:
    return set(register["Werkstatt-Nr."].drop_nulls())


def _is_workbook(item: Incoming) -> bool:
    delivery = identify(item.name)
    return not item.name_problem and isinstance(delivery, Delivery) and delivery.format in WORKBOOK_SHEETS


def _too_large(name: str, limits: Limits) -> ReadResult:
    delivery = identify(name)
    message = f"die Datei ist größer als {limits.max_file_bytes >> 20} MB; eine Meldung hat wenige MB"
    return ReadResult(
        delivery if isinstance(delivery, Delivery) else None,
        issues=[Issue(name, None, None, "file_too_large", "file", message)],
    )


def _read_all(items: list[Incoming], limits: Limits, plain: PlainCsv | None) -> list[ReadResult]:
    """Every file read once, in order; workbooks parsed by the workers a few files ahead, plain
    CSV files' lines handed to ``plain``. Every file's bytes are loaded, also those its name rules
    out (the pipeline archives each file)."""
    results: list[ReadResult] = []
    # The archive's retention counts from the pipeline's clock, as its pruning does: a file's own
    # modification time, which a sender sets, let a period the archive would drop at once pass
    # (ingest/retention.py would then delete the file it loaded).
    today = dt.date.today()
    ahead: dict[int, bytes | None] = {}  # workbooks loaded early (and handed to a worker if a ZIP)
    workbooks = [i for i, item in enumerate(items) if _is_workbook(item)]
    next_workbook = 0
    with WorkbookReader(
        limits.workbook_workers, limits.workbook_memory_bytes, limits.workbook_seconds
    ) as reader:
        for index, item in enumerate(items):
            while next_workbook < len(workbooks) and workbooks[next_workbook] <= index + LOOKAHEAD:
                early = workbooks[next_workbook]
                ahead[early] = content = items[early].load()
                if content and is_zip(content):
                    submit_workbook(reader, early, content, identify(items[early].name).format)
                next_workbook += 1
            early = index in ahead
            content = ahead.pop(index) if early else item.load()
            if item.name_problem:
                issue = Issue(item.name, None, None, "file_name", "file", item.name_problem)
                results.append(ReadResult(None, issues=[issue]))
            elif content is None:
                results.append(_too_large(item.name, limits))
            else:
                cells = reader.result(index) if early and content and is_zip(content) else None
                result = read_delivery(item.name, content, item.received, cells, plain, limits.max_file_rows)
                period = result.delivery.period if result.delivery and not result.rejected else ""
                if period and (problem := beyond_retention(period, today, limits.max_period_age_years)):
                    result.reject("beyond_retention", problem)
                if (rows := _rows_in(result)) > limits.max_file_rows:  # before a finding per row and rule
                    result.reject("too_many_rows", too_many_rows(rows, limits.max_file_rows))
                results.append(result)
    return results


def from_path(path: Path, limits: Limits) -> Incoming:
    """A file named on the command line (``teilhabe check``): received today, not archived."""
    raw = os.fsencode(path.name)
    return Incoming(
        display_name(raw),
        dt.date.today(),
        lambda: read_bounded(path, limits.max_file_bytes),
        name_problem(raw),
    )


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def _rows_in(result: ReadResult) -> int:
    return sum(f.height for f in result.tables.values()) + result.plain_rows + result.rows_removed


def _in_file_order(frames: list[pl.DataFrame], order: pl.DataFrame) -> pl.DataFrame:
    """A table's rows in the order its files were read (plain CSV files' rows come parsed
    together), each file's rows in their own order."""
    if len(frames) == 1:
        return frames[0]
    return (
        pl.concat(frames)
        .join(order, on="_file", how="left", maintain_order="left")
        .sort("_order", maintain_order=True)
        .drop("_order")
    )


def _count_quarantined(batch: Batch, findings: pl.DataFrame) -> None:
    per_file = findings.group_by("file").agg(pl.col("row").n_unique().alias("rows"))
    for name, rows in per_file.iter_rows():
        batch.files[name].rows_quarantined += rows


def read_batch(
    incoming: Iterable[Incoming | Path],
    known_workshops: set[str] | None = None,
    limits: Limits = Limits(),
    by_table: bool = True,
) -> Batch:
    """Read and validate files. ``known_workshops``: the register's Werkstatt-Nr. before this batch
    (a register in the batch adds to it); None means no register is known and none is checked.
    ``by_table``: plain CSV files parsed table by table (False: each file alone, the reference
    the table-by-table reading must equal, finding for finding)."""
    items = [i if isinstance(i, Incoming) else from_path(i, limits) for i in incoming]
    plain = PlainCsv() if by_table else None
    results = _read_all(items, limits, plain)
    plain_tables = plain.parse() if plain else {}
    batch = Batch()
    issues: list[Issue] = []
    tables: dict[str, list[pl.DataFrame]] = {}
    data_rows = {}  # per file: its rows but a workbook's note rows
    for result in results:  # registers first: a workshop's file is checked against the register in force
        d = result.delivery
        if d and d.format == "lv_register" and not result.rejected:
            known_workshops = (known_workshops or set()) | registered_workshops(
                result.tables["lv_werkstaetten"]
            )
    for item, result in zip(items, results, strict=True):
        d = result.delivery
        outcome = FileOutcome(item.name, d)
        batch.files[item.name] = outcome
        if (
            not result.rejected
            and d
            and d.format.startswith("wfbm")
            and known_workshops is not None
            and d.sender not in known_workshops
        ):
            # A new workshop may send before its Landschaftsverband's register names it: the file
            # is held (archived, logged as held, nothing loaded), and a later run loads it once a
            # register names the workshop (ingest/load.py). Its row findings come then.
            outcome.held_because = (
                f"die Werkstatt-Nr. {d.sender} steht (noch) nicht im Werkstättenverzeichnis des "
                "Landschaftsverbands: die Datei wird gehalten und geladen, sobald das Verzeichnis sie nennt"
            )
            outcome.rows_in = _rows_in(result)
            issues.append(Issue(item.name, None, None, "unknown_werkstatt_nr", "file", outcome.held_because))
            continue
        issues.extend(result.issues)
        rejection = next((i for i in result.issues if i.level == "file"), None)
        outcome.rejected_because = rejection.message if rejection else None
        outcome.rows_in = _rows_in(result)
        outcome.rows_quarantined = result.rows_removed
        data_rows[item.name] = outcome.rows_in - result.rows_removed
        for table, frame in result.tables.items():
            tables.setdefault(table, []).append(frame)
    held = [o.name for o in batch.held]
    for table, frame in plain_tables.items():
        tables.setdefault(table, []).append(frame.filter(~pl.col("_file").is_in(held)) if held else frame)
    findings = [issues_frame(issues)]
    periods = {
        name: o.delivery.period
        for name, o in batch.files.items()
        if o.delivery and not o.rejected_because and not o.held_because
    }
    order = (
        pl.DataFrame({"_file": [i.name for i in items]}).unique(maintain_order=True).with_row_index("_order")
    )
    senders = {name: o.delivery.sender for name, o in batch.files.items() if o.delivery and o.delivery.sender}
    content = check_content(
        {t: _in_file_order(frames, order) for t, frames in tables.items()}, periods, senders
    )
    for name, issue in content.rejected.items():
        batch.files[name].rejected_because, batch.files[name].rows_quarantined = issue.message, 0
    findings += [issues_frame(list(content.rejected.values())), content.findings]
    _count_quarantined(batch, content.findings)
    for table, frame in content.tables.items():
        checked = validate(table, frame)
        batch.valid[table] = checked.valid
        findings.append(checked.findings)
        _count_quarantined(batch, checked.findings)
    findings.append(issues_frame(_reject_unusable(batch, data_rows) + _reject_incomplete_registers(batch)))
    batch.findings = pl.concat(findings).sort("file", "row", "column", nulls_last=False)
    return batch


def _reject_incomplete_registers(batch: Batch) -> list[Issue]:
    """A register (Werkstättenverzeichnis) with a faulty row is rejected whole, and the one in
    force stands: loaded without that row, its workshop would leave the register, its files be held
    and its figures end (a hostile-input review: "1.410" for 1410 Plätze held every later file of
    that workshop). The row findings stay, to say what is wrong."""
    issues = []
    for outcome in batch.files.values():
        d = outcome.delivery
        if (
            d
            and d.format == "lv_register"
            and outcome.rows_quarantined
            and not outcome.rejected_because
            and not outcome.held_because
        ):
            rows = outcome.rows_quarantined
            which = "eine Zeile ist" if rows == 1 else f"{_grouped(rows)} Zeilen sind"
            outcome.rejected_because = (
                f"Werkstättenverzeichnis unvollständig: {which} fehlerhaft (Befunde je Zeile unten); es wird "
                "nicht übernommen, das bisherige gilt weiter (ohne die Zeile fiele die Werkstatt aus dem "
                "Verzeichnis und ihre Dateien würden gehalten)"
            )
            outcome.rows_quarantined = 0
            issues.append(
                Issue(outcome.name, None, None, "register_incomplete", "file", outcome.rejected_because)
            )
    return issues


def _reject_unusable(batch: Batch, data_rows: dict[str, int]) -> list[Issue]:
    """A file with data rows of which not one is valid (an export changed its date format) is
    rejected whole: loaded, it would replace the period's earlier delivery with nothing, and its
    figures would read 0 where they are missing. Its row findings stay, to say what is wrong. (A
    file of no data rows, or only a note such as "keine Übergänge", is a valid empty delivery.)"""
    valid_files = {name for frame in batch.valid.values() for name in frame["_file"].unique().to_list()}
    issues = []
    for outcome in batch.files.values():
        if (
            data_rows.get(outcome.name)
            and outcome.name not in valid_files
            and not outcome.rejected_because
            and not outcome.held_because
        ):
            count = data_rows[outcome.name]
            which = "die einzige Datenzeile ist" if count == 1 else f"alle {_grouped(count)} Datenzeilen sind"
            outcome.rejected_because = (
                f"keine Zeile verwendbar: {which} fehlerhaft (Befunde je Zeile unten); die Datei wird nicht "
                f"geladen ({STANDS})"
            )
            issues.append(Issue(outcome.name, None, None, "no_valid_row", "file", outcome.rejected_because))
    return issues
