"""The linkage stage of every run (linkage.md §3): score the new person records against the known
ones, decide links, form clusters and give each a stable ``person_id``.

1. Records: ``linkage.person_records`` (the reader's encodings). A node is one source-local person
   (source table and local key); its records are the identities it was delivered under.
2. Scoring: Splink's Fellegi-Sunter model, trained once per data home without labels (and again
   when the records have doubled since), stored in ``linkage.model``. Only pairs across datasets
   (a dataset: one sender's source table) are scored, and of those only pairs with a new record:
   the known pairs stay in ``linkage.pairs``.
3. Decisions, in this order: the operator's accepted pairs (decisions file); the exact person key
   (privacy.md §1: the deterministic link); pairs at or above the upper threshold by falling
   probability, never joining two people of one dataset and never a pair the operator rejected.
4. ``linkage.person_ids``: each cluster keeps the id most of its nodes had (a new delivery adds
   people or joins records to known people, it never renumbers them); a split or merge is logged
   in ``linkage.person_id_changes``.
5. ``ops.linkage_review`` (pairs between the thresholds, no values), its persons' ids in
   ``linkage.persons_in_review`` (the KPIs that count them say they may change), and
   ``ops.linkage_metrics``.

Splink works in an in-memory DuckDB of its own: its scratch tables never reach the warehouse.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from ingest.encodings import seal
from ingest.ops_tables import LINKAGE_DDL
from linkage.decisions import read_decisions, retrain_request_served, take_retrain_request
from linkage.model import (
    LOWER_THRESHOLD,
    UPPER_THRESHOLD,
    agreement_sql,
    blocking_rules,
    prepared,
    settings,
    sharing_a_block,
    source_pair_m,
    usable,
)

LOG = logging.getLogger(__name__)
ACROSS_DATASETS = "l.dataset <> r.dataset"
MIN_LINKS_FOR_EM = 2_000
MIN_RECORDS_TO_TRAIN = 500  # fewer: too few pairs to estimate m and u; the exact key links alone
RETRAIN_GROWTH = 2.0  # retrain once the records have doubled since the model was trained

LINKAGE_STAGE_DDL = """
create schema if not exists linkage;
create schema if not exists ops;
create table if not exists linkage.model (
    trained_at timestamp, trained_on_records bigint, settings_json varchar
);
create table if not exists linkage.pairs (
    record_id_l varchar not null, record_id_r varchar not null, match_probability double,
    match_weight double, scored_at timestamp,
    primary key (record_id_l, record_id_r)
);
create table if not exists linkage.scored_records (record_id varchar primary key);
create table if not exists linkage.person_ids (
    source_table varchar not null, local_key varchar not null, person_id bigint not null,
    primary key (source_table, local_key)
);
create table if not exists linkage.person_id_changes (
    changed_at timestamp, source_table varchar, local_key varchar, old_person_id bigint,
    new_person_id bigint
);
create table if not exists ops.linkage_review (
    record_id_l varchar, record_id_r varchar, source_table_l varchar, source_table_r varchar,
    match_probability double, surname varchar, first_name varchar, birth_date varchar, sex varchar,
    kreis varchar, werkstatt varchar
);
alter table ops.linkage_review add column if not exists werkstatt varchar;
-- the persons of the pairs in review and the source of the record across: the figures that
-- count them may still change (the KPIs' notes); ids only, for the warehouse build
create table if not exists linkage.persons_in_review (person_id bigint, source_table_across varchar);
create table if not exists ops.linkage_metrics (
    measured_at timestamp, run_id varchar, records bigint, new_records bigint, persons bigint,
    pairs_scored bigint, links_accepted bigint, pairs_in_review bigint, decisions bigint,
    model_trained_at timestamp, estimated_match_probability double,
    share_linked_wfbm_personen double, share_linked_jc_kunden double,
    share_linked_lv_budget_fuer_arbeit double, decisions_sha256 varchar, seconds double
);
"""

# A record's id: stable across runs and rebuilds under one key (its source, local key and identity).
RECORD_ID = "md5(source_table || '|' || local_key || '|' || person_key)"

# Each record's node (the source-local person) and dataset (its sender's source table); whether new.
NODES_SQL = f"""
select
    {RECORD_ID} as unique_id,
    source_table || '|' || local_key as node,
    source_table || '|' || sender as dataset,
    person_key,
    {RECORD_ID} not in (select record_id from linkage.scored_records) as is_new
from linkage.person_records
"""

# The encodings Splink compares: of every record (``all``), or of the new ones and of the known
# ones that meet a new one in a block (a new month's few thousand, not everyone).
ENCODINGS_SQL = f"""
with records as (
    select
        {RECORD_ID} as unique_id,
        source_table || '|' || sender as dataset,
        -- the filters' bytes (BLOOM_BITS is a multiple of 8, so BIT -> BLOB -> BIT keeps every
        -- bit): an eighth of their text form, which made the linkage stage the run's peak of memory
        surname_bloom::blob as surname_bloom, first_name_bloom::blob as first_name_bloom,
        surname_phonetic, first_name_phonetic, birth_date_hash, birth_day_hash, birth_month_hash,
        birth_year_hash, birth_swapped_hash, sex, kreisschluessel, werkstatt_nr
    from linkage.person_records
),
new as materialized (select * from records where unique_id in (select unique_id from _new))
select *, unique_id in (select unique_id from _new) as is_new
from records
where {{all}}
    or unique_id in (select unique_id from _new)
    or {sharing_a_block("new")}
"""


@dataclass
class LinkageReport:
    records: int = 0
    new_records: int = 0
    pairs_scored: int = 0
    links_accepted: int = 0
    pairs_in_review: int = 0
    persons: int = 0
    decisions: int = 0
    trained: bool = False
    model: str = "none (fewer records than needed: exact links only)"
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.records:
            return "linkage: no person records"
        if self.model.startswith("unchanged"):
            return f"linkage: nothing new ({self.records:,} records, {self.persons:,} persons; {self.seconds:.1f} s)"
        return (
            f"linkage: {self.records:,} records ({self.new_records:,} new) -> {self.persons:,} persons; "
            f"{self.pairs_scored:,} pairs scored, {self.links_accepted:,} links accepted, "
            f"{self.pairs_in_review:,} pairs for review, {self.decisions:,} operator decisions; "
            f"model {self.model} ({self.seconds:.1f} s)"
        )


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LINKAGE_DDL)  # the readers' table, for a stage run before any ingest
    con.execute(LINKAGE_STAGE_DDL)


def link_persons(
    con: duckdb.DuckDBPyConnection,
    decisions_file: Path,
    seal_key: bytes,
    run_id: str = "",
    retrain: bool = False,
) -> LinkageReport:
    """The linkage stage on the warehouse connection ``con``; does nothing when no record is new
    and the decisions are unchanged. ``seal_key`` unseals the stored name filters in memory
    (ingest/encodings.py ``seal``). The model is trained again (``retrain``) also when the
    operator asked for it (``teilhabe linkage retrain``, a file beside the decisions); the request
    ends when the stage has done it."""
    started = time.perf_counter()
    retrain = take_retrain_request(decisions_file) or retrain
    prepare(con)
    decisions = read_decisions(decisions_file)
    decisions_sha = hashlib.sha256(decisions.write_csv().encode()).hexdigest()
    records = con.sql(NODES_SQL).pl()
    report = LinkageReport(records=records.height, new_records=int(records["is_new"].sum()))
    last = con.execute(
        "select decisions_sha256 from ops.linkage_metrics order by measured_at desc limit 1"
    ).fetchone()
    if (
        not report.new_records and not retrain and last and last[0] == decisions_sha
        and not _review_persons_missing(con)
    ):  # fmt: skip
        report.persons = con.execute("select count(distinct person_id) from linkage.person_ids").fetchone()[0]
        report.model = "unchanged: no new record, no new decision"
        report.seconds = time.perf_counter() - started
        return report
    model = _score(con, records, report, retrain, seal_key)
    clusters = _clusters(con, records, decisions)
    report.persons = _assign_person_ids(con, clusters)
    report.links_accepted, report.pairs_in_review = _review(con, decisions, seal_key)
    report.decisions = decisions.height
    report.seconds = time.perf_counter() - started
    _metrics(con, records, report, model, run_id, decisions_sha)
    retrain_request_served(decisions_file)
    return report


# --- scoring ----------------------------------------------------------------------------------------


def _score(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    report: LinkageReport,
    retrain: bool,
    seal_key: bytes,
) -> dict | None:
    """Scores the pairs with a new record (all pairs after a retraining) into ``linkage.pairs``;
    returns the model in use (None: too few records to train one)."""
    from splink import DuckDBAPI, Linker

    stored = con.execute(
        "select trained_on_records, settings_json, trained_at from linkage.model order by trained_at desc limit 1"
    ).fetchone()
    enough = records.height >= MIN_RECORDS_TO_TRAIN and records["dataset"].n_unique() > 1
    if not enough and stored is None:
        _remember_scored(con, records)
        return None
    changed = stored is not None and compares_otherwise(json.loads(stored[1]))
    train = enough and (retrain or stored is None or changed or records.height >= RETRAIN_GROWTH * stored[0])
    con.register("_new", records.filter(pl.col("is_new")).select("unique_id").to_arrow())
    encodings = unsealed(con.sql(ENCODINGS_SQL.format(all="true" if train else "false")).pl(), seal_key)
    con.unregister("_new")
    scratch = _scratch(con)
    scratch.register("_records", encodings.to_arrow())
    scratch.execute(f"create table records as {prepared('_records')}")
    scratch.unregister("_records")
    del encodings  # held in the scratch database now
    db_api = DuckDBAPI(scratch)
    condition = ACROSS_DATASETS
    if train:
        model = _train(db_api, condition, _exact_links(records), records.height)
        con.execute("insert into linkage.model values (now(), ?, ?)", [records.height, json.dumps(model)])
        report.trained = True
        report.model = f"trained now on {records.height:,} records" + (
            " (the comparisons of the stored model were not the code's)" if changed else ""
        )
    else:
        model = for_records(json.loads(stored[1]), stored[0], records.height)
        report.model = f"trained {stored[2]:%Y-%m-%d} on {stored[0]:,} records"
    linker = Linker(db_api.register("records", table_name="linkage_records"), model, log_level="ERROR")
    if train:  # a new model scores every pair again
        pairs = [
            linker.inference.predict_within(
                db_api.register("records", table_name="linkage_all"),
                blocking_rules_to_generate_predictions=blocking_rules(condition),
                threshold_match_probability=LOWER_THRESHOLD,
                warning_mode="never",
            )
        ]
    else:
        scratch.execute("create table new_records as select * from records where is_new")
        scratch.execute("create table known_records as select * from records where not is_new")
        new = db_api.register("new_records", table_name="linkage_new")
        rules = blocking_rules(condition)
        within = linker.inference.predict_within(
            new, blocking_rules_to_generate_predictions=rules,
            threshold_match_probability=LOWER_THRESHOLD, warning_mode="never",
        )  # fmt: skip
        between = linker.inference.predict_between(
            db_api.register("known_records", table_name="linkage_known"), new,
            blocking_rules_to_generate_predictions=rules,
            threshold_match_probability=LOWER_THRESHOLD, warning_mode="never",
        )  # fmt: skip
        pairs = [within, between]
    frame = pl.concat([_pair_frame(p) for p in pairs])
    scratch.close()
    if train:
        con.execute("delete from linkage.pairs")
    con.register("_pairs", frame.to_arrow())
    con.execute("insert or replace into linkage.pairs by name select *, now() as scored_at from _pairs")
    con.unregister("_pairs")
    _remember_scored(con, records)
    report.pairs_scored = frame.height
    return model


def _scratch(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Splink's in-memory database under the warehouse's memory limit (instead of DuckDB's default,
    80 % of the machine), spilling to the warehouse's temporary folder in the data home: encodings
    never land outside it. Training at NRW 5 years: 1.6 GiB of memory, before 2.3 GiB."""
    limit, temp = con.execute(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    return duckdb.connect(config={"memory_limit": limit, "temp_directory": temp})


def unsealed(records: pl.DataFrame, seal_key: bytes) -> pl.DataFrame:
    """Records with their name filters unsealed (bytes), by their ``unique_id`` or ``record_id``."""
    ids = records["unique_id" if "unique_id" in records.columns else "record_id"]
    return records.with_columns(
        seal(records[name], ids, seal_key, name) for name in ("surname_bloom", "first_name_bloom")
    )


def _remember_scored(con: duckdb.DuckDBPyConnection, records: pl.DataFrame) -> None:
    con.register("_scored", records.filter(pl.col("is_new")).select("unique_id").to_arrow())
    con.execute("insert or ignore into linkage.scored_records select unique_id from _scored")
    con.unregister("_scored")


def _levels(model: dict) -> list[tuple[str, list[str]]]:
    return [
        (c["output_column_name"], [level.get("sql_condition", "") for level in c["comparison_levels"]])
        for c in model["comparisons"]
    ]


def compares_otherwise(model: dict) -> bool:
    """Whether a stored model compares records otherwise than this code does (a comparison level
    changed since it was trained): its m and u belong to other levels, so it is trained again
    instead of scoring new pairs with levels that are no longer the code's."""
    current = settings("dedupe_only", condition=ACROSS_DATASETS, source_pairs_m=[0.25] * 4)
    return _levels(model) != _levels(current.create_settings_dict("duckdb"))


def for_records(model: dict, trained_on: int, records: int) -> dict:
    """The stored model for today's number of records: the chance that two random records are one
    person falls as the records grow (the matches grow with the records, the pairs with their
    square), so a model trained on fewer records would link ever more readily until the next
    training. No level's m below M_FLOOR and no partial agreement above full (linkage/model.py
    ``usable``): a model stored before either existed gets them here."""
    prior = model["probability_two_random_records_match"] * trained_on / max(records, trained_on, 1)
    return usable({**copy.deepcopy(model), "probability_two_random_records_match": prior})


def _exact_links(records: pl.DataFrame) -> pl.DataFrame:
    """The pairs of nodes in two datasets that share a person key, with their source tables."""
    nodes = records.select(
        "person_key", "dataset", pl.col("dataset").str.split("|").list.first().alias("table")
    ).unique()
    pairs = nodes.join(nodes, on="person_key", suffix="_r").filter(pl.col("dataset") < pl.col("dataset_r"))
    return pairs.select(pl.col("table").alias("table_l"), pl.col("table_r"))


def _train(db_api, condition: str, exact_links: pl.DataFrame, records: int) -> dict:
    """The model's parameters: u from random pairs, the prior from the exact agreements, and the
    share of matches per kind of source pair from the ``exact_links``; m by EM when the data holds
    enough matches for it (at least ``MIN_LINKS_FOR_EM`` exact links across datasets) and EM finds
    a match class that agrees on names and birth date; otherwise the starting m values
    (linkage/model.py) stand: EM on a handful of matches among many non-matches converges to a
    class that is no match at all."""
    from linkage.model import trained_linker

    link_settings = settings("dedupe_only", condition=condition, source_pairs_m=source_pair_m(exact_links))
    if exact_links.height >= MIN_LINKS_FOR_EM:
        model = trained_linker(
            db_api, ["records"], link_settings, condition=condition, records=records
        ).misc.save_model_to_json()
        if _plausible(model):
            return model
        LOG.warning("EM found no plausible match class: the starting m values stand")
    linker = trained_linker(
        db_api, ["records"], link_settings, condition=condition, expectation_maximisation=False
    )
    return linker.misc.save_model_to_json()


def _plausible(model: dict) -> bool:
    """Matches agree exactly on most names and birth dates (a register's error rate is a few
    percent, never half)."""
    strictest = {
        c["output_column_name"]: next(
            level for level in c["comparison_levels"] if not level.get("is_null_level")
        )
        for c in model["comparisons"]
    }
    return not compares_otherwise(model) and all(
        strictest[name].get("m_probability", 0) > 0.5
        for name in ("surname_bloom", "first_name_bloom", "birth_date")
    )


def _pair_frame(pairs) -> pl.DataFrame:
    """Splink's pairs in the stored order (the smaller record id on the left)."""
    frame = pairs.as_duckdbpyrelation().pl()
    swap = pl.col("unique_id_l") > pl.col("unique_id_r")
    return frame.select(
        pl.when(swap).then(pl.col("unique_id_r")).otherwise(pl.col("unique_id_l")).alias("record_id_l"),
        pl.when(swap).then(pl.col("unique_id_l")).otherwise(pl.col("unique_id_r")).alias("record_id_r"),
        "match_probability", "match_weight",
    ).unique(["record_id_l", "record_id_r"])  # fmt: skip


# --- decisions and clusters ---------------------------------------------------------------------


def _clusters(con: duckdb.DuckDBPyConnection, records: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Each node's cluster (a representative node). Links are taken in order of certainty; a link
    that would join two nodes of one dataset (a person appears once per register), or a pair the
    operator rejected, is skipped. The loop is in Python because each link depends on the ones
    before it (a constrained union-find); it sees only the nodes of some link (a few thousand):
    every other node is a cluster of its own."""
    nodes = records.select("unique_id", "node", "dataset")

    def node_pairs(frame: pl.DataFrame) -> list[tuple[str, str]]:
        joined = (
            frame.select("record_id_l", "record_id_r")
            .with_row_index("_order")
            .join(
                nodes.select(pl.col("unique_id").alias("record_id_l"), pl.col("node").alias("a")),
                on="record_id_l",
            )
            .join(
                nodes.select(pl.col("unique_id").alias("record_id_r"), pl.col("node").alias("b")),
                on="record_id_r",
            )
            .sort("_order")
        )
        return list(zip(joined["a"], joined["b"], strict=True))

    exact = (
        records.group_by("person_key")
        .agg(pl.col("node").unique().sort())
        .filter(pl.col("node").list.len() > 1)
        .sort("person_key")
    )
    links = con.execute(
        "select record_id_l, record_id_r from linkage.pairs where match_probability >= ? "
        "order by match_probability desc, record_id_l, record_id_r",
        [UPPER_THRESHOLD],
    ).pl()
    rejected_pairs = node_pairs(decisions.filter(pl.col("decision") == "reject"))
    accepted_pairs = node_pairs(decisions.filter(pl.col("decision") == "accept"))
    exact_pairs = [(group[0], other) for group in exact["node"] for other in group[1:]]
    linked_pairs = node_pairs(links)
    involved = {node for pair in accepted_pairs + exact_pairs + linked_pairs for node in pair}
    found = nodes.filter(pl.col("node").is_in(list(involved))).unique("node")
    parent = {node: node for node in found["node"]}
    datasets = {node: {dataset} for node, dataset in zip(found["node"], found["dataset"], strict=True)}
    members = {node: [node] for node in parent}
    rejected: dict[str, set[str]] = {}
    for a, b in rejected_pairs:
        rejected.setdefault(a, set()).add(b)
        rejected.setdefault(b, set()).add(a)

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(a: str, b: str, one_per_dataset: bool) -> None:
        ra, rb = find(a), find(b)
        if ra == rb or (one_per_dataset and datasets[ra] & datasets[rb]):
            return
        small, large = sorted((ra, rb), key=lambda r: len(members[r]))
        if any(
            other in parent and find(other) == large
            for node in members[small]
            for other in rejected.get(node, ())
        ):
            return
        parent[small] = large
        members[large] += members.pop(small)
        datasets[large] |= datasets.pop(small)

    for pairs, one_per_dataset in ((accepted_pairs, False), (exact_pairs, False), (linked_pairs, True)):
        for a, b in pairs:
            union(a, b, one_per_dataset)
    linked = pl.DataFrame(
        {"node": list(parent), "linked_to": [find(node) for node in parent]},
        schema={"node": pl.String, "linked_to": pl.String},
    )
    return (
        nodes.select("node")
        .unique()
        .join(linked, on="node", how="left")
        .select("node", pl.coalesce("linked_to", "node").alias("cluster"))
    )


def _assign_person_ids(con: duckdb.DuckDBPyConnection, clusters: pl.DataFrame) -> int:
    """Each cluster keeps the person id most of its nodes had; a cluster with none (new people, or
    the smaller part of a split) gets the next free number. Returns the number of persons."""
    con.register("_clusters", clusters.to_arrow())
    con.execute(
        """
        create or replace temp table _assigned as
        with nodes as (
            select c.node, c.cluster, split_part(c.node, '|', 1) as source_table,
                split_part(c.node, '|', 2) as local_key, p.person_id as old_id
            from _clusters c
            left join linkage.person_ids p
                on p.source_table = split_part(c.node, '|', 1) and p.local_key = split_part(c.node, '|', 2)
        ),
        votes as (
            select cluster, old_id, count(*) as nodes from nodes where old_id is not null group by all
        ),
        -- each old id to the cluster holding most of its nodes, each cluster one old id
        by_id as (
            select * from votes qualify row_number() over (partition by old_id order by nodes desc, cluster) = 1
        ),
        kept as (
            select * from by_id qualify row_number() over (partition by cluster order by nodes desc, old_id) = 1
        ),
        fresh as (
            select cluster, (select coalesce(max(person_id), 0) from linkage.person_ids)
                + row_number() over (order by min(node)) as new_id
            from nodes where cluster not in (select cluster from kept) group by cluster
        )
        select nodes.source_table, nodes.local_key, nodes.old_id,
            coalesce(kept.old_id, fresh.new_id) as person_id
        from nodes left join kept using (cluster) left join fresh using (cluster)
        """
    )
    con.unregister("_clusters")
    con.execute(
        "insert into linkage.person_id_changes select now(), source_table, local_key, old_id, person_id "
        "from _assigned where old_id is not null and old_id <> person_id"
    )
    # only what changed is written: a new month's few thousand rows, not everyone's
    con.execute(
        "delete from linkage.person_ids where (source_table, local_key) in "
        "(select (source_table, local_key) from _assigned where old_id is distinct from person_id)"
    )
    con.execute(
        "insert into linkage.person_ids select source_table, local_key, person_id from _assigned "
        "where old_id is distinct from person_id"
    )
    persons = con.execute("select count(distinct person_id) from _assigned").fetchone()[0]
    con.execute("drop table _assigned")
    return persons


# --- review and metrics -------------------------------------------------------------------------


def _review(con: duckdb.DuckDBPyConnection, decisions: pl.DataFrame, seal_key: bytes) -> tuple[int, int]:
    """``ops.linkage_review``: the pairs between the thresholds that no decision settled and whose
    records are not already one person, with how each field agrees (never a value)."""
    con.register("_decided", decisions.select("record_id_l", "record_id_r").to_arrow())
    # only the records of the band's pairs (a few hundred of all), their filters unsealed in memory
    band_records = con.execute(
        f"""
        select {RECORD_ID} as record_id,
            * replace (surname_bloom::blob as surname_bloom, first_name_bloom::blob as first_name_bloom)
        from linkage.person_records
        where {RECORD_ID} in (
            select unnest([record_id_l, record_id_r]) from linkage.pairs
            where match_probability >= ? and match_probability < ?
        )
        """,
        [LOWER_THRESHOLD, UPPER_THRESHOLD],
    ).pl()
    con.register("_band_records", unsealed(band_records, seal_key).to_arrow())
    agreement = ", ".join(f"{sql} as {name}" for name, sql in agreement_sql().items())
    encodings = (
        "surname_bloom", "first_name_bloom", "birth_date_hash", "birth_day_hash", "birth_month_hash",
        "birth_year_hash", "birth_swapped_hash", "sex", "kreisschluessel", "werkstatt_nr", "surname_bloom_bits", "first_name_bloom_bits",
    )  # fmt: skip
    sides = {side: ", ".join(f'{side}.{c} as "{c}_{side}"' for c in encodings) for side in ("l", "r")}
    con.execute("delete from ops.linkage_review")
    con.execute(
        f"""
        insert into ops.linkage_review
        with band as (
            select * from linkage.pairs where match_probability >= ? and match_probability < ?
        ),
        records as ({prepared("_band_records")}),
        open_pairs as (
            select p.record_id_l, p.record_id_r, p.match_probability,
                l.source_table as source_table_l, r.source_table as source_table_r, {sides["l"]}, {sides["r"]}
            from band p
            join records l on l.record_id = p.record_id_l
            join records r on r.record_id = p.record_id_r
            join linkage.person_ids il on il.source_table = l.source_table and il.local_key = l.local_key
            join linkage.person_ids ir on ir.source_table = r.source_table and ir.local_key = r.local_key
            where il.person_id <> ir.person_id
                and not exists (select 1 from _decided d where d.record_id_l = p.record_id_l
                                and d.record_id_r = p.record_id_r)
        )
        select record_id_l, record_id_r, source_table_l, source_table_r, match_probability, {agreement}
        from open_pairs
        order by match_probability desc
        """,
        [LOWER_THRESHOLD, UPPER_THRESHOLD],
    )
    con.execute("delete from linkage.persons_in_review")
    con.execute(
        """
        insert into linkage.persons_in_review
        with sides as (
            select record_id_l as record_id, source_table_r as source_table_across from ops.linkage_review
            union all
            select record_id_r, source_table_l from ops.linkage_review
        )
        select distinct ids.person_id, sides.source_table_across
        from sides
        join _band_records records on records.record_id = sides.record_id
        join linkage.person_ids ids on ids.source_table = records.source_table and ids.local_key = records.local_key
        """
    )
    con.unregister("_decided")
    con.unregister("_band_records")
    accepted = con.execute(
        "select count(*) from linkage.pairs where match_probability >= ?", [UPPER_THRESHOLD]
    ).fetchone()[0]
    return accepted, con.execute("select count(*) from ops.linkage_review").fetchone()[0]


def _review_persons_missing(con: duckdb.DuckDBPyConnection) -> bool:
    """A data home whose review queue predates ``linkage.persons_in_review``: fill it once."""
    return con.execute(
        "select exists(from ops.linkage_review) and not exists(from linkage.persons_in_review)"
    ).fetchone()[0]


def _metrics(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    report: LinkageReport,
    model: dict | None,
    run_id: str,
    decisions_sha: str,
) -> None:
    """One row per run: the model's prior, the review band, the share of each source's local persons
    that are one person with a record of another source."""
    con.execute(
        """
        insert into ops.linkage_metrics
        with sources as (
            select source_table, person_id,
                count(*) over (partition by person_id) > count(*) over (partition by person_id, source_table)
                    as linked_across
            from linkage.person_ids
        ),
        shares as (
            select
                avg(linked_across::int) filter (where source_table = 'wfbm_personen') as wfbm,
                avg(linked_across::int) filter (where source_table = 'jc_kunden') as jc,
                avg(linked_across::int) filter (where source_table = 'lv_budget_fuer_arbeit') as lv
            from sources
        )
        select now(), ?, ?, ?, ?, ?, ?, ?, ?,
            (select max(trained_at) from linkage.model), ?, shares.wfbm, shares.jc, shares.lv, ?, ?
        from shares
        """,
        [
            run_id, report.records, report.new_records, report.persons, report.pairs_scored,
            report.links_accepted, report.pairs_in_review, report.decisions,
            model.get("probability_two_random_records_match") if model else None,
            decisions_sha, report.seconds,
        ],
    )  # fmt: skip
