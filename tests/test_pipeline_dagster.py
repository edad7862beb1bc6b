"""The real pipeline through Dagster: the job ingests an inbox and builds dbt in one run, and the
contract checks show findings (file, row, column, rule) in the UI without any identifier's value."""

from __future__ import annotations

import csv
import json
import os
import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest

from orchestration.defs.resources import DataHomeResource


@pytest.fixture(scope="module")
def pipeline_run(faulty, tmp_path_factory):
    from orchestration.definitions import defs

    root = tmp_path_factory.mktemp("home")
    inbox = root / "inbox"
    shutil.copytree(faulty, inbox)
    job = defs.resolve_job_def("pipeline")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
    return result, root


def test_the_pipeline_job_ingests_and_builds(pipeline_run):
    result, root = pipeline_run
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"landing/wfbm_personen", "landing/jc_kunden", "marts/dim_regions"} <= materialized
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from landing.wfbm_personen").fetchone()[0] > 10_000
    assert con.execute("select count(*) from marts.dim_regions").fetchone()[0] == 53
    assert con.execute("select count(*) from ops.quarantine").fetchone()[0] > 10


def test_the_run_log_names_each_file_rejected_or_with_quarantined_rows(pipeline_run):
    """The operator's console says which files and why (rules, never a value), up to a limit."""
    import re
    from types import SimpleNamespace

    from orchestration.defs.assets.ingest import MAX_FILES_WARNED, _warn_files_with_findings

    result, root = pipeline_run
    lines: list[str] = []
    context = SimpleNamespace(
        run=SimpleNamespace(run_id=result.run_id), log=SimpleNamespace(warning=lines.append)
    )
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        _warn_files_with_findings(context, con)
        (rejected,) = con.execute(
            "select count(*) from ops.delivery_log where status = 'rejected'"
        ).fetchone()
        (with_rows,) = con.execute(
            "select count(distinct delivery_id) from ops.quarantine join ops.delivery_log using (delivery_id) "
            "where level = 'row' and status <> 'rejected'"
        ).fetchone()
        rules = {
            r
            for (r,) in con.execute("select distinct rule from ops.quarantine where level = 'row'").fetchall()
        }
    assert rejected and with_rows
    files = rejected + with_rows
    assert len(lines) == min(files, MAX_FILES_WARNED) + (files > MAX_FILES_WARNED), lines
    shown = lines[:MAX_FILES_WARNED]
    assert sum(line.startswith("rejected ") for line in shown) == min(rejected, MAX_FILES_WARNED)
    for line in shown:
        if not line.startswith("rejected "):
            found = re.fullmatch(r"(1 row|\d+ rows) of (.+) quarantined \((.+)\)", line)
            assert found and set(found[3].split(", ")) <= rules, f"rules only, never a value: {line}"


def test_contract_checks_report_findings_without_values(pipeline_run, faulty):
    result, _ = pipeline_run
    checks = {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "contract"
    }
    assert len(checks) == 10 and all(k.startswith("landing/") for k in checks)
    failed = [c for c in checks.values() if not c.passed]
    assert failed, "the faulty inbox fails some contracts"
    assert all(c.severity == dg.AssetCheckSeverity.WARN for c in failed), (
        "quarantine warns, never blocks the build"
    )
    identifiers = pl.read_csv(
        faulty.with_name(faulty.name + ".truth") / "identifiers.csv", infer_schema_length=0
    )
    secrets = set(identifiers["value"].drop_nulls()) | set(identifiers["value2"].drop_nulls())
    for check in checks.values():
        text = " ".join(str(v.value) for v in check.metadata.values())
        words = set(text.replace("|", " ").split())
        assert not words & secrets, f"{check.asset_key} metadata shows an identifier"
    shown = " ".join(str(c.metadata["findings"].value) for c in failed)
    assert "file_name" in shown and "rule" in shown


def test_a_misnamed_file_fails_only_the_contract_of_the_table_it_was_meant_for():
    """An operator review: a workshop's "Kopie von ..._uebergaenge (1).csv" failed all ten
    contract checks, the Landschaftsverbände's too. It counts for the table of the name it was
    most likely meant to have; a name nothing can be told from still counts for every table."""
    from orchestration.defs.assets.ingest import _with_fed_tables

    findings = pl.DataFrame(
        {
            "file_name": ["Kopie von wfbm_LWL-0101_2023-04_uebergaenge (1).csv", "scan.pdf", "jc_05112_202401_kunden.csv"],
            "format": [None, None, "jc_csv"],
            "part": [None, None, "kunden"],
        }
    )  # fmt: skip
    feeds = dict(_with_fed_tables(findings).select("file_name", "feeds").iter_rows())
    assert feeds["Kopie von wfbm_LWL-0101_2023-04_uebergaenge (1).csv"] == ["wfbm_uebergaenge"]
    assert len(feeds["scan.pdf"]) == 10
    assert feeds["jc_05112_202401_kunden.csv"] == ["jc_kunden"]


def test_every_dbt_check_in_the_ui_says_what_it_checks():
    """An operator review: the ~180 dbt checks showed a name and nothing else. Each says in a
    sentence what it asserts, and a staging test that it checks only what arrived since it passed."""
    from orchestration.defs.assets.warehouse import warehouse_dbt_assets

    said = {spec.name: spec.description for spec in warehouse_dbt_assets.check_specs}
    assert all(said.values()), [name for name, text in said.items() if not text]
    grain = said["unique_combination_fct_transitions_werkstatt_nr__person_local_key__transition_date"]
    assert grain == "One row per `werkstatt_nr`, `person_local_key`, `transition_date`."
    landing = [text for name, text in said.items() if name.startswith("not_null_stg_jc__customers")]
    assert landing and all("deliveries since it last passed" in text for text in landing)
    assert "since it last passed" not in said["unique_dim_regions_kreisschluessel"]


def test_inbox_sensor_requests_one_run_for_new_files_and_tries_a_failed_one_again(
    faulty, tmp_path, monkeypatch
):
    """One run for new files, none while nothing changed; but files a failed run left in the inbox
    (the warehouse was open in another process) are tried again after a while, a few times. Before,
    the cursor said "no new deliveries" until another file came."""
    from orchestration.defs import sensors
    from orchestration.defs.sensors import inbox_sensor

    inbox = tmp_path / "inbox"
    shutil.copytree(faulty, inbox)  # arrival mtimes are long past: the inbox is quiet
    home = DataHomeResource(root=str(tmp_path), inbox_dir=str(inbox))
    with dg.instance_for_test() as instance:

        def tick(cursor=None):
            context = dg.build_sensor_context(resources={"data_home": home}, cursor=cursor, instance=instance)
            return inbox_sensor(context)

        first = tick()
        assert isinstance(first, dg.RunRequest)
        assert isinstance(tick(first.run_key), dg.SkipReason), "nothing new: no second run"

        def failed(run_id: str) -> None:
            instance.add_run(dg.DagsterRun(job_name="pipeline", run_id=run_id, tags=first.tags,
                                           status=dg.DagsterRunStatus.FAILURE))  # fmt: skip

        failed("first-run")
        waiting = tick(first.run_key)
        assert isinstance(waiting, dg.SkipReason) and "trying again" in waiting.skip_message
        monkeypatch.setattr(sensors, "RETRY_AFTER_SECONDS", 0)
        again = tick(first.run_key)
        assert isinstance(again, dg.RunRequest) and again.tags["retry_of"] == "first-run"
        for attempt in range(sensors.RETRIES):
            failed(f"retry-{attempt}")
        given_up = tick(first.run_key)
        assert isinstance(given_up, dg.SkipReason) and "failed" in given_up.skip_message

    # A run that failed after its ingest took the files out of the inbox: its figures were never
    # built, and the sensor said "the inbox is empty" until a new file came (an operator's review).
    shutil.rmtree(inbox)
    inbox.mkdir()
    with dg.instance_for_test() as instance:
        assert tick(first.run_key).skip_message == "the inbox is empty", "no run yet: nothing to retry"
        failed("ingested-then-failed")
        again = tick(first.run_key)
        assert isinstance(again, dg.RunRequest) and again.tags["retry_of"] == "ingested-then-failed"
        instance.add_run(dg.DagsterRun(job_name="pipeline", run_id="retried", tags=again.tags,
                                       status=dg.DagsterRunStatus.SUCCESS))  # fmt: skip
        assert tick(first.run_key).skip_message == "the inbox is empty"


def test_a_file_in_the_check_folder_starts_a_run(tmp_path):
    """A sender's file to check (inbox/pruefen/, publish/check_reports.py) is answered by the next
    run, also when no delivery came with it."""
    from ingest.inbox import CHECK_FOLDER
    from orchestration.defs.sensors import inbox_sensor

    inbox = tmp_path / "inbox"
    (inbox / CHECK_FOLDER).mkdir(parents=True)
    home = DataHomeResource(root=str(tmp_path), inbox_dir=str(inbox))
    with dg.instance_for_test() as instance:

        def tick(cursor=None):
            context = dg.build_sensor_context(resources={"data_home": home}, cursor=cursor, instance=instance)
            return inbox_sensor(context)

        assert tick().skip_message == "the inbox is empty", "an empty check folder is nothing to do"
        checked = inbox / CHECK_FOLDER / "wfbm_LWL-0101_2024-05_personen.csv"
        checked.write_bytes(b"Personennummer\r\n")
        os.utime(checked, (1_700_000_000, 1_700_000_000))  # uploaded long ago: quiet
        request = tick()
        assert isinstance(request, dg.RunRequest) and request.tags["files"] == "1"


def test_a_command_line_run_is_listed_under_its_job_as_the_ui_lists_them(demo, tmp_path):
    """The UI lists a job's runs by job name and the tag of its code location (repository@location);
    a run started by `teilhabe run` carries both, and the location is the one pyproject.toml names
    for `dagster dev`. On the demo, the console gets a short account without control characters
    (dbt's and Dagster's own logs stay in the run's log)."""
    import os
    import shutil
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    from orchestration import CODE_LOCATION, REPOSITORY_TAG

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text("utf-8"))
    assert project["tool"]["dagster"]["code_location_name"] == CODE_LOCATION
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    home = tmp_path / "home"
    env = {**os.environ, "TEILHABE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("teilhabe")), "run", "--inbox", str(inbox)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    console = (done.stdout + done.stderr).splitlines()
    assert len(console) < 40, "\n".join(console)
    assert not any("\x1b" in line or "\r" in line for line in console), "no terminal codes into a pipe"
    assert any(line.startswith("dbt build") for line in console), "each stage is shown"
    assert not any(" START " in line or "PASS" in line for line in console), "dbt's lines stay in the log"
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        listed = instance.get_runs(dg.RunsFilter(job_name="pipeline", tags=REPOSITORY_TAG))
        assert len(listed) == 1 and listed[0].status == dg.DagsterRunStatus.SUCCESS
        # Re-executable from the UI: the run names the job's origin, and the code location that
        # `dagster dev` loads (pyproject.toml) resolves it, as the UI's re-execution does.
        origin = listed[0].remote_job_origin
        assert origin is not None and origin.location_name == CODE_LOCATION
        assert listed[0].run_config["resources"]["data_home"]["config"]["inbox_dir"] == str(inbox)
        target = ModuleTarget(
            module_name=project["tool"]["dagster"]["module_name"], attribute=None,
            working_directory=str(Path(__file__).parents[1]), location_name=CODE_LOCATION,
        )  # fmt: skip
        with WorkspaceProcessContext(instance, target) as workspace:
            location = workspace.create_request_context().get_code_location(origin.location_name)
            assert location.get_repository(origin.repository_origin.repository_name).has_job("pipeline")
    finally:
        instance.dispose()


def test_every_sender_hears_what_became_of_its_files(pipeline_run, faulty):
    """A Rückmeldung (issue 17) for every known sender and period this run took a file of, listing
    each injected fault of `simulate --defects` with its row and column, and no identifier."""
    import csv
    import re

    _, root = pipeline_run
    truth = faulty.with_name(faulty.name + ".truth")
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        known = {r[0] for r in con.execute("select werkstatt_nr from marts.dim_workshops").fetchall()}
        log = con.execute("select file_name, sender, period, status from ops.delivery_log").fetchall()
    held = {sender for _, sender, _, status in log if status == "held"}
    assert held == {"LWL-9105"}, "the simulator's unregistered workshop is held for its register"
    folder = {s: f"werkstatt_{s}" for s in known | held} | {"LWL": "lwl", "LVR": "lvr"}
    folder |= {s: f"jobcenter_{s}" for _, s, _, _ in log if s and s.isdigit()}
    of_file = {name: (sender, period) for name, sender, period, _ in log if sender in folder and period}
    senders = set(of_file.values())
    pages = {}
    for sender, period in senders:
        latest = root / "outbox" / folder[sender] / "rueckmeldung" / period / "latest"
        assert json.loads((latest / "manifest.json").read_text())["sender"] == sender
        rows = list(
            csv.DictReader((latest / "rueckmeldung.csv").read_text("utf-8-sig").splitlines(), delimiter=";")
        )
        pages[sender, period] = ((latest / "rueckmeldung.html").read_text("utf-8"), rows)
        # the same rows for Excel, as a workbook; none where there is nothing to list
        assert (latest / "rueckmeldung.xlsx").exists() == bool(rows), (sender, period)
    assert len(senders) > 100, "every workshop, Jobcenter and Landschaftsverband that delivered"
    (held_page, _), *_ = [page for (sender, _), page in pages.items() if sender in held]
    assert "gehalten: die Werkstatt steht noch nicht im Werkstättenverzeichnis" in held_page

    defects = pl.read_csv(truth / "defects.csv", infer_schema_length=0)
    listed = 0
    for fault in defects.iter_rows(named=True):
        if fault["file"] not in of_file:
            continue  # its sender is not known (a name that matches no pattern)
        page, rows = pages[of_file[fault["file"]]]
        assert fault["file"] in page, fault
        if fault["level"] == "row":
            at = [r for r in rows if r["Datei"] == fault["file"] and r["Zeile"] == fault["row"]]
            assert at and (not fault["column"] or _as_sent(fault) in {r["Spalte"] for r in at}), fault
        elif fault["level"] == "file":
            assert re.search(re.escape(fault["file"]) + r"</th>.*?(abgelehnt|gehalten)", page, re.S), fault
        listed += 1
    assert listed >= 15

    identifiers = pl.read_csv(truth / "identifiers.csv", infer_schema_length=0)
    secrets = set(identifiers["value"].drop_nulls()) | set(identifiers["value2"].drop_nulls())
    secrets |= set(identifiers["value3"].drop_nulls())
    for (sender, period), (page, rows) in pages.items():
        words = set(re.split(r"[\s;,<>\"'()=:]+", page + " ".join(" ".join(r.values()) for r in rows)))
        assert not words & secrets, f"the Rückmeldung to {sender} for {period} shows an identifier"


def test_the_digest_lists_the_files_rejected_and_held(pipeline_run, faulty):
    """The operator's daily digest names each file a run refused whose sender has not sent a good
    one since, with the reason, and each file held for a register."""
    from publish.expected import digest

    _, root = pipeline_run
    file_faults = pl.read_csv(faulty.with_name(faulty.name + ".truth") / "defects.csv", infer_schema_length=0)
    file_faults = set(file_faults.filter(pl.col("level") == "file")["file"])
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        report = digest(con)
        log = con.execute("select file_name, status, message from ops.delivery_log").fetchall()
    refused = {name: message for name, status, message in log if status == "rejected"}
    held = {name for name, status, _ in log if status == "held"}
    assert file_faults & set(refused) and held, "the faulty inbox has files refused and held"
    text = report.text()
    assert f"rejected in the last 90 days, no good file since: {len(refused)} files:" in text
    assert all(f"  {name} (" in text and message in text for name, message in refused.items())
    assert f"held for a register: {len(held)} files:" in text and all(
        f"  {name} (LWL-9105" in text for name in held
    )
    assert {row["status"] for row in csv.DictReader(report.csv().splitlines())} >= {"rejected", "held"}


def _as_sent(fault: dict) -> str:
    """The column of a fault as its sender names it: a workbook's by its sheet and header (the
    format's headers, sources.md), a CSV's by the CSV's column."""
    from ingest.formats import XLSX_HEADERS, XLSX_SHEETS

    if not fault["file"].endswith(".xlsx"):
        return fault["column"]
    sheet = fault["detail"].removeprefix("sheet ")
    part = next(part for part, name in XLSX_SHEETS.items() if name == sheet)
    header_of = {column: header for header, column in XLSX_HEADERS[part].items()}
    return f"{', '.join(header_of[c] for c in fault['column'].split(', '))} (Blatt {sheet})"


def test_the_console_shows_each_stage_once_as_it_ends():
    """The command line's progress lines come from the run's event log, read from where the last
    poll ended: each stage's line once, the steps Dagster runs besides them none."""
    import io
    import uuid

    from orchestration.progress import Progress

    @dg.asset(key="landing_tables")
    def ingest() -> None: ...

    @dg.asset(key=["analysts", "teilhabe_duckdb"], deps=[ingest])
    def copy(context) -> None:
        context.log.info("a step's own log line is not a stage's line")

    @dg.asset(deps=[copy])
    def unnamed() -> None: ...

    out, run_id = io.StringIO(), str(uuid.uuid4())
    with dg.instance_for_test() as instance:
        progress = Progress(instance, run_id, dbt_nodes=0, out=out)
        progress.start()
        job = dg.Definitions(assets=[ingest, copy, unnamed]).resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(instance=instance, run_id=run_id).success
        progress.stop()
        progress._poll()  # a poll with nothing new adds nothing
    lines = out.getvalue().splitlines()
    assert [line.split(" done in ")[0].strip() for line in lines] == ["ingest", "analysts' copy"], lines


def test_a_slot_held_by_a_run_that_ended_is_freed_before_the_next_run():
    """A run of the UI killed by the OOM killer is marked failed, but its slot of the warehouse
    pool stayed taken (only the daemon's run monitoring frees it) and every later run waited for it
    forever, `teilhabe run` too (an operator review). The command line frees it before it starts;
    a slot of a run still going is left alone."""
    from orchestration.pipeline import _release_dead_runs

    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("warehouse", 1)
        for run_id, status in (
            ("killed", dg.DagsterRunStatus.FAILURE),
            ("going", dg.DagsterRunStatus.STARTED),
        ):
            instance.add_run(dg.DagsterRun(job_name="pipeline", run_id=run_id, status=status))
        assert storage.claim_concurrency_slot("warehouse", "killed", "landing_tables").is_claimed
        assert not storage.claim_concurrency_slot("warehouse", "going", "landing_tables").is_claimed
        _release_dead_runs(instance)
        assert storage.get_concurrency_run_ids() == {"going"}, "the waiting run got the freed slot"


def test_a_ui_run_whose_worker_was_killed_hard_is_failed_and_frees_its_slot():
    """A run the UI launched keeps the status STARTED when its worker and the UI's code server are
    killed together, and nothing fails it (the daemon's run monitoring checks no worker's health
    under the default launcher): `teilhabe run` waited for its slot forever (an operator's review). Its worker's pid comes from the run's first engine event, as
    Dagster's run worker reports it. Left alone: a run whose worker lives, and one whose worker is
    not found here but that spoke in the last minutes (its worker may live in another container)."""
    import logging
    import subprocess
    import sys
    import time

    from dagster._core.events import DagsterEvent, EngineEventData
    from dagster._core.events.log import EventLogEntry

    from orchestration.pipeline import SILENT_SECONDS, _release_dead_runs

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that has ended: its pid is free
    long_ago = time.time() - SILENT_SECONDS - 60
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("warehouse", 1)
        # pid 1 is another user's to a user that is not root: alive all the same
        for run_id, pid, when in (
            ("killed", gone.pid, long_ago),
            ("alive", os.getpid(), long_ago),
            ("init", 1, long_ago),
            ("speaking", gone.pid, time.time()),
        ):
            instance.add_run(
                dg.DagsterRun(job_name="pipeline", run_id=run_id, status=dg.DagsterRunStatus.STARTED)
            )
            started = DagsterEvent(
                event_type_value=dg.DagsterEventType.ENGINE_EVENT.value,
                job_name="pipeline",
                message=f"Started process for run (pid: {pid}).",
                event_specific_data=EngineEventData.in_process(pid),
            )
            instance.store_event(
                EventLogEntry(
                    error_info=None, level=logging.DEBUG, user_message="", run_id=run_id, timestamp=when,
                    dagster_event=started,
                )
            )  # fmt: skip
        assert storage.claim_concurrency_slot("warehouse", "killed", "landing_tables").is_claimed
        _release_dead_runs(instance)
        assert instance.get_run_by_id("killed").status == dg.DagsterRunStatus.FAILURE
        for run_id in ("alive", "init", "speaking"):
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED, run_id
        assert storage.get_concurrency_run_ids() == set(), "the killed run's slot is free"


def test_a_warehouse_open_in_another_process_fails_the_step_with_a_clear_message(tmp_path, held_open):
    """An analyst's session on the warehouse file, even a read-only one, keeps a run from writing
    it: the step says so and names the process, instead of DuckDB's IOException."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    with held_open(warehouse):
        with (
            pytest.raises(dg.Failure, match=r"open in another process .*PID") as failure,
            DataHomeResource(root=str(tmp_path)).connect(),
        ):
            pass
        # not DuckDB's hint to open it read-only: a reader keeps the run out too (an operator review)
        assert "read-only mode" not in str(failure.value)
    # the dbt step says the same: it passed DuckDB's text on, cut off at its hint (an operator's review)
    from orchestration.defs.resources import warehouse_locked

    dbt_text = (
        'Runtime Error\n  IO Error: Could not set lock on file "/x/warehouse.duckdb": Conflicting lock is '
        "held in /usr/bin/python3.11 (PID 4711) by user root. However, you would be able to open this "
        "database in read-only mode, e.g. by using the -readonly paramete"
    )
    said = warehouse_locked(dbt_text)
    assert said and "(PID 4711)" in said and "read-only mode" not in said
    assert warehouse_locked("Catalog Error: Table with name x does not exist") is None


def test_the_console_line_of_a_failure_keeps_what_to_do_and_never_cuts_a_word():
    """The locked warehouse's line, with what to do at its end, stands whole on the console (an
    operator review: it ended "tries again a few minu"); a longer one is cut after a word."""
    from orchestration.defs.resources import warehouse_locked
    from orchestration.pipeline import MAX_PROBLEM_LINE, one_line

    locked = warehouse_locked(
        'IO Error: Could not set lock on file "/srv/teilhabe/data/warehouse.duckdb": Conflicting lock is '
        "held in /usr/bin/python3.11 (PID 4711) by user analyst."
    )
    assert locked and one_line(f"Failure: {locked}") == locked
    long = " ".join(["Zeile"] * 200)
    cut = one_line(long)
    assert len(cut) <= MAX_PROBLEM_LINE and cut.endswith(" Zeile …")


def test_teilhabe_dev_starts_the_ui_of_this_data_home_on_the_port_asked_for(tmp_path, monkeypatch):
    """`teilhabe dev` could not pick a port (an operator review): a second UI, or one beside
    another service on 3000, needed `dagster dev` by hand, without the data home's settings."""
    from teilhabe import cli

    started = {}
    monkeypatch.setenv("TEILHABE_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # `make test` exports the repository's
    monkeypatch.setattr(cli.os, "chdir", lambda path: None)
    monkeypatch.setattr(cli.os, "execve", lambda path, argv, env: started.update(argv=argv, env=env))
    args = cli.build_parser().parse_args(["dev", "--port", "3311"])
    args.func(args)
    assert started["argv"][1:] == ["dev", "--port", "3311"]
    assert started["env"]["DAGSTER_HOME"] == str(tmp_path / "dagster")


HOLD_THE_RUN_LOCK = """
import sys, time
from pathlib import Path
from orchestration.pipeline import _one_command_line_run
from teilhabe.settings import DataHome
with _one_command_line_run(DataHome(Path(sys.argv[1])).ensure()):
    print("entered", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_run_killed_hard_never_keeps_the_next_one_waiting(tmp_path):
    """Two command-line runs, one killed hard while the other waited for its slot of the warehouse
    pool: the other polled forever at a full core (an operator's review). One command-line run per
    data home holds a lock the kernel frees when its process dies: the second says for whom it
    waits, and starts once the first is killed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def run(seconds: float) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", HOLD_THE_RUN_LOCK, str(tmp_path / "home"), str(seconds)],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip

    first = run(120)
    assert first.stdout.readline().strip() == "entered"
    second = run(0)
    assert (
        second.stdout.readline().strip()
        == f"waiting: another teilhabe run (PID {first.pid}) works on this data home"
    )
    time.sleep(1)
    assert second.poll() is None, "the second waits while the first lives"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert second.stdout.readline().strip() == "entered"
    assert second.wait(timeout=30) == 0


def test_a_complete_run_records_what_its_ingest_left_not_what_is_there_at_its_end(tmp_path):
    """A correction another run loaded during this run's build was recorded as built, and every
    later run said "nothing new or changed" while the figures lacked it (an operator's review).
    The state is taken when the run's ingest is done (a run tag) and recorded at its end."""
    from dagster._core.storage.dagster_run import DagsterRun

    from ingest.ops_tables import prepare
    from ingest.run_state import current, record, unchanged_since_last_run
    from orchestration.defs.assets.ingest import built_from, remember_built_from

    decisions = tmp_path / "decisions.csv"
    with dg.instance_for_test() as instance, duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        prepare(con)
        instance.add_run(DagsterRun(job_name="pipeline", run_id="this-run"))
        remember_built_from(instance, "this-run", current(con, decisions))
        con.execute(  # another run's correction, loaded while this one built
            "insert into ops.delivery_log (delivery_id, file_name, sha256, bytes, file_mtime_ns, received_at, "
            "ingested_at, status) values (903, 'korrektur.csv', 'x', 1, 1, now(), now(), 'loaded')"
        )
        record(con, decisions, "this-run", built_from(instance, "this-run"))
        assert not unchanged_since_last_run(con, decisions), "the correction is still to be built"
        assert built_from(instance, "another-run") is None
