"""The analysts' copy: marts and KPI tables only, read-only, opened by the duckdb CLI an analyst
installs (1.5), and — while a pipeline run rebuilds the warehouse — always a complete state."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
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


def test_copy_holds_marts_kpis_the_delivery_calendar_and_linkage_quality_only_and_is_read_only(home):
    """Marts and KPIs, and of the pipeline's tables the delivery calendar without the senders' file
    names (an analyst could not tell as of when the copy was, nor that a workshop never sent), the
    linkage's quality per run, described (an analyst could not tell how far the cross-agency
    figures rest on links), and the log of the copies, the copy's own line in it (no table named
    the run a copy came from)."""
    root, _ = home
    copy = root / "analysts" / "teilhabe.duckdb"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o440
    cli = Path(sys.executable).with_name("duckdb")
    out = subprocess.run(
        [str(cli), "-readonly", "-json", str(copy), "-c",
         "select distinct schema_name, case when schema_name = 'ops' then table_name end as ops_table"
         " from duckdb_tables() order by all"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert [(r["schema_name"], r["ops_table"]) for r in json.loads(out)] == [
        ("kpi", None), ("marts", None), ("ops", "copy_log"), ("ops", "expected_deliveries"),
        ("ops", "linkage_metrics")
    ], "no landing, quarantine or other pipeline tables"  # fmt: skip
    with duckdb.connect(str(copy), read_only=True) as con:
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'ops'"
            ).fetchall()
        }
        overdue = con.execute(
            "select count(*) from ops.expected_deliveries where status = 'overdue'"
        ).fetchone()[0]
        runs, shares, undescribed = con.execute(
            """select count(*), bool_and(share_linked_wfbm_personen between 0 and 1 and persons > 0),
                      (select count(*) from duckdb_columns() where table_name = 'linkage_metrics'
                       and coalesce(comment, '') = '')
               from ops.linkage_metrics"""
        ).fetchone()
    assert (runs, shares, undescribed) == (1, True, 0), "one linkage run, its shares, every column described"
    assert {"sender", "part", "period", "due_on", "received_at", "status", "as_of"} <= columns
    assert "file_name" not in columns
    assert overdue, "the demo's silent workshop is overdue"
    # which run wrote the copy, as of which delivery: its own line, the only one so far
    with duckdb.connect(str(copy), read_only=True) as con:
        [(run_id, newest, files, as_of, software)] = con.execute(
            "select run_id, last_received_at, deliveries_in_force, calendar_as_of, software from ops.copy_log"
        ).fetchall()
        described = con.execute(
            "select count(*) filter (where coalesce(comment, '') = '') from duckdb_columns() "
            "where table_name = 'copy_log'"
        ).fetchone()[0]
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from ops.copy_log where run_id = ?", [run_id]).fetchone()[0] == 1
        [(loaded,)] = con.execute("select count(*) from ops.delivery_log where status = 'loaded'").fetchall()
    assert run_id and files == loaded > 0 and as_of is not None and described == 0
    # the home took the demo's files received before October 2024 (not the day it loaded them)
    assert dt.datetime(2024, 9, 1) <= newest < dt.datetime(2024, 10, 1), newest
    assert software.startswith("teilhabe ") and "dbt-core 1.11" in software


def test_readers_see_only_complete_states_while_the_pipeline_runs(home, demo, tmp_path):
    """... and the second run's copy, updated from the first, equals a copy written whole."""
    from orchestration.dbt import dbt_project
    from publish.analysts_copy import publish_analysts_copy

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
    whole = publish_analysts_copy(
        root / "warehouse.duckdb", tmp_path / "whole.duckdb", dbt_project.manifest_path
    )
    assert whole.written > 0
    assert _data(copy) == _data(tmp_path / "whole.duckdb")
    logged, later = (_contents(path)["ops.copy_log"][2] for path in (copy, tmp_path / "whole.duckdb"))
    assert later[:-1] == logged, "each copy holds the lines before it and its own"


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
    described = dict(tables)  # a table whose dates became months says what that costs; a KPI table not
    assert "dates are months" in described["marts.fct_integrations"]
    assert "dates are months" not in described["kpi.k10_uebergang_dann_arbeitslos"]


def test_every_column_of_every_model_is_described_in_its_yml(demo_home):
    """The analysts' copy checks its own tables; the intermediate and operations models are read by
    the next engineer in `make docs`, where four columns stood undescribed (an onboarding review)."""
    import json

    import duckdb

    from orchestration.dbt import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        built = {
            (schema, table): columns
            for schema, table, columns in con.execute(
                "select schema_name, table_name, list(column_name) from duckdb_columns() group by all"
            ).fetchall()
        }
    undescribed = [
        f"{model['schema']}.{model['alias']}.{column}"
        for model in models
        for column in built.get((model["schema"], model["alias"]), [])
        if not (model["columns"].get(column) or {}).get("description", "").strip()
    ]
    assert sum((m["schema"], m["alias"]) in built for m in models) > 60, "the models were found"
    assert undescribed == []


def _sorted_within_parts(con, schema: str, table: str) -> bool:
    """Whether the table's rows, as stored, are in the order of their content within each part the
    copy replaces apart (analysts_copy.PARTS; the whole table where it has none)."""
    from publish.analysts_copy import PARTS

    keys = PARTS.get((schema, table), ())
    names = [
        name for (name,) in con.execute(f"select column_name from (describe {schema}.{table})").fetchall()
    ]
    at = [names.index(key) for key in keys]
    parts: dict[tuple, list] = {}
    for row in con.execute(f"select * from {schema}.{table}").fetchall():  # as stored
        parts.setdefault(tuple(row[i] for i in at), []).append(row)
    nulls_last = lambda row: tuple((value is None, value) for value in row)  # noqa: E731 (ORDER BY ALL)
    return all(rows == sorted(rows, key=nulls_last) for rows in parts.values())


def test_rows_are_in_the_order_of_their_content_not_of_the_senders_files(home):
    """The warehouse holds a Jobcenter's customers in the order of its file: the copy kept that
    order, and one archived customer file paired each pseudonym with a name by position (an
    analysts' review, all 117,268 rows of the demo). Every table of the copy is in the order of its
    content, also after the second run replaced parts of it."""
    root, _ = home
    with duckdb.connect(str(root / "analysts" / "teilhabe.duckdb"), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() order by all").fetchall()
        assert ("marts", "fct_jobcenter_customer_months") in tables
        assert [t for t in tables if not _sorted_within_parts(con, *t)] == []


def _data(copy: Path) -> dict:
    """The copy's contents without ops.copy_log, whose newest line is each copy's own."""
    return {name: found for name, found in _contents(copy).items() if name != "ops.copy_log"}


def _contents(copy: Path) -> dict:
    """Every table of a copy: its columns with their types and comments, and its rows in order."""
    import duckdb

    con = duckdb.connect(str(copy), read_only=True)
    try:
        found = {}
        for schema, table, comment in con.execute(
            "select schema_name, table_name, comment from duckdb_tables() order by all"
        ).fetchall():
            columns = con.execute(
                "select column_name, data_type, comment from duckdb_columns() "
                "where schema_name = ? and table_name = ? order by column_index",
                [schema, table],
            ).fetchall()
            rows = con.execute(f"select * from {schema}.{table} order by all").fetchall()
            found[f"{schema}.{table}"] = (comment, columns, rows)
        return found
    finally:
        con.close()


def test_a_copy_updated_from_the_previous_one_equals_one_written_whole(tmp_path, monkeypatch):
    """The copy starts from the previous one and writes only what differs: parts of the customer
    months replaced, added, removed (also a part whose key is NULL), a table changed, a column
    added, a table gone, a schema the copy must not hold; the result equals a copy written whole.
    The changed parts are told by the deliveries dbt wrote them with; a change of the copy's own
    expressions, which no delivery tells, is found too."""
    import duckdb

    from publish import analysts_copy
    from publish.analysts_copy import publish_analysts_copy

    warehouse, copy = tmp_path / "warehouse.duckdb", tmp_path / "analysts" / "teilhabe.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts; create schema kpi; create schema ops")
    con.execute(
        "create table marts.fct_jobcenter_customer_months (jobcenter varchar, month varchar, "
        "kunde_key varchar, benefit_since date, delivered_through integer)"
    )
    con.execute(
        """insert into marts.fct_jobcenter_customer_months values
           ('05111', '2024-01', 'a', '2020-03-04', 1), ('05111', '2024-01', 'b', null, 1),
           ('05111', '2024-01', 'b', null, 1), ('05111', '2024-02', 'a', '2020-03-04', 2),
           ('05111', '2024-02', 'c', '2021-05-06', 2), ('05112', '2024-01', 'd', '2019-01-31', 1),
           (null, '2024-01', 'e', null, 1)"""
    )
    con.execute("create table marts.dim_workshops as select 'W1' as werkstatt_nr, 'Alte Werkstatt' as name")
    con.execute("create table kpi.k01_biap_quote as select 2024 as year, 5 as persons")
    con.execute("create table kpi.k99_retired as select 1 as x")
    con.execute(
        "create table ops.delivery_log as select 1 as delivery_id, 'loaded' as status, "
        "timestamp '2024-03-04 05:06:07' as received_at"
    )
    con.close()
    publish_analysts_copy(warehouse, copy)
    copy.chmod(0o600)  # a copy holding what it must not (an earlier version's leftovers)
    with duckdb.connect(str(copy)) as old:
        old.execute("create schema linkage; create table linkage.encodings as select 'x' as bloom")
        old.execute("create table marts.stale as select 1 as x")

    con = duckdb.connect(str(warehouse))
    con.execute(
        """delete from marts.fct_jobcenter_customer_months
           where (jobcenter = '05111' and month = '2024-02') or jobcenter = '05112' or jobcenter is null"""
    )
    con.execute(
        """insert into marts.fct_jobcenter_customer_months values
           ('05111', '2024-02', 'a', '2020-03-04', 3), ('05111', '2024-02', 'f', '2022-07-08', 3),
           ('05113', '2024-03', 'g', '2023-09-10', 3), (null, '2024-01', 'h', null, 3)"""
    )
    con.execute("update marts.dim_workshops set name = 'Neue Werkstatt'")
    con.execute("alter table kpi.k01_biap_quote add column rate double")
    con.execute("drop table kpi.k99_retired")
    con.execute("create table kpi.k02_uebergangsquote as select 2024 as year, 7 as transitions")
    con.close()

    updated = publish_analysts_copy(warehouse, copy)
    whole = publish_analysts_copy(warehouse, tmp_path / "whole" / "teilhabe.duckdb")
    assert _data(copy) == _data(tmp_path / "whole" / "teilhabe.duckdb")
    assert set(_contents(copy)) == {
        "marts.fct_jobcenter_customer_months", "marts.dim_workshops", "kpi.k01_biap_quote",
        "kpi.k02_uebergangsquote", "ops.copy_log",
    }  # fmt: skip
    assert updated.rows == whole.rows
    logged = [
        len(_contents(path)["ops.copy_log"][2]) for path in (copy, tmp_path / "whole" / "teilhabe.duckdb")
    ]
    assert logged == [2, 3], "one line per copy published, each copy's own in it"
    # the two replaced parts of the customer months (4 rows), not the unchanged one (3 rows); the
    # changed workshop, the table with a new column and the new table (1 row each)
    assert updated.written == 4 + 3, updated
    assert whole.written == sum(whole.rows.values())
    with duckdb.connect(str(copy), read_only=True) as con:
        assert _sorted_within_parts(con, "marts", "fct_jobcenter_customer_months"), "parts in content order"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o440
    assert publish_analysts_copy(warehouse, copy).written == 0, "nothing changed, nothing written"

    real = analysts_copy._columns

    def otherwise(con, schema, table):  # the same columns and types, other values
        return [
            (f"upper({e})" if name == "kunde_key" else e, name, w) for e, name, w in real(con, schema, table)
        ]

    # a copy of an earlier layout (no marker beside it, rows as the warehouse held them) is written
    # whole once, not continued
    (copy.parent / f".{copy.name}.layout").unlink()
    assert publish_analysts_copy(warehouse, copy).written == sum(whole.rows.values())
    assert publish_analysts_copy(warehouse, copy).written == 0

    monkeypatch.setattr(analysts_copy, "_columns", otherwise)
    again = publish_analysts_copy(warehouse, copy)
    assert again.written == again.rows["marts.fct_jobcenter_customer_months"], "every part of it again"
    publish_analysts_copy(warehouse, tmp_path / "again" / "teilhabe.duckdb")
    assert _data(copy) == _data(tmp_path / "again" / "teilhabe.duckdb")


def test_the_readmes_example_sql_runs_on_the_copy_and_counts_k10_as_k10_does(home):
    """Analysts start from the README's examples: each runs on their copy, and the one that follows
    transitions into unemployment by hand gives K10's figures (it once joined on person_key, which
    misses people spelled differently, and looked a month too far)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    block = readme.split("Example SQL for analysts:", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    statements = [
        s
        for s in block.split(";")
        if any(line.strip() and not line.strip().startswith("--") for line in s.splitlines())
    ]
    by_hand = [s for s in statements if "then_unemployed" in s]
    assert len(statements) >= 5 and len(by_hand) == 1
    root, _ = home
    with duckdb.connect(str(root / "analysts" / "teilhabe.duckdb"), read_only=True) as con:
        for statement in statements:
            con.execute(statement).fetchall()
        counted = {
            (lv, year): (n, unemployed) for lv, year, n, unemployed in con.execute(by_hand[0]).fetchall()
        }
        k10 = {
            (lv, year): (n, unemployed)
            for lv, year, n, unemployed in con.execute(
                "select landschaftsverband, year, denominator, numerator from kpi.k10_uebergang_dann_arbeitslos"
                " where denominator > 0"
            ).fetchall()
        }
    assert counted == k10
    assert any(unemployed for _, unemployed in k10.values()), "the demo has transitions into unemployment"


def test_the_analysts_group_reaches_its_copy_and_nothing_else_of_the_data_home(tmp_path):
    """With TEILHABE_ANALYSTS_GROUP the data home's own folder lets that group pass (710) to the
    copy (750, 440): at 700, no analyst could open the copy at all (an analysts' review). A member of
    the group who is not the operator reads the copy, and neither lists the home nor reads anything
    else in it (checked as another user where this runs as root, with setpriv)."""
    import grp
    import os
    import tempfile

    from publish.analysts_copy import publish_analysts_copy

    group = grp.getgrgid(os.getgid())
    # a folder other users can pass through, unlike pytest's own (700)
    outside = Path(tempfile.mkdtemp(prefix="analysts-", dir="/tmp"))
    try:
        outside.chmod(0o755)
        home = outside / "home"
        home.mkdir(mode=0o700)
        (home / "warehouse.duckdb").write_bytes(b"")
        (home / "warehouse.duckdb").chmod(0o600)
        warehouse = tmp_path / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema marts; create schema kpi; create table kpi.k01 as select 1 as x")
        copy = home / "analysts" / "teilhabe.duckdb"
        publish_analysts_copy(warehouse, copy, group_name=group.gr_name)
        assert stat.S_IMODE(home.stat().st_mode) == 0o710 and home.stat().st_gid == group.gr_gid
        assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o750 and copy.stat().st_gid == group.gr_gid
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            pytest.skip("acting as another member of the group needs root and setpriv")

        def as_analyst(*command: str) -> int:
            member = ["setpriv", "--reuid=65534", f"--regid={group.gr_gid}", "--clear-groups"]
            return subprocess.run([*member, *command], check=False, capture_output=True).returncode

        assert as_analyst("cat", str(copy)) == 0, "a member of the group reads the copy"
        assert as_analyst("ls", str(home)) != 0, "and cannot list the data home"
        assert as_analyst("cat", str(home / "warehouse.duckdb")) != 0, "nor read the warehouse"
        assert as_analyst("ls", str(home.parent)) == 0, "(the check itself can run as that user)"
    finally:
        shutil.rmtree(outside)


def test_money_in_the_copy_is_whole_euros_also_in_the_kpi_tables(home):
    """privacy.md §6: money per case in whole euros. K05's subsidy sum of a cell of one active case
    is that case's subsidy, and the copy showed it to the cent beside the case's whole euros (an
    analysts' review). Every money column of the copy is whole euros; each is the warehouse's
    rounded."""
    root, _ = home
    con = duckdb.connect(str(root / "analysts" / "teilhabe.duckdb"), read_only=True)
    try:
        money = con.execute(
            "select schema_name, table_name, column_name, data_type from duckdb_columns() "
            "where column_name like '%\\_eur' escape '\\' order by all"
        ).fetchall()
        con.execute(f"attach '{root / 'warehouse.duckdb'}' as warehouse (read_only)")
        kpi_money = [(s, t, c) for s, t, c, _ in money if s == "kpi"]
        assert ("kpi", "k05_budget_fuer_arbeit", "subsidy_sum_eur") in kpi_money
        assert all(data_type == "INTEGER" for *_, data_type in money), money
        for schema, table, column in kpi_money:
            differing = con.execute(
                f'select count(*) from (select "{column}" from warehouse.{schema}.{table} '
                f'except all select "{column}" from {schema}.{table})'
            ).fetchone()[0]
            rounded = con.execute(
                f'select count(*) from (select cast(round("{column}") as integer) from warehouse.{schema}.{table} '
                f'except all select "{column}" from {schema}.{table})'
            ).fetchone()[0]
            assert rounded == 0, (table, column)
            cents = con.execute(
                f'select count(*) from warehouse.{schema}.{table} where "{column}" != round("{column}")'
            ).fetchone()[0]
            assert differing == cents, (table, column)  # only the values with cents differ
        assert con.execute(
            "select count(*) from warehouse.kpi.k05_budget_fuer_arbeit where subsidy_sum_eur != round(subsidy_sum_eur)"
        ).fetchone()[0], "the demo's K05 has no cents: the test would check nothing"
    finally:
        con.close()
