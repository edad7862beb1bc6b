"""The warehouse: every dbt seed, model and test as Dagster assets and asset checks, grouped by layer."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from ingest.run_state import unchanged_since_last_run
from orchestration.dbt import (
    KEEP_RUN_TARGETS,
    RUN_TARGET_PREFIX,
    DbtConsole,
    dbt_environment,
    dbt_errors,
    dbt_project,
    ensure_manifest,
    keep_partial_parse,
    prune_run_targets,
    restore_partial_parse,
)
from orchestration.defs.resources import DataHomeResource, warehouse_locked
from orchestration.pipeline import executed_here
from orchestration.refresh import (
    deliveries_to_test,
    logic_fingerprints,
    record_fingerprints,
    record_tested,
    stale_models,
    tests_fingerprint,
)
from publish.validation import import_in_background
from teilhabe.disk import is_disk_full, remove_temporary, require_free_space, storage_error
from teilhabe.settings import WAREHOUSE_POOL

ensure_manifest()  # dagster-dbt builds the assets from the manifest (parsed only when dbt files changed)


class LayeredTranslator(DagsterDbtTranslator):
    """dbt's assets grouped by layer, as the warehouse's schemas are: staging, intermediate, marts,
    kpi, and the seeds in reference."""

    def get_group_name(self, dbt_resource_props) -> str | None:
        return dbt_resource_props.get("config", {}).get("schema") or super().get_group_name(
            dbt_resource_props
        )

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=check_description(manifest["nodes"][unique_id]))


def check_description(test: dict) -> str:
    """What a dbt test checks, as one sentence for its asset check in the UI (an operator review:
    the ~180 checks had none, only names like ``unique_combination_fct_…__transition_date``)."""
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs", {})
    column = f"`{kwargs.get('column_name')}`"
    said = {
        "not_null": f"Every row has a {column}.",
        "unique": f"No two rows have the same {column}.",
        "unique_combination": "One row per " + ", ".join(f"`{c}`" for c in kwargs.get("columns", [])) + ".",
        "accepted_values": f"{column} is one of " + ", ".join(map(str, kwargs.get("values", []))) + ".",
        "relationships": f"Every {column} is a `{kwargs.get('field')}` of "
        f"`{str(kwargs.get('to', '')).removeprefix('ref(').strip(chr(39) + ')')}`.",
    }.get(metadata.get("name", ""))
    if said is None:  # a singular test: its first comment line says what it asserts
        comments = [line for line in test.get("raw_code", "").splitlines() if line.startswith("-- ")]
        said = comments[0].removeprefix("-- ") if comments else test["name"].replace("_", " ")
    config = test.get("config", {})
    if config.get("where") == "__untested_deliveries__":
        said += (
            " Checked on the deliveries since it last passed (every row after a change of the dbt project)."
        )
    if str(config.get("severity", "error")).lower() == "warn":
        said += " A failure warns; the build goes on."
    return said


# dbt's own log file at "info", not its default "debug": every SQL statement of ~250 nodes, written
# from both threads, cost ~1 s of a new month's build. The compiled SQL stays in the run's target
# folder (run/, compiled/), and dbt's events in console.log and the Dagster run log.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test", "--log-level-file", "info"]
# A run whose new files changed nothing the warehouse is built from (rejected or held files) builds
# only what the senders' Rückmeldungen read (dbt_project/selectors.yml; dbt takes a --selector over
# the --select dagster-dbt adds); the marts and KPIs stay, nothing is published.
FEEDBACK_ONLY_ARGS = [*BUILD_ARGS, "--selector", "sender_feedback_inputs"]
# Incremental models whose logic changed since they were built, rebuilt whole with what is upstream
# of them before the build (orchestration/refresh.py); the build's tests then check them.
REFRESH_ARGS = ["run", "--full-refresh", "--log-level-file", "info", "--select"]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    pool=WAREHOUSE_POOL,
    dagster_dbt_translator=LayeredTranslator(),
)
def warehouse_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, data_home: DataHomeResource):
    """``dbt build`` of the selected models: models, seeds and their data tests in one invocation.
    dbt's unit tests check the SQL, not the data: they run in ``make test``
    (tests/test_dbt_unit_tests.py), not on every delivery (~10 s of a 5-year build). Its dbt state
    (target folder, partial parse) lives in the data home, apart from the manifest that Dagster
    prepares and from `make docs` (each dbt project path and profile keeps its own)."""
    settings = data_home.settings()
    warehouse, state = settings.home.warehouse, settings.home.dbt_state
    feedback_only, stale, fingerprints, tests, tested_through = False, [], {}, "", 0
    if not context.is_subset:
        fingerprints = logic_fingerprints(dbt_project.manifest_path)
        tests = tests_fingerprint(dbt_project.manifest_path)
        with data_home.connect() as con:
            feedback_only = unchanged_since_last_run(con, settings.home.linkage_decisions)
            stale = [] if feedback_only else stale_models(con, fingerprints)
            tested_through = deliveries_to_test(con, tests)
    if feedback_only:
        context.log.info(
            "no delivery in force, model or decision changed since the last complete run: "
            "building only what the senders' Rückmeldungen read; nothing is published"
        )
    size = warehouse.stat().st_size if warehouse.exists() else 0
    require_free_space(warehouse, "dbt build", need=size // 2, keep_free=settings.min_free_bytes)
    run_target = state / f"{RUN_TARGET_PREFIX}{context.run.run_id[:8]}-{uuid.uuid4().hex[:6]}"
    with _disk_full_named(warehouse, run_target):  # the saved parse is a few MB, copied first
        restore_partial_parse(state, run_target)
    # A full run of `teilhabe run` publishes in this process later; the build runs in dbt's process
    # and this one waits, so the publication's slowest import is done now.
    publishes_later = executed_here(context.run) and not context.is_subset and not feedback_only
    importing = import_in_background() if publishes_later else None
    try:
        # dagster-dbt echoes every dbt event to stdout: into the run's dbt folder instead (the
        # Dagster run log has them as events).
        with (
            dbt_environment(warehouse, settings.duckdb_memory_limit),
            DbtConsole(run_target / "console.log").redirect(),
        ):
            if stale:  # orchestration/refresh.py: their built partitions hold an earlier logic's figures
                context.log.warning(
                    f"logic changed since they were built: rebuilding whole {', '.join(stale)} (and what "
                    "they are built from), then building as always"
                )
                # one value: dagster-dbt hands dbt a --select's first value only, the rest as stray arguments
                refresh = [*REFRESH_ARGS, " ".join(f"+{model}" for model in stale)]
                dbt.cli(refresh, manifest=dbt_project.manifest_path, target_path=run_target).wait()
            args = FEEDBACK_ONLY_ARGS if feedback_only else BUILD_ARGS
            invocation = dbt.cli(args, context=context, target_path=run_target)
            yield from invocation.stream()
    except DagsterDbtCliRuntimeError as error:
        remove_temporary([Path(f"{warehouse}.tmp")])  # DuckDB's spill files of the failed build
        if is_disk_full(error):
            remove_temporary([run_target])
            raise dg.Failure(str(storage_error("dbt build", warehouse, error, dbt_errors(error)))) from None
        if problem := warehouse_locked(str(error)):  # dbt's text was DuckDB's, cut off at its hint
            raise dg.Failure(f"dbt build: {problem}") from None
        raise dg.Failure(f"dbt build failed: {dbt_errors(error)}") from None
    finally:
        if importing is not None:
            importing.join()
    if fingerprints and not feedback_only:  # a complete build: the logic its incremental models hold
        with data_home.connect() as con:
            record_fingerprints(con, fingerprints)
            record_tested(con, tested_through, tests)  # and what its tests have seen
    with _disk_full_named(warehouse):
        keep_partial_parse(run_target, state)
    prune_run_targets(state, KEEP_RUN_TARGETS)


@contextmanager
def _disk_full_named(warehouse: Path, *leftovers: Path) -> Iterator[None]:
    """A full disk while dbt's state is copied ends the step as a full disk in the build does: one
    line naming the step, the path and the free space, and no half-copied folder left."""
    try:
        yield
    except OSError as error:
        if not is_disk_full(error):
            raise
        remove_temporary(list(leftovers))
        raise dg.Failure(str(storage_error("dbt build", warehouse, error))) from None


ANALYSTS_INPUTS = [key for key in warehouse_dbt_assets.keys if key.path[0] in ("marts", "kpi")]
KPI_ASSETS = [key for key in warehouse_dbt_assets.keys if key.path[0] == "kpi"]
