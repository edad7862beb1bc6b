"""Which period a partner can receive: the latest one whose inputs, in the partner's own scope,
are in (marts.fct_monthly_deliveries), never one after today.

A month of a single sender (a Jobcenter's own files) is in when all its parts are. Where a scope
holds many senders (a Landschaftsverband's workshops, all of NRW), a month is in once more than
half of the senders that delivered in the twelve months before it have delivered it completely:
one early file does not move a whole Landschaftsverband to a new period, and one workshop that
never sends its December file (its K01 then says it is missing) does not hold back the others.
A partner's monthly extract waits for its monthly KPIs' sources only (a Jobcenter: its own
files); yearly and quarterly extracts wait for every source their KPIs draw on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from publish.extracts import EXTRACTS
from publish.periods import latest_period, period_months

# The senders each KPI's figures come from.
SOURCES = {
    **dict.fromkeys(("k01", "k02", "k03", "k04", "k05", "k12"), ("wfbm",)),
    **dict.fromkeys(("k06", "k07", "k08", "k09"), ("jc",)),
    **dict.fromkeys(("k10", "k11", "k13", "k14"), ("wfbm", "jc")),
}
SENDER_KIND = {"wfbm": "workshops", "jc": "Jobcenters"}


@dataclass(frozen=True)
class Readiness:
    period: str | None  # the latest period whose inputs are in (None: none yet)
    through: str | None  # the month its data reaches
    waiting: str | None = None  # a later period that waits, and for what


def _scope(deliveries: pl.DataFrame, partner) -> pl.DataFrame:
    if partner.statewide:
        return deliveries
    if partner.landschaftsverband:
        return deliveries.filter(pl.col("landschaftsverband") == partner.landschaftsverband)
    return deliveries.filter(pl.col("kreisschluessel").is_in(list(partner.kreise)))


def ready_month(deliveries: pl.DataFrame, kind: str) -> str | None:
    """The latest month that more than half of a scope's active senders of one kind (wfbm or jc)
    delivered completely; ``deliveries``: marts.fct_monthly_deliveries cut to the scope."""
    complete = (
        deliveries.filter((pl.col("source_system") == kind) & pl.col("is_complete"))
        .select(
            "sender",
            (
                pl.col("month").str.slice(0, 4).cast(pl.Int64) * 12
                + pl.col("month").str.slice(5, 2).cast(pl.Int64)
                - 1
            ).alias("m"),
        )
        .unique()
    )
    if complete.is_empty():
        return None
    by_month = complete.group_by("m").agg(pl.col("sender"))
    months = dict(by_month.iter_rows())
    for month in sorted(months, reverse=True):
        active = {s for m in range(month - 12, month) for s in months.get(m, [])}
        if 2 * len(months[month]) > len(active) or not active:
            return f"{month // 12}-{month % 12 + 1:02d}"
    return None


def readiness(deliveries: pl.DataFrame, partner, today: dt.date) -> Readiness:
    """The partner's latest complete period and, if its scope holds data of a later one, what
    that period waits for. ``deliveries``: marts.fct_monthly_deliveries."""
    now = f"{today:%Y-%m}"
    scope = _scope(deliveries.filter(pl.col("month") <= now), partner)
    gating = [k for k in partner.kpis if partner.period != "month" or EXTRACTS[k].period == "month"]
    kinds = sorted({kind for kpi in gating for kind in SOURCES[kpi]})
    ready = {kind: ready_month(scope, kind) for kind in kinds}
    through = min((m for m in ready.values()), default=None) if all(ready.values()) else None
    period = latest_period(partner.period, through) if through else None
    newest = scope.filter(pl.col("source_system").is_in(kinds))["month"].max()
    candidate = latest_period(partner.period, newest) if newest else None
    if candidate is None or candidate == period or (period and candidate < period):
        return Readiness(period, through)
    needed = period_months(candidate)[-1]
    missing = []
    for kind in kinds:
        if ready[kind] is not None and ready[kind] >= needed:
            continue
        senders = scope.filter(pl.col("source_system") == kind)
        if senders["sender"].n_unique() == 1:
            sender = senders["sender"][0]
            got = senders.filter(pl.col("month") == needed)["parts_delivered"].to_list()
            missing.append(f"{sender} {needed} (delivered: {', '.join(got[0]) if got else 'nothing'})")
        else:
            done = senders.filter((pl.col("month") == needed) & pl.col("is_complete"))["sender"].n_unique()
            total = senders["sender"].n_unique()
            missing.append(f"{SENDER_KIND[kind]} {needed} ({done} of {total} delivered)")
    return Readiness(period, through, f"{candidate} waits for {'; '.join(missing)}")
