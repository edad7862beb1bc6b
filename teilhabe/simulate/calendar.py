"""Dates as integer day numbers (days since 1970-01-01) so the world can be computed in numpy."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
NEVER = np.iinfo(np.int32).max  # an open end (no Austritt, no Ende)


def day(value: dt.date) -> int:
    return (value - EPOCH).days


def to_date(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(number))


def month_number(days: np.ndarray | int) -> np.ndarray:
    """Months since 1970-01 of each day number."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_first_day(months: np.ndarray | int) -> np.ndarray:
    return np.asarray(months, dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64)


def month_last_day(months: np.ndarray | int) -> np.ndarray:
    """The Stichtag of each month: its last day."""
    return month_first_day(np.asarray(months) + 1) - 1


def month_of(year: int, month: int) -> int:
    return (year - 1970) * 12 + month - 1


def month_label(month: int) -> str:
    """``JJJJ-MM``."""
    return f"{1970 + month // 12:04d}-{month % 12 + 1:02d}"


GERMAN_MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
