"""The analysts' copy: marts and KPI tables only, read-only, opened by the duckdb CLI an analyst
installs (1.5), and — while a pipeline run rebuilds the warehouse — always a complete state."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.resources import DataHomeResource

READER = """
import duckdb, json, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
seen, errors, end = [], [], time.time() + seconds
while time.time() < end:
    try:
        con = duckdb.connect(path, read_only=True)
        seen.append(con.execute(
            "select (select count(*) from duckdb_tables()), (select count(*) from marts.fct_workshop_memberships),"
            " (select count(*) from kpi.k01_biap_quote)"
        ).fetchone())
        con.close()
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.05)
print(json.dumps({"seen": sorted(set(map(tuple, seen))), "reads": len(seen), "errors": errors[:5]}))
"""


def _run(root: Path, inbox: Path) -> None:
    from orchestration.definitions import defs

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
    assert result.success


def _state(copy: Path) -> tuple:
    import duckdb

    con = duckdb.connect(str(copy), read_only=True)
    try:
        return con.execute(
            "select (select count(*) from duckdb_tables()), (select count(*) from marts.fct_workshop_memberships),"
            " (select count(*) from kpi.k01_biap_quote)"
        ).fetchone()
    finally:
        con.close()


@pytest.fixture(scope="module")
def home(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("analysts")
    inbox = root / "inbox"
    inbox.mkdir()
    for path in demo.iterdir():
        if path.stat().st_mtime < 1_727_740_800:  # received before October 2024
            shutil.copy2(path, inbox / path.name)
    _run(root, inbox)
    return root, inbox


def test_copy_holds_marts_and_kpis_only_and_is_read_only(home):
    root, _ = home
    copy = root / "analysts" / "teilhabe.duckdb"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o440
    cli = Path(sys.executable).with_name("duckdb")
    out = subprocess.run(
        [str(cli), "-readonly", "-json", str(copy), "-c", "select distinct schema_name from duckdb_tables() order by 1"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert [r["schema_name"] for r in json.loads(out)] == ["kpi", "marts"], (
        "no landing, ops or quarantine tables"
    )


def test_readers_see_only_complete_states_while_the_pipeline_runs(home, demo):
    root, inbox = home
    copy = root / "analysts" / "teilhabe.duckdb"
    before = _state(copy)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(copy), "45"], stdout=subprocess.PIPE, text=True
    )
    time.sleep(1)
    for path in demo.iterdir():  # the rest of the year arrives; the next run rebuilds and republishes
        if not (inbox / path.name).exists():
            shutil.copy2(path, inbox / path.name)
    _run(root, inbox)
    after = _state(copy)
    report = json.loads(reader.communicate(timeout=120)[0])
    assert report["errors"] == [], "no lock error, no half-built file"
    assert report["reads"] > 20
    assert after != before, "the run changed the copy"
    assert {tuple(s) for s in report["seen"]} <= {tuple(before), tuple(after)}, "only complete states"


def test_every_table_and_column_says_what_it_is(home):
    """dbt's descriptions reach the analysts as DuckDB comments; counts are BIGINT (never HUGEINT)
    and years INTEGER in every table."""
    import duckdb

    root, _ = home
    con = duckdb.connect(str(root / "analysts" / "teilhabe.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() where not internal"
        ).fetchall()
        columns = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name, comment, data_type, column_name "
            "from duckdb_columns() where not internal"
        ).fetchall()
    finally:
        con.close()
    assert len(tables) > 30 and len(columns) > 250
    assert [t for t, comment in tables if not (comment or "").strip()] == [], "tables without a comment"
    assert [c for c, comment, _, _ in columns if not (comment or "").strip()] == [], (
        "columns without a comment"
    )
    assert [c for c, _, data_type, _ in columns if data_type == "HUGEINT"] == []
    years = [
        (c, t)
        for c, _, t, name in columns
        if name == "year" or (name.endswith("_year") and "prev" not in name)
    ]
    assert all(t == "INTEGER" for _, t in years), years
    minimised = {c: comment for c, comment, _, _ in columns}["marts.fct_workshop_memberships.entry_month"]
    assert "Month (JJJJ-MM)" in minimised
