"""What the pipeline says about a delivery: one record per finding, naming file, row, column and rule.

Levels: ``file`` rejects the whole file (nothing of it is loaded), ``row`` quarantines that row
(the rest of the file loads), ``warning`` loads the row and reports what was done (a restored
leading zero, a skipped blank row). An identifier's value is never part of a finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl

from ingest.inbox import display_name

MAX_MESSAGE = 500  # characters: a finding is one line, whatever the file holds
# What a rejected file leaves in place, without claiming that an earlier delivery exists (a
# senders' review: a first delivery was told "eine frühere Lieferung … bleibt gültig").
STANDS = "war für diesen Zeitraum schon eine Datei geladen, bleibt sie gültig"

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", capped(self.message))
        if self.column is not None:
            object.__setattr__(self, "column", capped(self.column, 120))
        if self.value is not None:
            object.__setattr__(self, "value", capped(shown(self.value), 120))

    def __str__(self) -> str:
        return self.line()

    def line(self, label: str | None = None) -> str:
        """The finding on one line; ``label`` instead of the level's word (a held file's finding
        is file-level, but the file is held, not refused)."""
        where = [self.file]
        if self.row is not None:
            where.append(f"Zeile {self.row}")
        if self.column:
            where.append(f"Spalte {self.column}")
        label = label or {"file": "ABGELEHNT", "row": "zurückgestellt", "warning": "Hinweis"}[self.level]
        return f"{', '.join(where)}: {label}: {self.message}"


def capped(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


SHOWN_CHARACTERS = 40  # of a value from a file, in a finding


def shown(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """A value from a file as it may appear in a message: printable, at most ``limit`` characters."""
    return capped(display_name(text.encode("utf-8", "surrogatepass")), limit)


def listed(names: list[str], first: int = 5) -> str:
    """A few names and how many more: a file with 10,000 columns still gets a one-line message."""
    quoted = ", ".join(repr(shown(n)) for n in names[:first])
    rest = len(names) - first
    return quoted + (f" und {rest:,} weitere".replace(",", ".") if rest > 0 else "")


def issues_frame(issues: list[Issue]) -> pl.DataFrame:
    return pl.DataFrame([asdict(i) for i in issues], schema=ISSUE_SCHEMA)
