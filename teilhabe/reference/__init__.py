"""Reference data: the 53 NRW Kreise. The file lives once, as a dbt seed, and is read from there here."""

from __future__ import annotations

from functools import cache

import polars as pl

from teilhabe.settings import DBT_PROJECT_DIR

KREISE_CSV = DBT_PROJECT_DIR / "seeds" / "nrw_kreise.csv"


@cache
def nrw_kreise() -> pl.DataFrame:
    """The Kreise as a frame; every column text (the Kreisschlüssel keeps its leading zero)."""
    return pl.read_csv(KREISE_CSV, separator=";", infer_schema=False)
