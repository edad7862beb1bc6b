"""Linkage: the people of every source recognised across agencies (spec/linkage.md), between the
landing tables and the warehouse build. Its metadata are counts only: no encoding, no record."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import dagster as dg

from ingest.encodings import SEAL_PURPOSE
from ingest.pseudonymise import load_key
from linkage.decisions import invalid_lines
from linkage.stage import link_persons
from orchestration.defs.assets.ingest import LANDING_KEYS
from orchestration.defs.resources import DataHomeResource, into_run_log
from teilhabe.settings import WAREHOUSE_POOL

PERSON_TABLES = ("wfbm_personen", "jc_kunden", "lv_budget_fuer_arbeit")
LOGGERS = ("linkage", "splink")  # the stage's and Splink's records, into the run's log
# Splink's note that a comparison level never occurred in the training pairs is information: that
# level's m keeps its start value.
NOT_OBSERVED = "not observed in dataset"


@dg.multi_asset(
    name="linkage__person_ids",  # the step's name, as before the second table (the console's stages)
    specs=[
        dg.AssetSpec(
            ["linkage", "person_ids"],
            group_name="linkage",
            kinds={"duckdb", "splink"},
            deps=[LANDING_KEYS[table] for table in PERSON_TABLES],
            description="Each source-local person's stable person_id: Fellegi-Sunter linkage (Splink) on the "
            "keyed encodings, the exact person key and the operator's decisions (linkage.md §3)",
        ),
        dg.AssetSpec(
            ["linkage", "persons_in_review"],
            group_name="linkage",
            kinds={"duckdb"},
            deps=[LANDING_KEYS[table] for table in PERSON_TABLES],
            description="The persons whose record pairs wait for the operator's review (ids only): the KPIs "
            "that count them say they may change (K10, K11, K14)",
        ),
    ],
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "review_queue",
            asset=["linkage", "person_ids"],
            blocking=False,
            description="No pair of person records waits for clerical review (`teilhabe linkage review`)",
        )
    ],
)
def person_ids(context: dg.AssetExecutionContext, data_home: DataHomeResource):
    settings = data_home.settings()
    decisions = settings.home.linkage_decisions
    if bad := invalid_lines(decisions):
        context.log.warning(
            f"{decisions}: lines {bad[:10]} are no decision (record ids, accept|reject) and were left out"
        )
    seal_key = load_key(settings.pseudonym_key, settings.pseudonym_key_file).subkey(SEAL_PURPOSE)
    with data_home.connect() as con, into_run_log(context.log, LOGGERS, quiet=(NOT_OBSERVED,)):
        report = link_persons(con, decisions, seal_key, run_id=context.run.run_id)
        waiting = con.execute("select count(*) from ops.linkage_review").fetchone()[0]
        # their data versions: the same people under the same ids leave the warehouse in sync
        version = con.execute(
            "select md5(count(*)::varchar || ' ' || coalesce(sum(hash(source_table, local_key, person_id)), 0)::varchar) "
            "from linkage.person_ids"
        ).fetchone()[0]
        in_review = con.execute(
            "select count(distinct person_id), md5(count(*)::varchar || ' ' || "
            "coalesce(sum(hash(person_id, source_table_across)), 0)::varchar) from linkage.persons_in_review"
        ).fetchone()
    context.log.info(report.summary())
    yield dg.MaterializeResult(
        asset_key=["linkage", "persons_in_review"],
        data_version=dg.DataVersion(in_review[1]),
        metadata={"persons": in_review[0]},
    )
    yield dg.MaterializeResult(
        asset_key=["linkage", "person_ids"],
        data_version=dg.DataVersion(version),
        metadata={
            "records": report.records,
            "new_records": report.new_records,
            "persons": report.persons,
            "links_accepted": report.links_accepted,
            "pairs_in_review": waiting,
            "operator_decisions": report.decisions,
            "model": report.model,
            "seconds": round(report.seconds, 1),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=["linkage", "person_ids"],
        check_name="review_queue",
        passed=waiting == 0,
        severity=dg.AssetCheckSeverity.WARN,  # the figures hold without them; each one is a person missed
        metadata={"pairs_in_review": waiting, "how": "teilhabe linkage review"},
    )
