"""Incremental loading: a later batch (new months and a late correction of a month loaded long ago)
recomputes only what changed, and the result equals a full rebuild from the landing tables."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dbt_cli import dbt_build

from ingest.inbox import CHECK_FOLDER
from orchestration.defs.resources import DataHomeResource

SPLIT = dt.datetime(2024, 10, 1, tzinfo=dt.UTC).timestamp()  # files received later come in phase 2


def _run(root: Path, inbox: Path) -> None:
    from orchestration.definitions import defs

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
    assert result.success


@pytest.fixture(scope="module")
def two_phases(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    inbox, held = root / "inbox", root / "held"
    inbox.mkdir()
    held.mkdir()
    for path in demo.iterdir():
        shutil.copy2(path, (inbox if path.stat().st_mtime < SPLIT else held) / path.name)
    _run(root, inbox)
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    phase_one = con.execute("select max(delivery_id) from ops.delivery_log").fetchone()[0]
    PERSON_IDS_AFTER_PHASE_ONE[root] = con.execute("select * from linkage.person_ids").pl()
    con.close()
    for path in held.iterdir():
        shutil.copy2(path, inbox / path.name)
    for path in (demo.with_name(demo.name + ".truth") / "later").iterdir():
        shutil.copy2(path, inbox / path.name)  # a correction of March 2024 among them, under the same name
    for name in EMPTIED:  # corrections that leave a month loaded in phase one without rows
        header = (demo / name).read_bytes().splitlines(keepends=True)[0]
        (inbox / name).write_bytes(header)
    _run(root, inbox)
    return root, phase_one


PERSON_IDS_AFTER_PHASE_ONE: dict = {}


def _copy_of_home(demo_home: dict, tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """A copy of the demo's data home (without its Dagster instance): root, inbox, decisions, warehouse."""
    root = tmp_path / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    return root, root / "inbox", root / "linkage" / "decisions.csv", root / "warehouse.duckdb"


def test_a_new_delivery_never_renumbers_known_people(two_phases):
    """linkage.md §3: every source-local person known after phase one keeps its person_id, unless
    a logged merge or split changed it (none expected here)."""
    root, _ = two_phases
    before = PERSON_IDS_AFTER_PHASE_ONE[root]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    after = con.execute("select * from linkage.person_ids").pl()
    changes = con.execute("select count(*) from linkage.person_id_changes").fetchone()[0]
    con.close()
    assert before.height > 1000 and after.height > before.height
    joined = before.join(after, on=["source_table", "local_key"], how="left", suffix="_after")
    assert joined["person_id_after"].null_count() == 0, "a known person disappeared"
    renumbered = joined.filter(joined["person_id"] != joined["person_id_after"]).height
    assert renumbered == changes == 0


EMPTIED = ("jc_05112_202403_kunden.csv", "wfbm_LVR-0201_2024-02_personen.csv")


def test_a_correction_without_rows_empties_its_month(two_phases):
    root, _ = two_phases
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    statuses = con.execute(
        "select file_name, list(status order by delivery_id) from ops.delivery_log "
        f"where file_name in {EMPTIED} group by all"
    ).fetchall()
    assert sorted(statuses) == sorted((name, ["superseded", "loaded"]) for name in EMPTIED)
    for table, where in (
        ("marts.fct_jobcenter_customer_months", "jobcenter = '05112' and month = '2024-03'"),
        ("intermediate.int_work_area_persons", "werkstatt_nr = 'LVR-0201' and month = '2024-02'"),
        ("marts.fct_workshop_headcount", "werkstatt_nr = 'LVR-0201' and month = '2024-02'"),
    ):
        assert con.execute(f"select count(*) from {table} where {where}").fetchone()[0] == 0, table
        assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table


def test_only_changed_months_were_recomputed(two_phases):
    root, phase_one = two_phases
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    built = dict(
        con.execute(
            "select month, max(delivered_through) from intermediate.int_work_area_persons "
            "where werkstatt_nr = 'LWL-0101' group by month"
        ).fetchall()
    )
    assert built["2023-05"] == phase_one, "an untouched old month is not rebuilt"
    assert built["2024-03"] > phase_one, "the late correction of March 2024 is"
    assert built["2024-11"] > phase_one, "and so are the new months"


def test_incremental_equals_a_full_rebuild(two_phases):
    root, _ = two_phases
    full = root / "full_rebuild.duckdb"
    shutil.copy2(root / "warehouse.duckdb", full)
    dbt_build(full, "--full-refresh")
    con = duckdb.connect()
    con.execute(f"attach '{root / 'warehouse.duckdb'}' as incremental (read_only)")
    con.execute(f"attach '{full}' as rebuilt (read_only)")
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'rebuilt' "
        "and schema_name in ('intermediate', 'marts', 'kpi')"
    ).fetchall()
    assert len(tables) > 30
    for schema, table in tables:
        columns = [
            c
            for (c,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'rebuilt' and schema_name = ? "
                "and table_name = ? and column_name != 'delivered_through'",
                [schema, table],
            ).fetchall()
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        for left, right in (("incremental", "rebuilt"), ("rebuilt", "incremental")):
            differ = con.execute(
                f"select count(*) from (select {select} from {left}.{schema}.{table} "
                f"except all select {select} from {right}.{schema}.{table})"
            ).fetchone()[0]
            assert differ == 0, f"{schema}.{table}: {differ} rows only in the {left} build"


def test_a_table_built_before_its_model_was_incremental_is_rebuilt_whole_once(two_phases):
    """A data home from before int_workshop_stichtag_counts became incremental has the table
    without its bookkeeping column: the next build takes every partition again (none is left as
    the old code built it) and adds the column; the build after only the new."""
    root, _ = two_phases
    upgraded = root / "upgraded" / "warehouse.duckdb"  # its views name the catalog by the file's name
    upgraded.parent.mkdir()
    shutil.copy2(root / "warehouse.duckdb", upgraded)
    with duckdb.connect(str(upgraded)) as con:
        expected = con.execute(
            "select * exclude (delivered_through) from intermediate.int_workshop_stichtag_counts"
        ).pl()
        con.execute("alter table intermediate.int_workshop_stichtag_counts drop column delivered_through")
        con.execute(
            "update intermediate.int_workshop_stichtag_counts set ab_persons = -1"
        )  # as old code left it
        newest = con.execute("select max(delivery_id) from ops.delivery_log").fetchone()[0]
    dbt_build(upgraded, "--select", "int_workshop_stichtag_counts")
    with duckdb.connect(str(upgraded), read_only=True) as con:
        rebuilt = con.execute("select * from intermediate.int_workshop_stichtag_counts").pl()
    assert rebuilt["delivered_through"].unique().to_list() == [newest]
    assert (
        rebuilt.drop("delivered_through")
        .sort(["werkstatt_nr", "month"])
        .equals(expected.sort(["werkstatt_nr", "month"]))
    )


def _statuses(con: duckdb.DuckDBPyConnection, sender: str) -> dict[str, int]:
    """How many of a sender's files the delivery log holds in each status."""
    return dict(
        con.execute(
            "select status, count(*) from ops.delivery_log where sender = ? group by 1", [sender]
        ).fetchall()
    )


def test_a_new_workshops_files_before_its_register_are_held_then_loaded(demo, demo_home, tmp_path):
    """Issue 17: a workshop's files that arrive before the register that names it are held (archived,
    logged, nothing loaded), and the first run after that register loads them: every KPI then
    equals the run where the register came first (the demo's)."""
    import polars as pl

    root, inbox = tmp_path / "home", tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    register = inbox / "lv_LVR_werkstaetten.csv"
    lines = register.read_bytes().split(b"\r\n")
    new = "LVR-0204"
    register.write_bytes(b"\r\n".join(line for line in lines if not line.startswith(new.encode())))
    os.utime(
        register, ns=((demo / register.name).stat().st_atime_ns, (demo / register.name).stat().st_mtime_ns)
    )
    _run(root, inbox)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        statuses = _statuses(con, new)
        assert set(statuses) == {"held"} and statuses["held"] >= 24, statuses
        assert not con.execute(
            "select count(*) from landing.wfbm_personen where sender = ?", [new]
        ).fetchone()[0]
    # Its Rückmeldung says why nothing was loaded, not that all rows were, nor to check the period.
    answers = sorted(
        (root / "outbox" / f"werkstatt_{new}" / "rueckmeldung").glob("*/latest/rueckmeldung.html")
    )
    page = answers[-1].read_text("utf-8")
    assert "gehalten" in page and "Werkstatt-Nr." in page and "Werkstättenverzeichnis" in page
    assert "alle Zeilen wurden geladen" not in page and "Zeitraum im Dateinamen" not in page
    (inbox / register.name).write_bytes((demo / register.name).read_bytes())  # the register naming it
    _run(root, inbox)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        statuses = _statuses(con, new)
        assert statuses.get("held") is None and statuses["released"] == statuses["loaded"], statuses
        later = {
            table: con.execute(f"select * from kpi.{table} order by all").pl()
            for (table,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'kpi' order by 1"
            ).fetchall()
        }
    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        for table, frame in later.items():
            first = con.execute(f"select * from kpi.{table} order by all").pl()
            assert frame.equals(first), f"kpi.{table} differs from the run where the register came first"
    assert any(
        frame.filter(pl.col(c) == new).height
        for frame in later.values()
        for c in frame.columns
        if c == "werkstatt_nr"
    )


def test_a_run_with_nothing_new_or_changed_does_nothing(demo_home, demo, tmp_path):
    """Issue 17: after a complete run, a run that finds nothing new or changed builds and publishes
    nothing: the command line decides so before Dagster starts, the job skips everything after the
    ingest. A new file, a duplicate's absence of news, and an operator's decision tell apart."""
    from ingest.run_state import nothing_to_do
    from orchestration.definitions import defs
    from orchestration.pipeline import _result

    root = tmp_path / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    inbox, decisions = root / "inbox", root / "linkage" / "decisions.csv"
    warehouse = root / "warehouse.duckdb"
    assert not any(inbox.iterdir()) and nothing_to_do(warehouse, inbox, decisions)
    (inbox / CHECK_FOLDER).mkdir()
    assert nothing_to_do(warehouse, inbox, decisions), "an empty check folder is no work"
    (inbox / CHECK_FOLDER / "upload.csv").write_bytes(b"Personennummer;Nachname\r\n")
    assert not nothing_to_do(warehouse, inbox, decisions), "a file to check is answered by the run"
    shutil.rmtree(inbox / CHECK_FOLDER)

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
    assert result.success and not result.get_asset_materialization_events(), "nothing built or published"

    name = sorted(p.name for p in demo.iterdir() if p.name.startswith("jc_"))[0]
    shutil.copy2(demo / name, inbox / name)  # the same bytes uploaded again: a duplicate, no news
    os.utime(inbox / name)
    assert not nothing_to_do(warehouse, inbox, decisions), "a file the warehouse has not seen is work"
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success and not result.get_asset_materialization_events()
    # the console says what became of the file (an operator review: it said nothing at all)
    assert "1 duplicates" in _result(result, ()).summary().split("\n")[1]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select status from ops.delivery_log order by delivery_id desc limit 1"
        ).fetchone() == ("duplicate",)
        first, received = con.execute(
            "select delivery_id, received_at from ops.delivery_log where file_name = ? order by delivery_id limit 1",
            [name],
        ).fetchone()
    # ... and of which file, received when (the log named neither; the sender read a bare number)
    told = f"duplicate {name}: dieselben Bytes wie {name} vom {received:%d.%m.%Y} (Lieferung {first}; nichts geändert)"
    assert told in logged
    assert nothing_to_do(warehouse, inbox, decisions), "a duplicate changes nothing"
    decisions.parent.mkdir(exist_ok=True)
    decisions.write_text("")
    assert not nothing_to_do(warehouse, inbox, decisions), "an operator's linkage decision is work"

    # The operator asks for the model to be trained again (`teilhabe linkage retrain`): the next
    # run trains it, scores every pair anew, and the request ends with that complete run.
    from linkage.decisions import request_retraining

    _run(root, inbox)
    assert nothing_to_do(warehouse, inbox, decisions), "the decision was applied"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        models = con.execute("select count(*) from linkage.model").fetchone()[0]
    request = request_retraining(decisions, "trained before a fix of the training")
    assert not nothing_to_do(warehouse, inbox, decisions), "a requested retraining is work"
    _run(root, inbox)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from linkage.model").fetchone()[0] == models + 1
    assert not request.exists() and nothing_to_do(warehouse, inbox, decisions), "done once, not again"


def test_make_run_again_finds_nothing_new(demo_home, tmp_path, monkeypatch, capsys):
    """`make run` (`teilhabe run --demo`) a second time: the demo is not simulated again into the
    emptied inbox (its files would all be duplicates), the run ends at once."""
    from teilhabe.cli import main

    root = tmp_path / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    monkeypatch.setenv("TEILHABE_HOME", str(root))
    assert not any((root / "inbox").iterdir())
    assert main(["run", "--demo"]) == 0
    assert not any((root / "inbox").iterdir())
    assert "nothing new or changed since the last complete run" in capsys.readouterr().out


def test_the_run_state_follows_the_code_not_the_docs(tmp_path):
    """A commit that touches only the README, the tests or the simulator is no reason to build; an
    edit of the pipeline's code or of a dbt model is, committed or not."""
    from ingest.run_state import CODE_FOLDERS, fingerprint
    from teilhabe.settings import REPO_ROOT

    repo = tmp_path / "repo"
    for name in (*CODE_FOLDERS, "dbt_project", "tests"):
        shutil.copytree(
            REPO_ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "target", "logs")
        )
    for name in ("partners.yaml", "uv.lock", "README.md"):
        shutil.copy2(REPO_ROOT / name, repo / name)
    before = fingerprint(repo)

    def edited(path: Path) -> str:
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        try:
            return fingerprint(repo)
        finally:
            path.write_bytes(original)

    assert edited(repo / "README.md") == before
    assert edited(repo / "tests" / "conftest.py") == before
    assert edited(repo / "teilhabe" / "simulate" / "__init__.py") == before
    assert edited(repo / "publish" / "feedback.py") != before
    assert edited(repo / "dbt_project" / "models" / "kpi" / "k01_biap_quote.sql") != before
    assert edited(repo / "uv.lock") != before
    assert fingerprint(repo) == before


def test_a_run_whose_files_change_no_figure_only_answers_their_senders(demo_home, demo, tmp_path):
    """Issue 17: a run whose new files are all rejected or held builds no KPI and publishes nothing
    (no analysts' copy, no extract), but each of those senders gets its Rückmeldung; the next run
    then has nothing to do. In Dagster the warehouse stays in sync: the landing tables, the delivery
    log and the person ids keep their data versions, so no mart or KPI shows newer upstream data."""
    from dagster._core.definitions.data_version import StaleStatus
    from dagster._utils.test.data_versions import get_stale_status_resolver  # what the UI shows

    from ingest.run_state import nothing_to_do
    from orchestration.definitions import defs

    root, inbox, decisions, warehouse = _copy_of_home(demo_home, tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from ops.run_state")  # the first run below builds all, in this instance
    jobcenter = sorted(p.name for p in demo.iterdir() if p.name.startswith("jc_"))[0].split("_")[1]
    rejected = f"jc_{jobcenter}_202501_kunden.csv"
    held = next(p for p in demo.iterdir() if p.name.startswith("wfbm_") and p.name.endswith("_personen.csv"))
    unknown_workshop = "LWL-0999"  # a well-formed Werkstatt-Nr. no register names
    copy = root / "analysts" / "teilhabe.duckdb"
    resources = {"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}

    def versions(result) -> dict[str, str]:
        return {
            e.asset_key.to_user_string(): e.event_specific_data.materialization.tags["dagster/data_version"]
            for e in result.get_asset_materialization_events()
        }

    with dg.instance_for_test() as instance:
        full = defs.resolve_job_def("pipeline").execute_in_process(instance=instance, resources=resources)
        assert full.success
        copy_before = copy.stat().st_mtime_ns
        (inbox / rejected).write_bytes(b"\xef\xbb\xbfspalte_a;spalte_b\r\n1;2\r\n")  # not the Kunden export
        (inbox / held.name.replace(held.name.split("_")[1], unknown_workshop)).write_bytes(held.read_bytes())
        result = defs.resolve_job_def("pipeline").execute_in_process(instance=instance, resources=resources)
        assert result.success
        resolver = get_stale_status_resolver(instance, list(defs.assets))
        out_of_sync = {
            key.to_user_string()
            for key in defs.resolve_asset_graph().get_all_asset_keys()
            if key.path[0] in ("marts", "kpi", "intermediate", "staging")
            and resolver.get_status(key) != StaleStatus.FRESH
        }
    assert not out_of_sync, f"shown with newer upstream data after a run that changed nothing: {out_of_sync}"
    built = set(versions(result))
    assert {"outbox/rueckmeldungen", "ops/expected_deliveries", "ops/delivery_log"} <= built, built
    assert not {
        k for k in built if k.startswith(("kpi/", "analysts/", "outbox/extracts", "ops/last_complete"))
    }
    assert {"marts/fct_workshop_headcount", "marts/dim_persons"} & built == {"marts/fct_workshop_headcount"}
    before = versions(full)
    for key in ("ops/delivery_log", "landing/jc_kunden", "landing/wfbm_personen", "linkage/person_ids"):
        assert versions(result)[key] == before[key], key
    assert copy.stat().st_mtime_ns == copy_before, "the analysts' copy stands"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select sender, status from ops.delivery_log where file_name in (?, ?)",
                [rejected, held.name.replace(held.name.split("_")[1], unknown_workshop)],
            ).fetchall()
        )
    assert statuses == {jobcenter: "rejected", unknown_workshop: "held"}, statuses
    answer = root / "outbox" / f"jobcenter_{jobcenter}" / "rueckmeldung" / "2025-01" / "latest"
    page = (answer / "rueckmeldung.html").read_text("utf-8")
    assert rejected in page and "abgelehnt" in page.lower()
    assert any((root / "outbox" / f"werkstatt_{unknown_workshop}" / "rueckmeldung").iterdir())
    assert nothing_to_do(warehouse, inbox, decisions), "the files are taken, the warehouse stands as it was"


@pytest.mark.parametrize("next_job", ["pipeline", "operations_digest"])
def test_senders_a_failed_run_did_not_tell_hear_from_the_next_run(
    demo_home, demo, tmp_path, monkeypatch, next_job
):
    """Issue 17: a Rückmeldung to every sender whose file a run took, also when that run failed after
    its ingest (here: writing the Rückmeldungen failed). Its files are taken and logged, so the inbox
    holds nothing new; the next run still has work to do, and tells that sender. So does the daily
    digest's run, when no new file starts a pipeline run before it."""
    from ingest.run_state import nothing_to_do, unanswered_runs
    from orchestration.definitions import defs

    root, inbox, decisions, warehouse = _copy_of_home(demo_home, tmp_path)
    jobcenter = sorted(p.name for p in demo.iterdir() if p.name.startswith("jc_"))[0].split("_")[1]
    rejected = f"jc_{jobcenter}_202501_kunden.csv"
    (inbox / rejected).write_bytes(b"\xef\xbb\xbfspalte_a;spalte_b\r\n1;2\r\n")  # not the Kunden export
    answers = root / "outbox" / f"jobcenter_{jobcenter}" / "rueckmeldung" / "2025-01"
    resources = {"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}

    def failing(*args, **kwargs):
        raise OSError("the outbox's disk went away")

    with dg.instance_for_test() as instance:
        with monkeypatch.context() as patched:
            patched.setattr("orchestration.defs.assets.operations.send_feedback", failing)
            failed = defs.resolve_job_def("pipeline").execute_in_process(
                instance=instance, resources=resources, raise_on_error=False
            )
        assert not failed.success
        assert not (inbox / rejected).exists() and not answers.exists()
        assert not nothing_to_do(warehouse, inbox, decisions), "its sender is still to be told"
        result = defs.resolve_job_def(next_job).execute_in_process(instance=instance, resources=resources)
    assert result.success
    page = (answers / "latest" / "rueckmeldung.html").read_text("utf-8")
    assert rejected in page and "abgelehnt" in page.lower()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        told = con.execute(
            "select count(*) from ops.answered_runs where run_id in (?, ?)", [failed.run_id, result.run_id]
        ).fetchone()[0]
        assert unanswered_runs(con) == [], "told once, not again"
    assert told == 2
    if next_job == "pipeline":  # the digest's run builds and publishes nothing: a pipeline run still will
        assert nothing_to_do(warehouse, inbox, decisions)


def test_an_incremental_model_whose_logic_changed_is_rebuilt_whole(demo_home, tmp_path):
    """After an update that changes an incremental model (or what it is built from), the months it
    built before hold the earlier logic's figures, and an incremental build never touches them (the
    BiAp fix of 2026-12-06 needed a full refresh by hand). The build finds the model's recorded
    logic changed and rebuilds it whole. Here the earlier logic's figure is a month's count set to
    999, and the recorded fingerprint one of another logic; a second model's too (with two, dbt
    was handed `--select +a` and a stray `+b` and refused, and no run could build)."""
    from orchestration.dbt import dbt_project
    from orchestration.refresh import logic_fingerprints

    root = tmp_path / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    model = "int_workshop_stichtag_counts"
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        recorded = dict(con.execute("select model, fingerprint from ops.model_logic").fetchall())
        assert recorded == {m: f for m, (_, f) in logic_fingerprints(dbt_project.manifest_path).items()}
        nr, month, ab = con.execute(
            f"select werkstatt_nr, month, ab_persons from intermediate.{model} order by month, werkstatt_nr limit 1"
        ).fetchone()
        con.execute(
            f"update intermediate.{model} set ab_persons = 999 where werkstatt_nr = ? and month = ?",
            [nr, month],
        )
        con.execute(
            "update ops.model_logic set fingerprint = 'an earlier logic' where model in (?, ?)",
            [model, "dim_person_disability_status"],
        )
        con.execute("delete from ops.run_state")  # an update of the code: the next run builds
    _run(root, root / "inbox")
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rebuilt = con.execute(
            f"select ab_persons from intermediate.{model} where werkstatt_nr = ? and month = ?", [nr, month]
        ).fetchone()[0]
        now = dict(con.execute("select model, fingerprint from ops.model_logic").fetchall())
    assert rebuilt == ab, "the month built by the earlier logic is computed again"
    assert now == recorded


def test_the_staging_tests_check_what_was_delivered_since_they_last_passed(demo_home, tmp_path):
    """The data tests of the staging views over the landing tables check only the workshops' and
    Jobcenters' periods a delivery touched since the last complete build's tests passed
    (macros/tested_deliveries.sql): a key repeated by a new delivery is found, also where it
    repeats a row delivered long ago; a row that changed without a delivery is found once the
    tests change (or by `dbt build --full-refresh`), which tests every row again."""
    import subprocess

    from orchestration.dbt import dbt_project
    from orchestration.refresh import deliveries_to_test, tests_fingerprint

    root = tmp_path / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    warehouse = root / "warehouse.duckdb"
    tests = tests_fingerprint(dbt_project.manifest_path)
    repeat = "insert into landing.wfbm_personen select * replace ({} as delivery_id) from landing.wfbm_personen where delivery_id = ? limit 1"  # fmt: skip
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("select tested_through, fingerprint from ops.tested_deliveries").fetchall() == [
            (con.execute("select max(delivery_id) from ops.delivery_log").fetchone()[0], tests)
        ], "the pipeline's complete build recorded what its tests saw"
        first, second = con.execute(
            "select distinct delivery_id from landing.wfbm_personen order by delivery_id limit 2"
        ).fetchall()
        # a row repeated in a period delivered long ago, with no delivery: not what arrives
        con.execute(repeat.format("delivery_id"), [first[0]])
    dbt_build(warehouse, "--select", "stg_wfbm__persons")  # passes: that period was tested then

    with duckdb.connect(str(warehouse)) as con:
        arrived = con.execute("select max(delivery_id) + 1 from ops.delivery_log").fetchone()[0]
        con.execute(
            "insert into ops.delivery_log select * replace (? as delivery_id) from ops.delivery_log where delivery_id = ?",
            [arrived, second[0]],
        )  # the same workshop and month again, with a row that repeats one of the earlier file
        con.execute(repeat.format(arrived), [second[0]])
    with pytest.raises(subprocess.CalledProcessError):
        dbt_build(warehouse, "--select", "stg_wfbm__persons")

    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from landing.wfbm_personen where delivery_id = ?", [arrived])
        con.execute("delete from ops.delivery_log where delivery_id = ?", [arrived])
    dbt_build(warehouse, "--select", "stg_wfbm__persons")
    with pytest.raises(subprocess.CalledProcessError):
        dbt_build(warehouse, "--select", "stg_wfbm__persons", "--full-refresh")
    with duckdb.connect(str(warehouse)) as con:
        deliveries_to_test(con, "the tests of an update")
        assert con.execute("select count(*) from ops.tested_deliveries").fetchone()[0] == 0
    with pytest.raises(subprocess.CalledProcessError):
        dbt_build(warehouse, "--select", "stg_wfbm__persons")


def test_a_corrected_birth_date_keeps_each_transition_one_row(demo, demo_home, tmp_path):
    """A workshop corrects one person's birth date in its newest Personenmeldung: the person has
    another cross-agency key from that month on. The build takes the newest snapshot's key, and the
    person's transition stays one row (an operator review: it became two, and every build failed
    on fct_transitions' key until the workshop sent the wrong date again)."""
    root, inbox, _, warehouse = _copy_of_home(demo_home, tmp_path)
    sender = "LWL-0101"
    moved = {
        line.split(";")[0]
        for path in demo.glob(f"wfbm_{sender}_*_uebergaenge.csv")
        for line in path.read_text("cp1252").splitlines()[1:]
    }
    snapshots = sorted(demo.glob(f"wfbm_{sender}_*_personen.csv"))
    seen = {
        path: {line.split(";")[0] for line in path.read_text("cp1252").splitlines()[1:]} for path in snapshots
    }
    # a person who moved on and stands in two snapshots: the later one is corrected
    person, newest = next(
        (p, path)
        for path in reversed(snapshots)
        for p in sorted(seen[path] & moved)
        if sum(p in persons for persons in seen.values()) > 1
    )
    respelled = f"""select count(*) from (select person_local_key from staging.stg_wfbm__persons
                     where werkstatt_nr = '{sender}' group by all having count(distinct person_key) > 1)"""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.execute("select count(*) from marts.fct_transitions").fetchone()[0]
        assert con.execute(respelled).fetchone()[0] == 0
    lines = newest.read_text("cp1252").splitlines(keepends=True)
    corrected = []
    for line in lines:
        fields = line.split(";")
        if fields[0] == person:  # Geburtsdatum TT.MM.JJJJ one year earlier
            day, month, year = fields[3].split(".")
            fields[3] = f"{day}.{month}.{int(year) - 1}"
        corrected.append(";".join(fields))
    (inbox / newest.name).write_bytes("".join(corrected).encode("cp1252"))
    _run(root, inbox)  # the build and its tests pass
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(respelled).fetchone()[0] == 1, "the person has two keys now"
        assert con.execute("select count(*) from marts.fct_transitions").fetchone()[0] == before
