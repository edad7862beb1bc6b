"""The benchmark: its plain-DuckDB baseline computes the same core KPIs as the warehouse (two
independent implementations of kpis.md), its measurements see a whole process tree, its inbox cuts
follow the received dates, and `teilhabe bench` writes its report. No timing is asserted."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import duckdb
import pytest

from teilhabe.bench.baseline import run_baseline
from teilhabe.bench.measure import run_measured, tree_usage
from teilhabe.bench.scenarios import link_files

SAME = {
    "k01": (
        "select werkstatt_nr, year, numerator, denominator, rank from k01",
        "select werkstatt_nr, year, numerator, denominator, rank from wh.kpi.k01_biap_quote "
        "where value is not null",
    ),
    "k02": (
        "select werkstatt_nr, year, numerator, denominator from k02",
        "select werkstatt_nr, year, numerator, denominator from wh.kpi.k02_uebergangsquote "
        "where value is not null",
    ),
    "k06": (
        "select jobcenter, month, sb, gl, rehabilitanden, any_target from k06",
        "select jobcenter, month, sb, gl, rehabilitanden, any_target from wh.kpi.k06_zielgruppenbestand",
    ),
    "k07": (
        "select jobcenter, month, numerator, round(value, 2) from k07",
        "select jobcenter, month, numerator, value from wh.kpi.k07_integrationsquote_sb where value is not null",
    ),
}


def test_the_baseline_computes_the_warehouses_core_kpis(demo, demo_home, tmp_path):
    root = demo_home["root"]  # its inbox is empty now: the run moved the files into the archive
    result = run_baseline(demo, tmp_path / "baseline.duckdb")
    assert result.files == len(list(demo.iterdir()))
    assert set(result.seconds) == {"read", "kpis"}
    with duckdb.connect(str(tmp_path / "baseline.duckdb"), read_only=True) as con:
        con.execute(f"attach '{root / 'warehouse.duckdb'}' as wh (read_only)")
        delivered = con.execute("select sum(rows_in) from wh.ops.delivery_log").fetchone()[0]
        assert result.rows == delivered, "the baseline reads every row the pipeline read"
        for kpi, (baseline, warehouse) in SAME.items():
            rows = con.execute(f"select count(*) from ({baseline})").fetchone()[0]
            assert rows >= 10, kpi
            assert con.execute(f"select count(*) from ({warehouse})").fetchone()[0] == rows, kpi
            differ = con.execute(f"select count(*) from (({baseline}) except ({warehouse}))").fetchone()[0]
            assert differ == 0, f"{kpi}: {differ} rows differ between the baseline and the warehouse"
        emscher = con.execute(
            "select round(value, 2), rank from k01 where werkstatt_nr = 'LWL-0101' and year = 2024"
        )
        assert emscher.fetchone() == (19.79, 1)


def test_peak_memory_counts_the_children(tmp_path):
    """A parent that starts a child holding 300 MB: the child's memory is in the peak."""
    child = "b = bytearray(300 * 2**20); import time; time.sleep(1.0)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    measured = run_measured([sys.executable, "-c", parent], dict(os.environ), tmp_path / "log")
    assert measured.returncode == 0
    assert measured.peak_rss >= 300 * 2**20
    assert measured.samples, "memory was sampled while it ran"


def test_cpu_time_counts_the_children_and_falls_in_its_window(tmp_path):
    """A parent idles 1 s, then its child spins 1.5 s: the child's CPU counts for the command, and
    the samples put it in the second half, not the first."""
    child = "import time; end = time.process_time() + 1.5\nwhile time.process_time() < end: pass"
    parent = (
        f"import subprocess, sys, time; time.sleep(1.0); subprocess.run([sys.executable, '-c', {child!r}])"
    )
    measured = run_measured([sys.executable, "-c", parent], dict(os.environ), tmp_path / "log")
    assert measured.returncode == 0
    assert 1.4 <= measured.cpu_seconds <= measured.seconds
    idle = measured.cpu_between(measured.started, measured.started + 0.8)
    busy = measured.cpu_between(measured.started + 1.0, measured.started + measured.seconds)
    assert idle < 0.5
    assert busy > 1.2


def test_a_reaped_process_gives_no_sample_rather_than_zero():
    """After the command is reaped /proc knows nothing of its tree: a (0 bytes, 0 s) sample there
    would be the nearest to the command's end and make its last stage's CPU time 0."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert tree_usage(process.pid) is None
    assert tree_usage(os.getpid()) is not None


def test_inbox_cuts_follow_the_received_dates(tmp_path):
    source = tmp_path / "all"
    source.mkdir()
    for day in (dt.date(2024, 12, 31), dt.date(2025, 1, 31), dt.date(2025, 2, 1), dt.date(2025, 3, 1)):
        path = source / f"file_{day}.csv"
        path.write_text("x\n")
        moment = dt.datetime.combine(day, dt.time(12), dt.UTC).timestamp()
        os.utime(path, (moment, moment))
    before = link_files(source, tmp_path / "inbox", None, dt.date(2025, 2, 1))
    assert before == 2
    added = link_files(source, tmp_path / "inbox", dt.date(2025, 2, 1), dt.date(2025, 3, 1))
    assert added == 1
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == [
        "file_2024-12-31.csv",
        "file_2025-01-31.csv",
        "file_2025-02-01.csv",
    ]


@pytest.mark.slow
def test_teilhabe_bench_writes_its_report(tmp_path, monkeypatch):
    """The demo scenario end to end: simulate, the real pipeline in its own process, the baseline."""
    from teilhabe.cli import main

    monkeypatch.setenv("TEILHABE_HOME", str(tmp_path / "home"))
    assert main(["bench", "--scenario", "demo", "--work", str(tmp_path / "work")]) == 0
    report = json.loads((tmp_path / "work" / "results" / "latest.json").read_text())
    assert report["machine"]["cores"] >= 1
    assert set(report["startup_seconds"]) == {
        "Dagster code location load (imports, definitions, dbt manifest)",
        "dbt parse, cold (no partial parse)",
        "Great Expectations import",
    }
    demo = report["scenarios"]["demo"]
    (run,) = demo["runs"]
    assert run["success"]
    assert [s["name"] for s in run["stages"]] == [
        "start-up",
        "ingest and validation",
        "linkage",
        "dbt build",
        "publication (analysts' copy, extracts)",
    ]
    assert all(s["seconds"] > 0 and s["peak_rss"] > 0 for s in run["stages"])
    assert 0 < sum(s["cpu_seconds"] for s in run["stages"]) <= run["cpu_seconds"] * 1.05
    assert sum(s["seconds"] for s in run["stages"]) <= run["seconds"]
    inbox = tmp_path / "work" / "homes" / "demo" / "inbox"
    assert run["files"] == demo["baseline"]["files"] == len(list(inbox.iterdir()))
    assert run["rows"] == demo["baseline"]["rows"]
    with duckdb.connect(
        str(tmp_path / "work" / "homes" / "demo" / "warehouse.duckdb"), read_only=True
    ) as con:
        delivered = con.execute("select count(*), sum(files) from ops.extract_log where status = 'delivered'")
        partners, files = delivered.fetchone()
    assert partners >= 3 and run["stages"][4]["files"] == files
    table = (tmp_path / "work" / "results" / "latest.md").read_text()
    assert "| demo | demo-load | **whole run** |" in table
    assert "make run on the demo profile" in table
