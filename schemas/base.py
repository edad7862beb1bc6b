"""What every contract shares: the text-only configuration and the row's origin columns."""

from __future__ import annotations

import pandera.polars as pa

import schemas.rules  # noqa: F401  (registers the custom checks before any contract uses them)
from teilhabe.reference import nrw_kreise

KREISE = tuple(nrw_kreise()["kreisschluessel"])
PLZ = {"regex": r"^[0-9]{5}$", "hint": "5 Ziffern"}
WZ = {"regex": r"^[0-9]{2}\.[0-9]{2}$", "hint": "NN.NN, eine Klasse der WZ 2008 (etwa 84.11)"}
WERKSTATT_NR_PATTERN = r"(?:LWL|LVR)-[0-9]{4}"  # the one pattern: contracts, names, title blocks, senders
WERKSTATT_NR = {"regex": rf"^{WERKSTATT_NR_PATTERN}$", "hint": "LWL-NNNN oder LVR-NNNN"}
# at most 9 digits: a count of 3,000,000,000 passed and became NULL in the landing table's INTEGER,
# and K12 then said the row was missing (a hostile-input review)
COUNT = {"regex": r"^[0-9]{1,9}$", "hint": "eine ganze Zahl von 0 bis 999.999.999"}
YES_NO = ("J", "N")
# Free texts, at most (characters): a name (German double names stay under 60), a source's own
# key, a company's name.
NAME_TEXT = {"limit": 100}
KEY_TEXT = {"limit": 50}
LONG_TEXT = {"limit": 200}


class Contract(pa.DataFrameModel):
    """Every source row carries the delivery it came from and its row number in that file."""

    file: str = pa.Field(alias="_file")
    row: int = pa.Field(alias="_row")

    class Config:
        strict = True  # no column beyond the contract's (the reader reports extra columns by name)
        ordered = False
