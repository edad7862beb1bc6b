"""Clerical review (linkage.md §3): the pairs the model could not decide, shown to the operator
with both records' plaintext as the raw archive holds it (the operator may read the archive; the
warehouse never holds it), and the operator's accept/reject recorded in the decisions file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from ingest.batch import Incoming, read_batch
from ingest.inbox import archive_path, read_bounded
from ingest.landing import record_rows
from linkage.stage import RECORD_ID
from teilhabe.settings import Limits

SHOWN = ("Nachname", "Vorname", "Geburtsdatum", "lokale Nummer")
# How a field of the pair agrees (linkage.model.agreement_sql), in the German of the lines around it
FIELD_WORDS = {
    "surname": "Nachname", "first_name": "Vorname", "birth_date": "Geburtsdatum", "sex": "Geschlecht",
    "kreis": "Kreis", "werkstatt": "Werkstatt",
}  # fmt: skip
LEVEL_WORDS = {
    "identical": "gleich", "same": "gleich", "exact": "gleich", "missing": "fehlt", "differs": "verschieden",
    "swapped with the other name": "mit dem anderen Namen vertauscht",
    "day and month swapped": "Tag und Monat vertauscht", "two of three parts agree": "zwei von drei Teilen gleich",
}  # fmt: skip


def agreement_words(field: str, level: str) -> str:
    """ "Nachname: Dice >= 0.7" for ("surname", "Dice >= 0.7"); a level without German as it is."""
    return f"{FIELD_WORDS.get(field, field)}: {LEVEL_WORDS.get(level, level)}"


@dataclass(frozen=True)
class ReviewPair:
    record_l: str
    record_r: str
    match_probability: float
    agreement: dict[str, str]  # field -> how it agrees
    left: dict[str, str | None]  # source, file, row and the plaintext of SHOWN
    right: dict[str, str | None]

    def text(self) -> str:
        lines = [
            f"Paar {self.record_l} / {self.record_r}: Trefferwahrscheinlichkeit {self.match_probability:.3f}"
        ]
        lines.append(
            "  Übereinstimmung: " + ", ".join(agreement_words(k, v) for k, v in self.agreement.items())
        )
        for side in (self.left, self.right):
            where = f"{side['Quelle']}, {side['Datei']} Zeile {side['Zeile']}"
            lines.append(f"  {where}: " + " | ".join(f"{k} {side.get(k) or '-'}" for k in SHOWN))
        return "\n".join(lines)


def pairs_for_review(
    con: duckdb.DuckDBPyConnection, archive: Path, key: bytes, limit: int = 20, limits: Limits = Limits()
) -> list[ReviewPair]:
    """The ``limit`` most probable pairs in ``ops.linkage_review``, each with its records' plaintext
    read from the archived file that first delivered them."""
    review = con.execute(
        "select * from ops.linkage_review order by match_probability desc limit ?", [limit]
    ).pl()
    if review.is_empty():
        return []
    wanted = pl.concat([review["record_id_l"], review["record_id_r"]]).unique().to_list()
    con.register("_wanted", pl.DataFrame({"record_id": wanted}).to_arrow())
    sources = con.execute(
        f"""
        with records as (select {RECORD_ID} as record_id, * from linkage.person_records)
        select r.record_id, r.source_table, d.delivery_id, d.file_name, d.sha256, d.sender, d.period,
            d.received_at
        from records r join ops.delivery_log d on d.delivery_id = r.first_delivery_id
        where r.record_id in (select record_id from _wanted)
        """
    ).pl()
    con.unregister("_wanted")
    shown = _plaintext(sources, archive, key, limits)
    return [
        ReviewPair(
            row["record_id_l"],
            row["record_id_r"],
            row["match_probability"],
            {k: row[k] for k in ("surname", "first_name", "birth_date", "sex", "kreis", "werkstatt")},
            shown.get(row["record_id_l"], _unavailable()),
            shown.get(row["record_id_r"], _unavailable()),
        )
        for row in review.iter_rows(named=True)
    ]


def _plaintext(sources: pl.DataFrame, archive: Path, key: bytes, limits: Limits) -> dict[str, dict]:
    """Each wanted record's plaintext, reading each archived file once."""
    found: dict[str, dict] = {}
    for delivery in sources.unique("delivery_id").iter_rows(named=True):
        path = archive_path(archive, delivery["sha256"])
        if not path.exists():
            continue  # removed by the archive's retention
        received = delivery["received_at"] or dt.datetime.now()
        incoming = Incoming(
            delivery["file_name"], received.date(), lambda p=path: read_bounded(p, limits.max_file_bytes)
        )
        batch = read_batch([incoming], None, limits)
        table = sources.filter(pl.col("delivery_id") == delivery["delivery_id"])["source_table"][0]
        valid = batch.valid.get(table)
        if valid is None:
            continue
        deliveries = pl.DataFrame(
            {"_file": [delivery["file_name"]], "delivery_id": [delivery["delivery_id"]],
             "sender": [delivery["sender"]], "period": [delivery["period"]]}
        )  # fmt: skip
        rows = record_rows(table, valid, deliveries, key).with_columns(
            pl.concat_str([pl.col("source_table"), pl.col("local_key"), pl.col("person_key")], separator="|")
            .map_elements(_md5, return_dtype=pl.String)
            .alias("record_id")
        )
        for row in rows.filter(pl.col("record_id").is_in(sources["record_id"].to_list())).iter_rows(
            named=True
        ):
            found.setdefault(
                row["record_id"],
                {
                    "Quelle": f"{table} ({delivery['sender']})",
                    "Datei": delivery["file_name"],
                    "Zeile": str(row["_row"]),
                }
                | {k: row[k] for k in SHOWN},
            )
    return found


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _unavailable() -> dict[str, str | None]:
    return {"Quelle": "?", "Datei": "nicht mehr im Archiv", "Zeile": "-"}
