"""What the pipeline says about a delivery: one record per finding, naming file, row, column and rule.

Levels: ``file`` rejects the whole file (nothing of it is loaded), ``row`` quarantines that row
(the rest of the file loads), ``warning`` loads the row and reports what was done (a restored
leading zero, a skipped blank row). An identifier's value is never part of a finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl

ISSUE_SCHEMA = {
    "file": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "rule": pl.String,
    "level": pl.String,
    "message": pl.String,
    "value": pl.String,
    "table": pl.String,
}


@dataclass(frozen=True)
class Issue:
    file: str
    row: int | None
    column: str | None
    rule: str
    level: str  # file | row | warning
    message: str
    value: str | None = None  # the offending value, only where it is not an identifier
    table: str | None = None  # the landing table a row finding belongs to (None: the whole file)

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        label = {"file": "REJECTED", "row": "quarantined", "warning": "warning"}[self.level]
        return f"{', '.join(where)}: {label}: {self.message}"


def issues_frame(issues: list[Issue]) -> pl.DataFrame:
    return pl.DataFrame([asdict(i) for i in issues], schema=ISSUE_SCHEMA)
