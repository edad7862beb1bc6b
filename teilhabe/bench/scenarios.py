"""The benchmark scenarios and how one is run: a simulated inbox (cached), the whole pipeline as a
user runs it (``teilhabe run``, one Dagster run, in its own process), split into stages by the run's
own step events, and the plain-DuckDB baseline on the same files.

All NRW scenarios are cuts of one simulated world (2020-2025) by the day a file was received: *n
years* is everything received before 1 February of year n+1 (the monthly data of n full years), and
*5 years + 1 month* then adds the files received in February 2025 (January's deliveries and the
late corrections that came with them) to the loaded 5-year warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from teilhabe.bench.measure import Measured, run_measured

STAGE_OF_STEP = {
    "landing_tables": "ingest and validation",
    "linkage__person_ids": "linkage",
    "warehouse_dbt_assets": "dbt build",
}
PUBLICATION = "publication (analysts' copy, extracts)"
STAGES = ("start-up", "ingest and validation", "linkage", "dbt build", PUBLICATION)
NRW_WORLD = ("nrw", (2020, 2025))
DEMO_WORLD = ("demo", (2023, 2024))


@dataclass(frozen=True)
class Scenario:
    name: str
    world: tuple[str, tuple[int, int]]
    received_before: dt.date | None = None  # the cut; None: every file of the world
    then_received_before: dt.date | None = None  # a second run on top: the increment
    description: str = ""
    restat: bool = False  # on the loaded home: a run with nothing new, then one with every file touched


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("demo", DEMO_WORLD, description="demo profile, 2023-2024, empty warehouse"),
        Scenario("nrw-1y", NRW_WORLD, dt.date(2021, 2, 1), description="NRW, 1 year, empty warehouse"),
        Scenario("nrw-2y", NRW_WORLD, dt.date(2022, 2, 1), description="NRW, 2 years, empty warehouse"),
        Scenario("nrw-5y", NRW_WORLD, dt.date(2025, 2, 1), description="NRW, 5 years, empty warehouse"),
        Scenario(
            "nrw-5y+1m",
            NRW_WORLD,
            dt.date(2025, 2, 1),
            dt.date(2025, 3, 1),
            description="NRW, one new month on top of 5 loaded years",
        ),
        Scenario(
            "nrw-5y-rehash",
            NRW_WORLD,
            dt.date(2025, 2, 1),
            description="NRW, 5 loaded years: a run with nothing new, then one after every inbox file's "
            "change time moved (a restored inbox: every file hashed, none new)",
            restat=True,
        ),
    )
}
DEFAULT_SCENARIOS = ("demo", "nrw-1y", "nrw-2y", "nrw-5y", "nrw-5y+1m", "nrw-5y-rehash")


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss: int
    cpu_seconds: float = 0.0  # user + system of the whole process tree in the stage's window
    files: int = 0
    rows: int = 0

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds else None


@dataclass
class RunFigures:
    """One pipeline run: the whole command and its stages."""

    label: str
    seconds: float
    peak_rss: int
    files: int
    rows: int
    cpu_seconds: float = 0.0
    stages: list[Stage] = field(default_factory=list)
    success: bool = True

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


@dataclass
class BaselineFigures:
    seconds: float  # wall of the whole script, start-up included
    read_seconds: float
    kpi_seconds: float
    peak_rss: int
    files: int
    rows: int
    cpu_seconds: float = 0.0


@dataclass
class ScenarioFigures:
    scenario: str
    description: str
    runs: list[RunFigures]
    baseline: BaselineFigures | None

    @property
    def measured(self) -> RunFigures:
        """The run the scenario is about (for an increment: the second)."""
        return self.runs[-1]

    def to_json(self) -> dict:
        return asdict(self)


def world_inbox(work: Path, world: tuple[str, tuple[int, int]], seed: int = 7) -> Path:
    """The simulated inbox of a world, simulated once and reused (marked complete only at the end)."""
    profile, (first, last) = world
    folder = work / "inboxes" / f"{profile}-{first}-{last}-seed{seed}"
    inbox = folder / "inbox"
    if not (folder / "complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"simulating {profile} {first}-{last} into {inbox} (once; reused by later benchmarks)")
        # In a process of its own: the simulation takes GBs, and a child forked from a process that
        # large reports the parent's peak as its own (Linux keeps ru_maxrss across fork and exec).
        command = [sys.executable, "-m", "teilhabe.cli", "simulate", "--out", str(inbox), "--profile", profile,
                   "--years", f"{first}-{last}", "--seed", str(seed), "--quiet"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"simulating the {profile} world failed:\n{done.stderr[-2000:]}")
        (folder / "complete").write_text(done.stdout)
    return inbox


def link_files(source: Path, target: Path, since: dt.date | None, before: dt.date | None) -> int:
    """Hard-link the files of ``source`` received in [since, before) into ``target`` (an inbox view;
    a copy where the two are on different disks). Not symbolic links: the pipeline never follows
    those, a delivery is a regular file."""
    target.mkdir(parents=True, exist_ok=True)
    low = _epoch(since) if since else float("-inf")
    high = _epoch(before) if before else float("inf")
    count = 0
    for path in source.iterdir():
        if path.is_file() and not path.name.startswith(".") and low <= path.stat().st_mtime < high:
            try:
                os.link(path, target / path.name)
            except OSError:
                shutil.copy2(path, target / path.name)
            count += 1
    return count


def _epoch(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()


def bench_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "TEILHABE_WAREHOUSE")}
    # The inboxes are views of the cached world: the pipeline keeps their files (and the increment
    # builds on the loaded home's inbox).
    env.update(
        TEILHABE_HOME=str(home), GX_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", TEILHABE_KEEP_INBOX_FILES="1"
    )
    # The worlds' files arrive today, years after their periods: a retention counted from today
    # (as the pipeline counts it) that keeps every period of the oldest world, so that a scenario
    # loads what it did when it was defined (six years refused NRW's 2020 from December 2026).
    oldest = min(first for _, (first, _) in (NRW_WORLD, DEMO_WORLD))
    env.setdefault("TEILHABE_ARCHIVE_RETENTION_YEARS", str(max(6, dt.date.today().year - oldest + 1)))
    env.setdefault("TEILHABE_PSEUDONYM_KEY", "benchmark-key-not-for-real-data-ever")
    return env


def run_pipeline_measured(home: Path, inbox: Path, label: str, logs: Path) -> RunFigures:
    command = [sys.executable, "-m", "teilhabe.cli", "run", "--inbox", str(inbox)]
    log = logs / f"{label}.log"
    measured = run_measured(command, bench_env(home), log)
    run_id = re.search(r"pipeline run ([0-9a-f-]{36})", log.read_text(errors="replace"))
    figures = RunFigures(
        label,
        measured.seconds,
        measured.peak_rss,
        0,
        0,
        measured.cpu_seconds,
        success=measured.returncode == 0,
    )
    if run_id:
        figures.stages = _stages(home, run_id.group(1), measured)
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        files, rows = con.execute(
            "select count(*), coalesce(sum(rows_in), 0) from ops.delivery_log where run_id = ?",
            [run_id.group(1) if run_id else ""],
        ).fetchone()
        kpi_rows = sum(
            con.execute(f"select count(*) from kpi.{t}").fetchone()[0]
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'kpi'"
            ).fetchall()
        )
        extract_files = 0
        if _has_table(con, "ops", "extract_log"):  # the outcomes this run logged (naive UTC)
            started = dt.datetime.fromtimestamp(measured.started, dt.UTC).replace(tzinfo=None)
            extract_files = con.execute(
                "select coalesce(sum(files), 0) from ops.extract_log where logged_at >= ?", [started]
            ).fetchone()[0]
    figures.files, figures.rows = int(files), int(rows)
    for stage in figures.stages:
        if stage.name in ("ingest and validation", "dbt build"):
            stage.files, stage.rows = figures.files, figures.rows
        elif stage.name == PUBLICATION:
            stage.files, stage.rows = int(extract_files), int(kpi_rows)
    return figures


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


def _stages(home: Path, run_id: str, measured: Measured) -> list[Stage]:
    """Stage windows from the run's step events in the data home's Dagster instance."""
    import dagster as dg

    windows: dict[str, list[float]] = {}
    run_started = None
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for event in instance.all_logs(run_id):
            kind = event.dagster_event.event_type_value if event.dagster_event else None
            if kind in ("RUN_START", "PIPELINE_START"):
                run_started = event.timestamp
            if kind in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE") and event.step_key:
                stage = STAGE_OF_STEP.get(event.step_key, PUBLICATION)
                windows.setdefault(stage, []).append(event.timestamp)
    begin = measured.started
    end = measured.started + measured.seconds
    first_step = min((min(times) for times in windows.values()), default=run_started or end)
    stages = [
        Stage(
            "start-up",
            first_step - begin,
            measured.peak_between(begin, first_step),
            measured.cpu_between(begin, first_step),
        )
    ]
    for name in STAGES[1:]:
        if name in windows:
            start, stop = min(windows[name]), max(windows[name])
            stages.append(
                Stage(
                    name, stop - start, measured.peak_between(start, stop), measured.cpu_between(start, stop)
                )
            )
    return stages


def run_baseline_measured(inbox: Path, work: Path, label: str, logs: Path) -> BaselineFigures:
    figures_file = work / f"{label}.baseline.json"
    command = [
        sys.executable,
        "-m",
        "teilhabe.bench.baseline",
        str(inbox),
        "--database",
        str(work / f"{label}.baseline.duckdb"),
        "--json",
        str(figures_file),
    ]
    measured = run_measured(command, dict(os.environ), logs / f"{label}.baseline.log")
    if measured.returncode != 0:
        raise RuntimeError(f"the baseline failed: see {logs / f'{label}.baseline.log'}")
    result = json.loads(figures_file.read_text())
    (work / f"{label}.baseline.duckdb").unlink(missing_ok=True)
    return BaselineFigures(
        measured.seconds,
        result["seconds"]["read"],
        result["seconds"]["kpis"],
        measured.peak_rss,
        result["files"],
        result["rows"],
        measured.cpu_seconds,
    )


def run_scenario(scenario: Scenario, work: Path, reuse: dict[str, Path]) -> ScenarioFigures:
    """One scenario in its own data home under ``work``; ``reuse`` maps finished scenarios to their
    home, so that the increment builds on the 5-year load this benchmark already made (in that
    home, which then holds the increment too)."""
    source = world_inbox(work, scenario.world)
    home = work / "homes" / scenario.name
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(home, ignore_errors=True)
    runs = []
    base_name = next(
        (
            name
            for name, s in SCENARIOS.items()
            if s.then_received_before is None
            and not s.restat
            and s.world == scenario.world
            and s.received_before == scenario.received_before
        ),
        None,
    )
    if (scenario.then_received_before or scenario.restat) and base_name in reuse:
        # The increment runs in the loaded home itself, as the next nightly run would. In a copy
        # under another path dbt would re-parse the whole project (its partial parse is keyed to
        # the profile, which names the warehouse file): a cost the nightly run does not pay.
        home = reuse[base_name]
    else:
        link_files(source, home / "inbox", None, scenario.received_before)
        runs.append(run_pipeline_measured(home, home / "inbox", f"{scenario.name}-load", logs))
    if scenario.then_received_before:
        link_files(source, home / "inbox", scenario.received_before, scenario.then_received_before)
        runs.append(run_pipeline_measured(home, home / "inbox", f"{scenario.name}-increment", logs))
    elif scenario.restat:
        runs.append(run_pipeline_measured(home, home / "inbox", f"{scenario.name}-unchanged", logs))
        for path in (home / "inbox").iterdir():  # same bytes, same mtime: only the change time moves
            info = path.stat()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        runs.append(run_pipeline_measured(home, home / "inbox", f"{scenario.name}-rehash", logs))
    else:
        reuse[scenario.name] = home
    # The baseline has no incremental mode: for an increment it would only re-read everything.
    baseline = (
        None
        if scenario.then_received_before or scenario.restat
        else run_baseline_measured(home / "inbox", work, scenario.name, logs)
    )
    return ScenarioFigures(scenario.name, scenario.description, runs, baseline)
