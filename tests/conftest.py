"""Shared fixtures: one demo simulation per test session (a few seconds), in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# Tests never touch the user's key file: a fixed test key (a test's own, not a secret of anyone's).
os.environ.setdefault("TEILHABE_PSEUDONYM_KEY", "test-only-pseudonym-key, never a real secret")

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec"


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    if not SPEC.exists():
        pytest.skip("../shared/spec is not beside the repository")
    return SPEC


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """A demo inbox (profile demo, 2023-2024, seed 7) whose names are spelled without errors (its
    decoys, different people with similar names, stay): the KPI oracle comparisons hold exactly on
    it. Its ground truth is in ``<inbox>.truth``."""
    from teilhabe.simulate import simulate

    inbox = tmp_path_factory.mktemp("demo") / "inbox"
    simulate(out=inbox, profile="demo", years=(2023, 2024), seed=7, name_error_rate=0.0, progress=False)
    return inbox


@pytest.fixture(scope="session")
def demo_with_errors(tmp_path_factory) -> Path:
    """The demo inbox as `teilhabe simulate` writes it by default: 5 % of the person records of each
    source with a spelling error (spec/linkage.md §1), 1 % near-twin decoys."""
    from teilhabe.simulate import simulate

    inbox = tmp_path_factory.mktemp("demo_with_errors") / "inbox"
    simulate(out=inbox, profile="demo", years=(2023, 2024), seed=7, progress=False)
    return inbox


@pytest.fixture(scope="session")
def faulty(tmp_path_factory) -> Path:
    """A demo inbox with injected faults (--defects 0.05)."""
    from teilhabe.simulate import simulate

    inbox = tmp_path_factory.mktemp("faulty") / "inbox"
    simulate(out=inbox, profile="demo", years=(2024, 2024), seed=11, defect_rate=0.05, progress=False)
    return inbox


@pytest.fixture(scope="session")
def demo_home(demo, tmp_path_factory) -> dict:
    """A data home after one full pipeline run on the demo inbox (ingest, dbt, analysts' copy,
    extracts) through the real Dagster job. Read it; copy it before changing anything."""
    import shutil

    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import DataHomeResource

    root = tmp_path_factory.mktemp("demo_home")
    inbox = root / "inbox"
    shutil.copytree(demo, inbox)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
        events = [str(e) for e in instance.all_logs(result.run_id)]
        partitions = {
            name: instance.get_materialized_partitions(dg.AssetKey(["outbox", "periods", name]))
            for name in ("monthly", "quarterly", "yearly")
        }
    assert result.success
    return {"root": root, "result": result, "events": events, "period_partitions": partitions}


@pytest.fixture
def held_open():
    """``with held_open(path):`` keeps a DuckDB file open read-only in another process, as an
    analyst's session does (which keeps a writer out too), until the block ends."""

    @contextlib.contextmanager
    def hold(path: Path):
        holder = subprocess.Popen(
            [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}, read_only=True); "
                                   "print('open', flush=True); time.sleep(300)"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout.readline().strip() == "open"
            yield holder.pid
        finally:
            holder.kill()
            holder.wait()

    return hold
