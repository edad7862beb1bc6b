"""Periods, the one place for their arithmetic. A delivery covers a period: a month "2024-06", a
quarter "2024-Q2" or a year "2024". Monthly KPIs give the period's months, yearly KPIs the year the
period ends in (provisional flags say what is not final yet). Dagster's time partitions name a
period by its first month (the quarter 2024-Q3 is the partition 2024-07).
"""

from __future__ import annotations

import datetime as dt

FIRST_PERIOD = "2019"  # the first period that can be published (and the first Dagster partition)


def period_kind(period: str) -> str:
    if len(period) == 4 and period.isascii() and period.isdigit():
        return "year"
    if len(period) == 7 and period[4:6] == "-Q" and period[6] in "1234":
        return "quarter"
    if (
        len(period) == 7
        and period[4] == "-"
        and period[5:].isascii()
        and period[5:].isdigit()
        and 1 <= int(period[5:]) <= 12
    ):
        return "month"
    raise ValueError(f"period {period!r} is not JJJJ, JJJJ-Qn or JJJJ-MM")


def period_months(period: str) -> list[str]:
    kind, year = period_kind(period), period[:4]
    if kind == "month":
        return [period]
    first, count = ((int(period[6]) - 1) * 3 + 1, 3) if kind == "quarter" else (1, 12)
    return [f"{year}-{m:02d}" for m in range(first, first + count)]


def shown_months(period: str, history_months: int = 0) -> list[str]:
    """The months a delivery's monthly KPIs show: the period's months, or, for a partner with a
    history (partners.yaml ``history_months``), that many months ending with the period's last."""
    months = period_months(period)
    if history_months <= len(months):
        return months
    year, month = int(months[-1][:4]), int(months[-1][5:])
    index = year * 12 + month - 1
    return [f"{i // 12}-{i % 12 + 1:02d}" for i in range(index - history_months + 1, index + 1)]


def period_problem(period: str, today: dt.date) -> str | None:
    """Why a period cannot be published (yet), or None: not a period, before the first one, or
    not ended on ``today`` (a period is published once it has ended)."""
    try:
        kind = period_kind(period)
    except ValueError as problem:
        return str(problem)
    if period[:4] < FIRST_PERIOD:
        return f"period {period} lies before {FIRST_PERIOD}, the first published period"
    last = period_months(period)[-1]
    if last >= f"{today:%Y-%m}":
        newest = latest_period(kind, f"{(today.replace(day=1) - dt.timedelta(days=1)):%Y-%m}")
        return f"period {period} has not ended yet (the latest {kind}ly period is {newest})"
    return None


def latest_period(kind: str, last_month: str) -> str:
    """The latest period of a kind that the loaded months cover completely."""
    year, month = int(last_month[:4]), int(last_month[5:])
    if kind == "month":
        return last_month
    if kind == "quarter":
        quarter = month // 3
        return f"{year}-Q{quarter}" if quarter else f"{year - 1}-Q4"
    return str(year if month == 12 else year - 1)


def period_of_partition(kind: str, key: str) -> str:
    """A partition key as the period a delivery names (2024-07 of the quarters → 2024-Q3)."""
    return f"{key[:4]}-Q{(int(key[5:7]) - 1) // 3 + 1}" if kind == "quarter" else key


def partition_of_period(period: str) -> tuple[str, str]:
    """The kind of a period and its partition key (2024-Q3 → quarter, 2024-07)."""
    kind = period_kind(period)
    if kind == "quarter":
        return kind, f"{period[:4]}-{(int(period[6]) - 1) * 3 + 1:02d}"
    return kind, period


def previous_partition(kind: str, moment: dt.datetime) -> str:
    """The partition key of the last period that ended before a scheduled moment."""
    last_month = f"{moment.replace(day=1) - dt.timedelta(days=1):%Y-%m}"
    return partition_of_period(latest_period(kind, last_month))[1]
