"""A batch of deliveries read and validated together: every file read once, one contract run per
source table for the whole batch (never one per file), per-file accounting of rows in, loaded and
quarantined. Used by the pipeline and by ``teilhabe check``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ingest.identify import Delivery
from ingest.issues import ISSUE_SCHEMA, Issue, issues_frame
from ingest.readers import read_delivery
from ingest.validate import validate


@dataclass
class FileOutcome:
    name: str
    delivery: Delivery | None
    rows_in: int = 0
    rows_quarantined: int = 0
    rejected_because: str | None = None

    @property
    def rows_loaded(self) -> int:
        return 0 if self.rejected_because else self.rows_in - self.rows_quarantined


@dataclass
class Batch:
    files: dict[str, FileOutcome] = field(default_factory=dict)
    valid: dict[str, pl.DataFrame] = field(default_factory=dict)  # landing table -> valid text rows
    findings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ISSUE_SCHEMA))

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files.values() if f.rejected_because]


def registered_workshops(register: pl.DataFrame) -> set[str]:
    return set(register["Werkstatt-Nr."].drop_nulls())


def read_batch(
    paths: Iterable[Path],
    known_workshops: set[str] | None = None,
    on_content: Callable[[Path, bytes], None] | None = None,
) -> Batch:
    """Read and validate files. ``known_workshops``: the register's Werkstatt-Nr. before this batch
    (a register in the batch adds to it); None means no register is known and none is checked.
    ``on_content`` sees each file's bytes as read (to hash and archive them without a second read)."""
    batch = Batch()
    issues: list[Issue] = []
    tables: dict[str, list[pl.DataFrame]] = {}
    # Registers first: a workshop's file is checked against the register in force.
    ordered = sorted(
        paths, key=lambda p: (not p.name.startswith("lv_") or "werkstaetten" not in p.name, p.name)
    )
    for path in ordered:
        content = path.read_bytes()
        if on_content:
            on_content(path, content)
        result = read_delivery(path.name, content)
        outcome = FileOutcome(path.name, result.delivery)
        batch.files[path.name] = outcome
        issues.extend(result.issues)
        if result.delivery and result.delivery.format == "lv_register" and not result.rejected:
            known_workshops = (known_workshops or set()) | registered_workshops(
                result.tables["lv_werkstaetten"]
            )
        if (
            not result.rejected
            and result.delivery
            and result.delivery.format.startswith("wfbm")
            and known_workshops is not None
            and result.delivery.sender not in known_workshops
        ):
            result.reject(
                "unknown_werkstatt_nr",
                f"Werkstatt-Nr. {result.delivery.sender} is not in the Landschaftsverband's register",
            )
            issues.append(result.issues[-1])
        rejection = next((i for i in result.issues if i.level == "file"), None)
        outcome.rejected_because = rejection.message if rejection else None
        note_rows = sum(1 for i in result.issues if i.rule == "note_row")
        outcome.rows_in = sum(f.height for f in result.tables.values()) + note_rows
        outcome.rows_quarantined = note_rows
        for table, frame in result.tables.items():
            tables.setdefault(table, []).append(frame)
    findings = [issues_frame(issues)]
    for table, frames in tables.items():
        checked = validate(table, pl.concat(frames))
        batch.valid[table] = checked.valid
        findings.append(checked.findings)
        per_file = checked.findings.group_by("file").agg(pl.col("row").n_unique().alias("rows"))
        for name, rows in per_file.iter_rows():
            batch.files[name].rows_quarantined += rows
    batch.findings = pl.concat(findings).sort("file", "row", "column", nulls_last=False)
    return batch
