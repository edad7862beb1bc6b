"""Run the whole pipeline from the command line, in one in-process Dagster run.

One run takes every new delivery of the inbox (never one run per file), so the fixed costs of
Dagster and dbt are paid once. The run is recorded in the Dagster instance of the data home, so
it shows in the UI like any other run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from teilhabe.settings import data_home


@dataclass(frozen=True)
class PipelineResult:
    success: bool
    run_id: str
    materialized: int
    failed_steps: tuple[str, ...]
    ingest_summary: str = ""

    def summary(self) -> str:
        status = "succeeded" if self.success else f"FAILED in {', '.join(self.failed_steps)}"
        lines = [f"pipeline run {self.run_id} {status}: {self.materialized} assets materialized"]
        if self.ingest_summary:
            lines.append(f"ingest: {self.ingest_summary}")
        return "\n".join(lines)


def run_pipeline(inbox: Path) -> PipelineResult:
    home = data_home().ensure()
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    os.environ["TEILHABE_INBOX"] = str(inbox)
    from orchestration.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        # The run's full log is in the Dagster instance (see it with `make dev`); the terminal
        # shows warnings and the summary.
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=quiet)
    summaries = [
        event.event_specific_data.materialization.metadata["run_summary"].value
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
        and "run_summary" in event.event_specific_data.materialization.metadata
    ]
    materialized = sum(1 for event in result.all_events if event.event_type_value == "ASSET_MATERIALIZATION")
    failed = tuple(
        event.step_key or "?" for event in result.all_events if event.event_type_value == "STEP_FAILURE"
    )
    return PipelineResult(
        result.success, result.run_id, materialized, failed, summaries[0] if summaries else ""
    )
