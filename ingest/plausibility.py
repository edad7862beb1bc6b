"""Content against the name: rows must fit the period a file says it reports.

A workshop snapshot of January 2024 sent under a 2022-01 name reads perfectly and would load into
the wrong month. So, once per source table over the whole batch (never per file):

- a date that cannot lie after the reporting period's Stichtag (an Eintritt, a placement's,
  measure's or case's start, a transition's or integration's day) but does, is a row fault;
- many of them (a genuine export has none; a snapshot two years too late ~15 %) mean the file
  belongs to a later period: the file is rejected;
- a Jobcenter's bestand must name the file's own month in ``monat``;
- a text field holding a control character is a row fault (no export writes one, and it would
  travel invisibly into every table and extract).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from ingest.issues import ISSUE_SCHEMA, Issue, listed

# Per table, the date that cannot lie after the Stichtag, and its format.
DATES_UP_TO_STICHTAG = {
    "wfbm_personen": ("Eintritt", "%d.%m.%Y"),
    "wfbm_aussenarbeitsplaetze": ("Beginn", "%d.%m.%Y"),
    "wfbm_uebergaenge": ("Datum", "%d.%m.%Y"),
    "jc_kunden": ("elb_seit", "%Y-%m-%d"),
    "jc_massnahmen": ("eintritt", "%Y-%m-%d"),
    "jc_integrationen": ("datum", "%Y-%m-%d"),
    "lv_budget_fuer_arbeit": ("Beginn", "%d.%m.%Y"),
}
WRONG_PERIOD_SHARE, WRONG_PERIOD_MIN_ROWS = 0.05, 3
CONTROL_CHARACTER = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def stichtag(period: str) -> dt.date | None:
    """The last day of a month (JJJJ-MM) or year (JJJJ); None for a register's period."""
    if len(period) == 7:
        year, month = int(period[:4]), int(period[5:])
        return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    if len(period) == 4:
        return dt.date(int(period), 12, 31)
    return None


@dataclass
class Checked:
    tables: dict[str, pl.DataFrame]  # without the faulty rows and the rejected files
    findings: pl.DataFrame  # row faults (ISSUE_SCHEMA)
    rejected: dict[str, Issue]  # file -> why it is rejected as a whole


def _row_findings(
    hits: pl.DataFrame, table: str, column: str | pl.Expr, rule: str, message, value
) -> pl.DataFrame:
    return hits.select(
        pl.col("_file").alias("file"),
        pl.col("_row").alias("row"),
        (pl.lit(column) if isinstance(column, str) else column).alias("column"),
        pl.lit(rule).alias("rule"),
        pl.lit("row").alias("level"),
        message.alias("message") if isinstance(message, pl.Expr) else pl.lit(message).alias("message"),
        value.alias("value") if isinstance(value, pl.Expr) else pl.lit(None, pl.String).alias("value"),
        pl.lit(table).alias("table"),
    ).cast(ISSUE_SCHEMA)


def _control_characters(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.Series]:
    texts = [c for c in frame.columns if not c.startswith("_") and frame.schema[c] == pl.String]
    flags = frame.select(
        "_file", "_row", *(pl.col(c).str.contains(CONTROL_CHARACTER).fill_null(False) for c in texts)
    )
    bad = (
        flags.select(pl.any_horizontal(texts).alias("bad"))["bad"]
        if texts
        else pl.repeat(False, frame.height, eager=True)
    )
    hits = (
        flags.filter(bad).unpivot(index=["_file", "_row"], on=texts, variable_name="_column").filter("value")
    )
    message = "enthält ein Steuerzeichen (ein unsichtbares Sonderzeichen)"
    return _row_findings(hits, table, pl.col("_column"), "control_character", message, None), bad


def _late(frame: pl.DataFrame, table: str, ends: dict) -> pl.Series:
    """Per row: its date lies after its file's Stichtag."""
    column, fmt = DATES_UP_TO_STICHTAG[table]
    end = pl.col("_file").replace_strict(ends, default=None, return_dtype=pl.Date)
    late = (pl.col(column).str.to_date(fmt, strict=False) > end).fill_null(False)
    return frame.select(late.alias("late"))["late"]


def _bestand_mismatch(frame: pl.DataFrame | None, periods: dict[str, str]) -> dict[str, Issue]:
    if frame is None:
        return {}
    months = frame.filter(pl.col("monat").str.contains(r"^\d{4}-\d{2}$")).select("_file", "monat").unique()
    rejected = {}
    for (name,), group in months.group_by("_file"):
        if other := sorted(m for m in group["monat"] if m != periods[name]):
            rejected[name] = Issue(
                name, None, "monat", "period_mismatch", "file",
                f"die Spalte monat nennt {listed(other)}, der Dateiname {periods[name]}",
            )  # fmt: skip
    return rejected


def _wrong_period(tables: dict, late: dict, ends: dict, periods: dict) -> dict[str, Issue]:
    rejected = {}
    for table, flags in late.items():
        column = DATES_UP_TO_STICHTAG[table][0]
        per_file = (
            tables[table]
            .select("_file")
            .with_columns(flags)
            .group_by("_file")
            .agg(pl.col("late").sum(), pl.len())
        )
        wrong = per_file.filter(
            (pl.col("late") >= WRONG_PERIOD_MIN_ROWS) & (pl.col("late") > WRONG_PERIOD_SHARE * pl.col("len"))
        )
        for name, count, rows in wrong.iter_rows():
            rejected.setdefault(name, Issue(
                name, None, column, "wrong_period", "file",
                f"{count} von {rows} Zeilen haben ein Datum ({column}) nach dem Stichtag {ends[name]:%d.%m.%Y}: "
                f"die Datei gehört wohl zu einem späteren Zeitraum als {periods[name]}",
            ))  # fmt: skip
    return rejected


def check_content(tables: dict[str, pl.DataFrame], periods: dict[str, str]) -> Checked:
    """``tables``: every table of the batch (text, with _file and _row); ``periods``: the period
    each file names (after its title block)."""
    ends = {name: stichtag(period) for name, period in periods.items()}
    late = {
        table: _late(frame, table, ends) for table, frame in tables.items() if table in DATES_UP_TO_STICHTAG
    }
    rejected = _bestand_mismatch(tables.get("jc_bestand"), periods) | _wrong_period(
        tables, late, ends, periods
    )
    kept, findings = {}, []
    for table, delivered in tables.items():
        keep = ~delivered["_file"].is_in(list(rejected))
        frame = delivered.filter(keep)
        control, bad = _control_characters(frame, table)
        findings.append(control)
        if table in late:
            column = DATES_UP_TO_STICHTAG[table][0]
            after = late[table].filter(keep)
            end = (
                pl.col("_file")
                .replace_strict(ends, default=None, return_dtype=pl.Date)
                .dt.strftime("%d.%m.%Y")
            )
            message = pl.format("Datum nach dem Stichtag {} des Meldezeitraums", end)
            findings.append(
                _row_findings(frame.filter(after), table, column, "after_stichtag", message, pl.col(column))
            )
            bad = bad | after
        kept[table] = frame.filter(~bad)
    return Checked(kept, pl.concat(findings) if findings else pl.DataFrame(schema=ISSUE_SCHEMA), rejected)
