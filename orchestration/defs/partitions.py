"""The period partitions of the re-issue assets: months, quarters and years from the first period
that can be published (period arithmetic itself lives in publish/periods.py)."""

from __future__ import annotations

import dagster as dg

from publish.periods import FIRST_PERIOD

PERIOD_PARTITIONS = {
    "month": dg.MonthlyPartitionsDefinition(start_date=f"{FIRST_PERIOD}-01", fmt="%Y-%m"),
    # Keys are the quarter's first month (2024-07 = 2024-Q3): Dagster's time windows name periods by their start.
    "quarter": dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1,4,7,10 *", start=f"{FIRST_PERIOD}-01", fmt="%Y-%m"),
    "year": dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", start=FIRST_PERIOD, fmt="%Y"),
}  # fmt: skip
ASSET_NAMES = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}
