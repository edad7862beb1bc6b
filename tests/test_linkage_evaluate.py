"""The linkage model on FEBRL4 through the keyed encodings (`teilhabe linkage evaluate --febrl4`),
on a sample small enough for CI: links it accepts are almost all right (a false link merges two
people's pathways), and it finds most of the heavily corrupted duplicates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

from linkage.evaluate import ALL_SCORED, LINKED, LINKED_OR_REVIEW, evaluate_febrl4, one_to_one


def test_links_are_precise_and_the_review_band_adds_recall():
    quality = evaluate_febrl4(sample=500)
    linked, reviewed, scored = quality[LINKED], quality[LINKED_OR_REVIEW], quality[ALL_SCORED]
    assert linked.true_links == 500
    assert linked.precision >= 0.99, linked.summary()
    # (this sample, 2026-12-03: recall 0.868 linked, 0.898 with the review band; names count as
    # swapped only when both moved, which costs FEBRL's swapped-and-corrupted duplicates)
    assert reviewed.recall >= linked.recall and reviewed.recall >= 0.88, reviewed.summary()
    assert scored.found >= reviewed.found
    # On all of FEBRL4 (README): links F1 0.93, with the review band 0.95.
    assert linked.f1 >= 0.9 and reviewed.f1 >= 0.94, reviewed.summary()


def test_one_to_one_takes_the_likeliest_pair_of_each_record():
    pairs = pl.DataFrame(
        {
            "unique_id_l": ["a1", "a1", "a2", "a3"],
            "unique_id_r": ["b1", "b2", "b1", "b3"],
            "match_probability": [0.9, 0.8, 0.7, 0.6],
        }
    )
    chosen = one_to_one(pairs)
    # a1-b1 is taken first; a1-b2 and a2-b1 then lose a record already taken; a3-b3 stands.
    assert sorted(zip(chosen["unique_id_l"], chosen["unique_id_r"], strict=True)) == [
        ("a1", "b1"),
        ("a3", "b3"),
    ]


def test_the_command_prints_the_figures():
    done = subprocess.run(
        [str(Path(sys.executable).with_name("teilhabe")), "linkage", "evaluate", "--febrl4", "--sample", "200"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("FEBRL4")]
    assert len(lines) == 3 and all("precision" in line and "F1" in line for line in lines), done.stdout


def test_an_implausible_em_leaves_the_starting_m_values(monkeypatch):
    """Where EM finds no match class that agrees on names and birth date, the model is trained again
    without it on the same connection, and the starting m values stand."""
    import duckdb
    import polars as pl
    from splink import DuckDBAPI

    from ingest.pseudonymise import subkey
    from linkage import stage
    from linkage.evaluate import EVALUATION_KEY, _records, febrl4
    from linkage.model import NAME_M, prepared

    left, right = febrl4(sample=300)
    key = subkey(EVALUATION_KEY, "linkage")
    frames = [
        _records(frame, key).with_columns(
            pl.lit(name).alias("dataset"), *(pl.lit(None, pl.String).alias(c) for c in ("sex", "kreisschluessel", "werkstatt_nr"))
        )
        for name, frame in (("a", left), ("b", right))
    ]  # fmt: skip
    con = duckdb.connect()
    con.register("_records", pl.concat(frames).drop("person").to_arrow())
    con.execute(f"create table records as {prepared('_records')}")
    monkeypatch.setattr(stage, "_plausible", lambda model: False)
    exact_links = pl.DataFrame(
        {"table_l": ["a"] * stage.MIN_LINKS_FOR_EM, "table_r": ["b"] * stage.MIN_LINKS_FOR_EM}
    )
    model = stage._train(DuckDBAPI(con), stage.ACROSS_DATASETS, exact_links, records=600)
    surname = next(c for c in model["comparisons"] if c["output_column_name"] == "surname_bloom")
    identical = next(
        level for level in surname["comparison_levels"] if level["label_for_charts"] == "identical"
    )
    assert identical["m_probability"] == NAME_M[0]
