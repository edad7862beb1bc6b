"""The operator's clerical decisions on pairs of person records (linkage.md §3): a CSV file in the
data home, ``linkage/decisions.csv``, one line per pair (record ids only, never a value), that
overrides the model on every later run. The newest line for a pair counts. Beside it, the
operator's request to train the model again (``teilhabe linkage retrain``), which the next run's
linkage stage takes, and ends when that stage completes."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import re
from pathlib import Path

import polars as pl

COLUMNS = ("record_id_l", "record_id_r", "decision", "decided_by", "decided_at", "note")
DECISIONS = ("accept", "reject")
_RECORD_ID = r"^[0-9a-f]{32}$"


def read_decisions(path: Path) -> pl.DataFrame:
    """The valid decisions, one per pair (the smaller record id on the left); lines that are not
    a decision (a typo, a half-edited line) are left out and listed by ``invalid_lines``."""
    frame = _read(path)
    if frame.width == 0:  # no CSV of decisions: none apply (invalid_lines says so)
        frame = pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.String))
    ordered = frame.with_columns(
        pl.min_horizontal("record_id_l", "record_id_r").alias("record_id_l"),
        pl.max_horizontal("record_id_l", "record_id_r").alias("record_id_r"),
    )
    return (
        ordered.filter(_valid())
        .with_row_index("_line")
        .sort("_line")
        .unique(["record_id_l", "record_id_r"], keep="last", maintain_order=True)
        .drop("_line")
    )


def invalid_lines(path: Path) -> list[int]:
    """Line numbers (1 = the header) of lines that are no valid decision; [1] when the file cannot
    be read as a CSV of decisions at all."""
    frame = _read(path)
    if frame.width == 0:
        return [1] if path.exists() else []
    frame = frame.with_row_index("_line", offset=2)
    return frame.filter(~_valid())["_line"].to_list()


def record_decision(path: Path, record_l: str, record_r: str, decision: str, note: str = "") -> None:
    """Appends one decision (the file is created with its header, private to the operator)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not all(re.fullmatch(_RECORD_ID, record) for record in (record_l, record_r)) or record_l == record_r:
        raise ValueError(
            "record ids are two different 32-digit hex ids, as `teilhabe linkage review` shows them"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as out:
        path.chmod(0o600)
        writer = csv.writer(out)
        if new:
            writer.writerow(COLUMNS)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        writer.writerow((*sorted((record_l, record_r)), decision, getpass.getuser(), now, note))


def retrain_request(decisions: Path) -> Path:
    """The file whose presence asks the next run to train the linkage model again, beside the
    decisions (``decisions``: their path)."""
    return decisions.with_name("retrain-requested")


def _taken(decisions: Path) -> Path:
    return decisions.with_name("retrain-taken")


def retrain_pending(decisions: Path) -> bool:
    """A request not yet served: pending, or taken by a run that has not finished its linkage."""
    return retrain_request(decisions).exists() or _taken(decisions).exists()


def take_retrain_request(decisions: Path) -> bool:
    """Takes the pending request for this run's linkage: moved aside, so that a request the operator
    makes while the model trains is a new one, kept for the next run. True when one was pending
    (also one that a run failing before the end of its linkage had taken)."""
    request = retrain_request(decisions)
    if request.exists():
        request.replace(_taken(decisions))
    return _taken(decisions).exists()


def retrain_request_served(decisions: Path) -> None:
    _taken(decisions).unlink(missing_ok=True)


def request_retraining(decisions: Path, note: str = "") -> Path:
    """Asks the next run to train the model again on all records, and to score every pair anew
    (a model trained before a fix of the training, or on data that has changed in kind since).
    Without the request a model is trained again once the records have doubled."""
    request = retrain_request(decisions)
    request.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    request.write_text(
        f"requested_by={getpass.getuser()}\nrequested_at={now}\nnote={note}\n", encoding="utf-8"
    )
    request.chmod(0o600)
    return request


def _read(path: Path) -> pl.DataFrame:
    """The file's decisions as text; a frame without columns when it is no CSV of decisions."""
    if not path.exists():
        return pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.String))
    try:
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError):
        return pl.DataFrame()
    if not set(COLUMNS[:3]) <= set(frame.columns):
        return pl.DataFrame()
    missing = [c for c in COLUMNS if c not in frame.columns]  # decided_by, decided_at, note are optional
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing).select(COLUMNS)


def _valid() -> pl.Expr:
    return (
        pl.col("record_id_l").str.contains(_RECORD_ID).fill_null(False)
        & pl.col("record_id_r").str.contains(_RECORD_ID).fill_null(False)
        & (pl.col("record_id_l") != pl.col("record_id_r")).fill_null(False)
        & pl.col("decision").str.strip_chars().str.to_lowercase().is_in(DECISIONS).fill_null(False)
    )
