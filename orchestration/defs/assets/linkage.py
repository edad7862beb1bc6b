"""Linkage: the people of every source recognised across agencies (spec/linkage.md), between the
landing tables and the warehouse build. Its metadata are counts only: no encoding, no record."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import dagster as dg

from linkage.decisions import invalid_lines
from linkage.stage import link_persons
from orchestration.defs.assets.ingest import LANDING_KEYS
from orchestration.defs.resources import DataHomeResource

PERSON_TABLES = ("wfbm_personen", "jc_kunden", "lv_budget_fuer_arbeit")


@dg.asset(
    key=["linkage", "person_ids"],
    group_name="linkage",
    kinds={"duckdb", "splink"},
    deps=[LANDING_KEYS[table] for table in PERSON_TABLES],
    pool="warehouse",
    description="Each source-local person's stable person_id: Fellegi-Sunter linkage (Splink) on the "
    "keyed encodings, the exact person key and the operator's decisions (linkage.md §3)",
)
def person_ids(context: dg.AssetExecutionContext, data_home: DataHomeResource) -> dg.MaterializeResult:
    settings = data_home.settings()
    decisions = settings.home.linkage_decisions
    if bad := invalid_lines(decisions):
        context.log.warning(
            f"{decisions}: lines {bad[:10]} are no decision (record ids, accept|reject) and were left out"
        )
    with data_home.connect() as con:
        report = link_persons(con, decisions, run_id=context.run.run_id)
    context.log.info(report.summary())
    return dg.MaterializeResult(
        metadata={
            "records": report.records,
            "new_records": report.new_records,
            "persons": report.persons,
            "links_accepted": report.links_accepted,
            "pairs_in_review": report.pairs_in_review,
            "operator_decisions": report.decisions,
            "model": report.model,
            "seconds": round(report.seconds, 1),
        }
    )
