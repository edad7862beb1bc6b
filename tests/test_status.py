"""`teilhabe status`: the newest runs as the data home's Dagster instance recorded them, what each
made of its files, why one failed, and what waits for the operator (an operator review: there was
no way to ask whether last night's run succeeded short of the UI or the journal)."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb


def test_status_tells_the_newest_runs_their_files_a_failure_and_what_waits(
    demo_home, tmp_path, monkeypatch, capsys, held_open
):
    from orchestration.pipeline import run_pipeline
    from orchestration.status import status
    from teilhabe.cli import main
    from teilhabe.settings import DataHome

    root = tmp_path / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    home, inbox = DataHome(root), root / "inbox"
    monkeypatch.setenv("TEILHABE_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))  # `make test` names the repository's own
    assert main(["status"]) == 0, "no run recorded, nothing waiting"
    assert "no run recorded yet" in capsys.readouterr().out

    # a run that takes one file and rejects it: recorded, successful, its file counted
    (inbox / "jc_05112_202401_kunden.csv").write_bytes(b"kein;Kopf\r\n1;2\r\n")
    assert run_pipeline(home, inbox).success

    # a run that cannot write the warehouse (an analyst's session holds it): failed, with its cause
    with held_open(home.warehouse):
        (inbox / "jc_05112_202402_kunden.csv").write_bytes(b"kein;Kopf\r\n1;2\r\n")
        assert not run_pipeline(home, inbox).success
    with duckdb.connect(str(home.warehouse)) as con:  # a partner whose folder could not be written
        con.execute(
            "insert into ops.extract_log (partner, period, status, message, logged_at) values "
            "('lwl', '2024', 'failed', 'not delivered: [Errno 13] Permission denied', ?)",
            [dt.datetime.now() + dt.timedelta(hours=1)],
        )

    report = status(home)
    failed, rejecting = report.runs[:2]
    assert (failed.job, failed.started_by, failed.status) == ("pipeline", "command line", "FAILURE")
    assert failed.failure.startswith("failed in landing_tables: ") and "another process" in failed.failure
    assert failed.files == "", "its ingest took nothing"
    assert (rejecting.status, rejecting.files) == ("SUCCESS", "files: 1 rejected")
    assert report.waiting == [
        f"the newest pipeline run ({failed.run_id[:8]}) did not succeed: see above",
        "lwl 2024 failed: not delivered: [Errno 13] Permission denied",
        "1 new file in the inbox, not yet taken by a run (where the sensor runs, it starts one within a minute)",
    ]
    assert main(["status"]) == 1, "something waits: for a monitoring check"
    out = capsys.readouterr().out
    assert f"to act on: the newest pipeline run ({failed.run_id[:8]})" in out and "files: 1 rejected" in out

    # the failed run's file taken by the next run, the partner delivered again: nothing waits
    assert run_pipeline(home, inbox).success
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(
            "insert into ops.extract_log (partner, period, status, logged_at) values ('lwl', '2024', 'delivered', ?)",
            [dt.datetime.now() + dt.timedelta(hours=2)],
        )
    assert status(home).waiting == []


def test_a_queued_run_says_which_run_it_waits_for(tmp_path):
    """An operator review: a UI run stood queued behind a killed run's slot with nothing saying why.
    While a run is going, the warehouse is not even opened to read (a reader keeps a writer out)."""
    import uuid

    import dagster as dg

    from orchestration.pipeline import _job_origin
    from orchestration.status import status
    from teilhabe.settings import DataHome

    home = DataHome(tmp_path / "home").ensure()
    ids = {}
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        for state in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.QUEUED):
            ids[state] = str(uuid.uuid4())
            instance.add_run(
                dg.DagsterRun(
                    job_name="pipeline",
                    run_id=ids[state],
                    status=state,
                    remote_job_origin=_job_origin("pipeline"),
                )
            )
    report = status(home)
    queued = next(r for r in report.runs if r.status == "QUEUED")
    assert queued.waits_for.startswith(f"queued behind {ids[dg.DagsterRunStatus.STARTED][:8]} (STARTED): ")
    assert report.warehouse == [
        f"a run ({ids[dg.DagsterRunStatus.STARTED][:8]}) is going: the warehouse's facts when it has ended"
    ]
