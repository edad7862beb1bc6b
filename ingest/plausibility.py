"""Content against the name: rows must fit the period a file says it reports.

A workshop snapshot of January 2024 sent under a 2022-01 name reads perfectly and would load into
the wrong month. So, once per source table over the whole batch (never per file):

- a date that cannot lie after the reporting period's Stichtag (an Eintritt, a placement's,
  measure's or case's start, a transition's or integration's day) but does, is a row fault;
- many of them (a genuine export has none; a snapshot two years too late ~15 %) mean the file
  belongs to a later period: the file is rejected;
- a date that must lie in the period itself (a Jobcenter's integrations are the job starts of the
  month) but lies before it is a row fault (an integration of March 2023 in December 2024's file
  would change 2023's published figures); many of them mean the file belongs to an earlier period;
- a Jobcenter's bestand must name the file's own month in ``monat``;
- a text field holding a control character or an invisible format character is a row fault (no
  export writes one, and it would travel invisibly into every table and extract, or make a
  second person of one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from ingest.issues import ISSUE_SCHEMA, Issue, listed
from schemas import SOURCE_TABLES

# Per table, the dates its file's period bounds: (column, format, rule). "after_stichtag": the date
# cannot lie after the period's last day; "before_period": nor before its first day;
# "born_after_stichtag": a birth date after the Stichtag (a row fault only: it says nothing about
# the file's period, and the date, an identifier, is not shown).
PERIOD_BOUNDED_DATES = {
    "wfbm_personen": [
        ("Eintritt", "%d.%m.%Y", "after_stichtag"),
        ("Geburtsdatum", "%d.%m.%Y", "born_after_stichtag"),
        # the snapshot holds who belonged to the workshop on a day of the month (sources.md §1): a
        # hostile-input review's replay of an earlier month kept its leavers unnoticed
        ("Austritt", "%d.%m.%Y", "left_before_period"),
    ],
    "wfbm_aussenarbeitsplaetze": [("Beginn", "%d.%m.%Y", "after_stichtag")],
    "wfbm_uebergaenge": [("Datum", "%d.%m.%Y", "after_stichtag")],  # re-sent rows lie earlier
    "jc_kunden": [
        ("elb_seit", "%Y-%m-%d", "after_stichtag"),
        ("geburtsdatum", "%Y-%m-%d", "born_after_stichtag"),
    ],
    "jc_massnahmen": [("eintritt", "%Y-%m-%d", "after_stichtag")],
    "jc_integrationen": [("datum", "%Y-%m-%d", "after_stichtag"), ("datum", "%Y-%m-%d", "before_period")],
    "lv_budget_fuer_arbeit": [
        ("Beginn", "%d.%m.%Y", "after_stichtag"),
        ("Geburtsdatum", "%d.%m.%Y", "born_after_stichtag"),
    ],
}
ROW_MESSAGES = {
    "after_stichtag": "Datum nach dem Stichtag {} des Meldezeitraums",
    "before_period": "Datum vor dem Beginn {} des Meldezeitraums (gemeldet wird, was im Zeitraum begann)",
    "born_after_stichtag": "Geburtsdatum nach dem Stichtag {} des Meldezeitraums",
    "left_before_period": "Austritt vor dem Beginn {} des Meldezeitraums: wer vorher ausschied, gehört nicht in "
    "die Personenmeldung dieses Monats",
}
FILE_MESSAGES = {  # the bound, the period the file then belongs to
    "after_stichtag": ("nach dem Stichtag", "späteren"),
    "before_period": ("vor dem Beginn", "früheren"),
}
WRONG_PERIOD_SHARE, WRONG_PERIOD_MIN_ROWS = 0.05, 3
# Control characters, and the invisible format characters (soft hyphen, zero-width space and
# joiners, direction marks, word joiner, a BOM inside a text): "01-00406" with a soft hyphen made
# a second person of one, without a finding.
CONTROL_CHARACTER = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{ad}\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2060}-\x{2064}\x{feff}]"
)
# In a value that identifies a person (a number, a name, a birth date) a tab or line break too: an
# Excel cell "02-00112" with Alt+Enter and more text after it made another person without a finding
# (a mutation review). An employer's name or address may break lines. And a byte-order mark read
# as Windows-1252 („ï»¿“, pasted from a UTF-8 file): „ï»¿01-00003“ was another person, loaded with a
# warning only (a hostile-input review).
IDENTIFIER_CONTROL_CHARACTER = (
    CONTROL_CHARACTER.replace(r"\x00-\x08\x0b\x0c\x0e-\x1f", r"\x00-\x1f") + r"|\x{ef}\x{bb}\x{bf}"
)


def period_start(period: str) -> dt.date | None:
    """The first day of a month (JJJJ-MM) or year (JJJJ); None for a register's period."""
    if len(period) == 7:
        return dt.date(int(period[:4]), int(period[5:]), 1)
    if len(period) == 4:
        return dt.date(int(period), 1, 1)
    return None


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
    identifiers = SOURCE_TABLES[table].identifiers if table in SOURCE_TABLES else ()
    flags = frame.select(
        "_file",
        "_row",
        *(
            pl.col(c)
            .str.contains(IDENTIFIER_CONTROL_CHARACTER if c in identifiers else CONTROL_CHARACTER)
            .fill_null(False)
            for c in texts
        ),
    )
    bad = (
        flags.select(pl.any_horizontal(texts).alias("bad"))["bad"]
        if texts
        else pl.repeat(False, frame.height, eager=True)
    )
    hits = (
        flags.filter(bad).unpivot(index=["_file", "_row"], on=texts, variable_name="_column").filter("value")
    )
    message = (
        "enthält ein Steuer- oder Formatzeichen (ein unsichtbares Sonderzeichen; in einer Nummer, einem "
        "Namen oder Datum auch einen Zeilenumbruch oder Tabulator): bitte den Wert neu eintippen"
    )
    return _row_findings(hits, table, pl.col("_column"), "control_character", message, None), bad


def _outside(frame: pl.DataFrame, column: str, fmt: str, bounds: dict, after: bool) -> pl.Series:
    """Per row: its date lies after (``after``) or before its file's bound."""
    bound = pl.col("_file").replace_strict(bounds, default=None, return_dtype=pl.Date)
    day = pl.col(column).str.to_date(fmt, strict=False)
    return frame.select((day > bound if after else day < bound).fill_null(False).alias("out"))["out"]


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


def _wrong_period(
    frame: pl.DataFrame, out: pl.Series, column: str, rule: str, bounds: dict, periods: dict
) -> dict[str, Issue]:
    """Files with many rows dated outside their period."""
    per_file = frame.select("_file").with_columns(out).group_by("_file").agg(pl.col("out").sum(), pl.len())
    wrong = per_file.filter(
        (pl.col("out") >= WRONG_PERIOD_MIN_ROWS) & (pl.col("out") > WRONG_PERIOD_SHARE * pl.col("len"))
    )
    where, belongs = FILE_MESSAGES[rule]
    return {
        name: Issue(
            name,
            None,
            column,
            "wrong_period",
            "file",
            f"{count} von {rows} Zeilen haben ein Datum ({column}) {where} {bounds[name]:%d.%m.%Y}: "
            f"die Datei gehört wohl zu einem {belongs} Zeitraum als {periods[name]}",
        )
        for name, count, rows in wrong.iter_rows()
    }


# A Landschaftsverband's files name only its own workshops (its register, its
# Leistungsdokumentation): a joint list of both sent by one made two current versions of the
# other's workshops, and every later build failed on the delivery calendar (a hostile-input review).
OWN_WORKSHOPS = ("lv_werkstaetten", "lv_leistungsdokumentation")
# A recognition date this far after the day the register is read is a typo (2098 for 2008): the
# workshop would have no KPI row before it, silently (a hostile-input review).
RECOGNISED_AHEAD = dt.timedelta(days=366)


def _register_rows(
    frame: pl.DataFrame, table: str, senders: dict[str, str], today: dt.date
) -> tuple[list[pl.DataFrame], pl.Series]:
    """(findings, per row: faulty) of a Landschaftsverband's rows that do not belong to it, or
    whose workshop was recognised implausibly far ahead."""
    found, bad = [], pl.repeat(False, frame.height, eager=True)
    if table in OWN_WORKSHOPS and senders:
        sender = pl.col("_file").replace_strict(senders, default=None, return_dtype=pl.String)
        foreign = frame.select(
            (pl.col("Werkstatt-Nr.").str.split("-").list.first() != sender).fill_null(False).alias("x")
        )["x"]
        message = pl.format(
            "Werkstatt-Nr. eines anderen Landschaftsverbands: die Datei des {} nennt nur seine Werkstätten",
            sender,
        )
        hits = frame.filter(foreign)
        found.append(
            _row_findings(
                hits, table, "Werkstatt-Nr.", "other_landschaftsverband", message, pl.col("Werkstatt-Nr.")
            )
        )
        bad = bad | foreign
    if table == "lv_werkstaetten":
        ahead = frame.select(
            (pl.col("anerkannt seit").str.to_date("%d.%m.%Y", strict=False) > today + RECOGNISED_AHEAD)
            .fill_null(False)
            .alias("x")
        )["x"]
        message = f"„anerkannt seit“ liegt mehr als ein Jahr nach dem Eingang ({today:%d.%m.%Y}): Tippfehler?"
        found.append(
            _row_findings(frame.filter(ahead), table, "anerkannt seit", "recognised_ahead", message, None)
        )
        bad = bad | ahead
    return found, bad


def check_content(
    tables: dict[str, pl.DataFrame],
    periods: dict[str, str],
    senders: dict[str, str] | None = None,
    today: dt.date | None = None,
) -> Checked:
    """``tables``: every table of the batch (text, with _file and _row); ``periods``: the period
    each file names (after its title block); ``senders``: the sender each names."""
    today = today or dt.date.today()
    bounds = {
        "after_stichtag": {name: stichtag(period) for name, period in periods.items()},
        "before_period": {name: period_start(period) for name, period in periods.items()},
    }
    bounds["born_after_stichtag"] = bounds["after_stichtag"]
    bounds["left_before_period"] = bounds["before_period"]
    rejected = _bestand_mismatch(tables.get("jc_bestand"), periods)
    outside = {}  # (table, column, rule) -> per row: its date lies outside the bound
    for table, frame in tables.items():
        for column, fmt, rule in PERIOD_BOUNDED_DATES.get(table, []):
            out = _outside(frame, column, fmt, bounds[rule], after=rule.startswith(("after", "born")))
            if rule == "left_before_period":  # before its Eintritt: the contract says that (end_before_start)
                left, entered = (pl.col(c).str.to_date(fmt, strict=False) for c in (column, "Eintritt"))
                out = out & ~frame.select((left < entered).fill_null(False)).to_series()
            outside[table, column, rule] = out
            if rule in FILE_MESSAGES:
                rejected = _wrong_period(frame, out, column, rule, bounds[rule], periods) | rejected
    kept, findings = {}, []
    for table, delivered in tables.items():
        keep = ~delivered["_file"].is_in(list(rejected))
        frame = delivered.filter(keep)
        control, bad = _control_characters(frame, table)
        findings.append(control)
        register, foreign = _register_rows(frame, table, senders or {}, today)
        findings += register
        bad = bad | foreign
        for column, _, rule in PERIOD_BOUNDED_DATES.get(table, []):
            out = outside[table, column, rule].filter(keep)
            bound = pl.col("_file").replace_strict(bounds[rule], default=None, return_dtype=pl.Date)
            message = pl.format(ROW_MESSAGES[rule], bound.dt.strftime("%d.%m.%Y"))
            # no date of a person's record is shown, an Austritt or a job start no more than a birth
            # date (privacy.md §1; a hostile-input review found them in Prüfberichte): the message
            # names the bound, the row and column where to look
            findings.append(_row_findings(frame.filter(out), table, column, rule, message, None))
            bad = bad | out
        kept[table] = frame.filter(~bad)
    return Checked(kept, pl.concat(findings) if findings else pl.DataFrame(schema=ISSUE_SCHEMA), rejected)
