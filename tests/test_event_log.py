"""The data home's Dagster instance: its dagster.yaml, and the event log written by
orchestration/event_log.py into Dagster's own files, which Dagster's stock storage reads as its own."""

from __future__ import annotations

import dagster as dg

from orchestration.event_log import QuickSqliteEventLogStorage
from teilhabe.settings import _DAGSTER_YAML_BEFORE, DataHome


@dg.asset
def counted() -> int:
    return 1


def test_the_instance_writes_dagsters_own_event_files_that_the_stock_storage_reads(tmp_path):
    home = DataHome(root=tmp_path / "home").ensure()
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        assert isinstance(instance.event_log_storage, QuickSqliteEventLogStorage)
        first = dg.materialize([counted], instance=instance).run_id
        second = dg.materialize([counted], instance=instance).run_id
        written = [e.dagster_event_type for e in instance.all_logs(second)]
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nevent_log_storage:\n  module: dagster._core.storage.event_log\n"
        f"  class: SqliteEventLogStorage\n  config:\n    base_dir: {home.dagster_home / 'history' / 'runs'}\n"
        f"run_storage:\n  module: dagster._core.storage.runs\n  class: SqliteRunStorage\n"
        f"  config:\n    base_dir: {home.dagster_home / 'history'}\n"
    )
    with dg.DagsterInstance.from_config(str(stock)) as reader:
        assert type(reader.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert [e.dagster_event_type for e in reader.all_logs(second)] == written
        assert len(written) > 5 and dg.DagsterEventType.ASSET_MATERIALIZATION in written
        latest = reader.get_latest_materialization_event(dg.AssetKey("counted"))  # the index file
        assert latest is not None and latest.run_id == second
        assert {r.run_id for r in reader.get_runs()} == {first, second}


def test_dagster_yaml_follows_the_data_home_and_leaves_an_edited_one_alone(tmp_path):
    home = DataHome(root=tmp_path / "home").ensure()
    written = home.dagster_home / "dagster.yaml"
    assert str(home.dagster_home.resolve() / "history" / "runs") in written.read_text()

    moved = tmp_path / "moved"
    (home.root).rename(moved)
    DataHome(root=moved).ensure()
    text = (moved / "dagster" / "dagster.yaml").read_text()
    assert str(moved.resolve() / "dagster" / "history" / "runs") in text, "a moved home writes its own events"
    assert str(home.root) not in text

    older = DataHome(root=tmp_path / "older")
    older.dagster_home.mkdir(parents=True)
    (older.dagster_home / "dagster.yaml").write_text(_DAGSTER_YAML_BEFORE)  # made before 2026-12-04
    older.ensure()
    assert "QuickSqliteEventLogStorage" in (older.dagster_home / "dagster.yaml").read_text()

    edited = DataHome(root=tmp_path / "edited")
    edited.dagster_home.mkdir(parents=True)
    own = "telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_url: postgresql://x\n"
    (edited.dagster_home / "dagster.yaml").write_text(own)
    edited.ensure()
    assert (edited.dagster_home / "dagster.yaml").read_text() == own
