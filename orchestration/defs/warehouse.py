"""The warehouse: every dbt seed, model and test as Dagster assets and asset checks."""
# No `from __future__ import annotations` here: Dagster inspects the context annotation at runtime.

import contextlib
import io
import os
import re
import shutil
import uuid
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from orchestration.dbt import WAREHOUSE_ENV, dbt_project, ensure_manifest
from orchestration.resources import DataHome
from teilhabe.disk import StorageError, is_disk_full, remove_temporary, require_free_space, storage_error
from teilhabe.publish.analysts_copy import SCHEMAS, publish_analysts_copy, record_disclosure_metrics

ensure_manifest()


class LayeredTranslator(DagsterDbtTranslator):
    """dbt's assets grouped by layer, as the warehouse's schemas are: staging, intermediate, marts,
    kpi, and the seeds in reference."""

    def get_group_name(self, dbt_resource_props) -> str | None:
        return dbt_resource_props.get("config", {}).get("schema") or super().get_group_name(
            dbt_resource_props
        )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    pool="warehouse",
    dagster_dbt_translator=LayeredTranslator(),
)
def warehouse_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, data_home: DataHome):
    """``dbt build`` of the selected models: models, seeds and their tests in one invocation. Its
    dbt state (target folder, partial parse) lives in the data home, apart from the manifest that
    Dagster prepares and from `make docs` (each dbt project path and profile keeps its own)."""
    warehouse = data_home.warehouse
    os.environ[WAREHOUSE_ENV] = str(warehouse)  # dbt writes the warehouse of this data home
    size = warehouse.stat().st_size if warehouse.exists() else 0
    require_free_space(warehouse, "dbt build", need=size // 2)
    state = data_home.dbt_state
    run_target = state / f"{RUN_TARGET_PREFIX}{context.run.run_id[:8]}-{uuid.uuid4().hex[:6]}"
    _restore_partial_parse(state, run_target)
    try:
        # dagster-dbt echoes every dbt event to stdout: into the run's dbt folder instead (the
        # Dagster run log has them as events).
        with contextlib.redirect_stdout(_DbtConsole(run_target / "console.log")):
            invocation = dbt.cli(["build"], context=context, target_path=run_target)
            yield from invocation.stream()
    except DagsterDbtCliRuntimeError as error:
        remove_temporary([Path(f"{warehouse}.tmp")])  # DuckDB's spill files of the failed build
        if is_disk_full(error):
            remove_temporary([run_target])
            raise dg.Failure(str(storage_error("dbt build", warehouse, error, _dbt_errors(error)))) from None
        raise dg.Failure(f"dbt build failed: {_dbt_errors(error)}") from None
    _keep_partial_parse(run_target, state)
    _prune_run_targets(state, KEEP_RUN_TARGETS)


class _DbtConsole(io.TextIOBase):
    """A file for dbt's console lines that never fails the build (a full disk just ends it)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed when the run ends)
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                self._handle.write(text)
            except OSError:
                self._broken = True
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.flush()


KEEP_RUN_TARGETS = 5
RUN_TARGET_PREFIX = "build-"


def _dbt_errors(error: Exception) -> str:
    """dbt's own error messages in one line (dagster-dbt lists them after a marker): how many
    nodes failed, and the distinct causes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    parsed = text.split("Errors parsed from dbt logs:", 1)[-1]
    lines = [line.strip() for line in parsed.splitlines() if line.strip()]
    failed = [line for line in lines if re.match(r"^\d+ of \d+ (ERROR|FAIL)", line)]
    causes = list(dict.fromkeys(c for c in lines if c not in failed and not c.startswith("Unhandled error")))
    summary = "; ".join(causes[:2]) or (failed[0] if failed else text.splitlines()[0])
    return (f"{len(failed)} dbt nodes failed: " if failed else "") + summary[:300]


def _restore_partial_parse(state: Path, run_target: Path) -> None:
    """Start from this data home's last parse (dbt re-parses the whole project, ~3 s, when the
    state was written for another project path or profile); on the first run, from the parse
    Dagster prepared. Copied here rather than by dagster-dbt, which would keep the repository's
    file mode: the data home stays private."""
    saved = state / "partial_parse.msgpack"
    if not saved.exists():
        saved = dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"
    if saved.exists():
        run_target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, run_target / "partial_parse.msgpack")


def _keep_partial_parse(run_target: Path, state: Path) -> None:
    """Keep the parse this run wrote, so the next run of this data home parses partially."""
    written = run_target / "partial_parse.msgpack"
    if written.exists():
        saved = state / "partial_parse.msgpack"
        temporary = saved.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(written, temporary)
        os.replace(temporary, saved)


def _prune_run_targets(state: Path, keep: int) -> None:
    """Each invocation gets its own dbt target folder (~8 MB: compiled SQL, run results, logs); keep
    the newest few for debugging instead of one more per nightly run forever."""
    runs = sorted(state.glob(f"{RUN_TARGET_PREFIX}*"), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


ANALYSTS_INPUTS = [key for key in warehouse_dbt_assets.keys if key.path[0] in SCHEMAS]
KPI_ASSETS = [key for key in warehouse_dbt_assets.keys if key.path[0] == "kpi"]


@dg.asset(
    key=["analysts", "teilhabe_duckdb"],
    deps=ANALYSTS_INPUTS,
    group_name="publish",
    kinds={"duckdb"},
    pool="warehouse",
    description="The analysts' read-only copy: marts and KPI tables, replaced atomically after each build",
)
def analysts_copy(context: dg.AssetExecutionContext, data_home: DataHome) -> dg.MaterializeResult:
    target = data_home.analysts_copy
    try:
        require_free_space(target, "the analysts' copy", need=data_home.warehouse.stat().st_size)
        rows = publish_analysts_copy(data_home.warehouse, target, dbt_project.manifest_path)
        metrics = record_disclosure_metrics(data_home.warehouse, target)
    except StorageError as problem:
        raise dg.Failure(str(problem)) from None
    unique = ", ".join(f"{table} {share:.1%}" for table, _, _, _, share in metrics if share is not None)
    context.log.info(
        f"analysts' copy at {target}: {len(rows)} tables; rows unique on their quasi-identifiers: {unique}"
    )
    return dg.MaterializeResult(
        metadata={
            "path": str(target),
            "tables": len(rows),
            "rows": sum(rows.values()),
            **{
                f"unique share {table}": dg.MetadataValue.float(share)
                for table, _, _, _, share in metrics
                if share is not None
            },
        }
    )


defs = dg.Definitions(assets=[warehouse_dbt_assets, analysts_copy])
