"""No delivery, however broken or hostile, stops the pipeline or changes a figure.

The demo inbox plus a generated corpus of hostile entries (tests/hostile.py) runs through
`teilhabe run` as a user runs it: the run exits 0 under 2 GiB, each hostile entry is logged with its
reason, and every clean file loads exactly as in the clean demo run (landing counts, every KPI
table, every partner's figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hostile import hostile_entries

from ingest.inbox import display_name
from teilhabe.bench.measure import run_measured

TEILHABE = str(Path(sys.executable).with_name("teilhabe"))
MEMORY_CEILING = 2 << 30


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TEILHABE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), **extra}


@pytest.fixture(scope="module")
def hostile_run(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    inbox = root / "inbox"
    shutil.copytree(demo, inbox)
    entries = hostile_entries(inbox, demo)
    corpus = root / "corpus"  # a copy for `teilhabe check`: the run moves processed files out
    corpus.mkdir()
    for entry in entries:
        source = os.path.join(os.fsencode(inbox), entry.name)
        if entry.expect in ("rejected", "duplicate"):
            shutil.copy2(source, os.path.join(os.fsencode(corpus), entry.name))
    home = root / "home"
    measured = run_measured([TEILHABE, "run", "--inbox", str(inbox)], _env(home), root / "run.log")
    return {"root": root, "home": home, "inbox": inbox, "corpus": corpus, "entries": entries, "measured": measured,
            "log": (root / "run.log").read_text("utf-8", "replace")}  # fmt: skip


def test_the_run_exits_0_under_2_gib(hostile_run):
    measured = hostile_run["measured"]
    assert measured.returncode == 0, hostile_run["log"][-3000:]
    assert measured.peak_rss < MEMORY_CEILING, f"peak {measured.peak_rss / 2**30:.2f} GiB"
    assert "Traceback" not in hostile_run["log"]


def test_every_hostile_entry_is_logged_with_its_reason(hostile_run):
    with duckdb.connect(str(hostile_run["home"] / "warehouse.duckdb"), read_only=True) as con:
        log = {
            r[0]: r[1:]
            for r in con.execute(
                "select file_name, status, message, delivery_id from ops.delivery_log"
            ).fetchall()
        }
        rules = {}
        for name, rule, level in con.execute("select file_name, rule, level from ops.quarantine").fetchall():
            rules.setdefault(name, set()).add((rule, level))
        ignored = dict(con.execute("select entry_name, kind from ops.ignored_entries").fetchall())
    for entry in hostile_run["entries"]:
        name = display_name(entry.name)
        if entry.expect == "ignored":
            assert ignored.get(name) == entry.rule, (name, ignored)
            assert name not in log
        elif entry.expect == "upload":
            assert name not in log and name not in ignored
        else:
            status, message, _ = log[name]
            assert status == entry.expect, (name, status, message)
            if entry.expect == "rejected":
                assert message and len(message) <= 500, (name, message)
                if entry.rule:
                    assert (entry.rule, "file") in rules[name], (name, rules.get(name))
    assert "uploads in progress" in hostile_run["log"] and "inbox entries ignored" in hostile_run["log"]


def test_the_console_names_each_rejected_file_with_its_reason(hostile_run):
    """Not only "26 rejected": the operator reads which files and why, control characters escaped."""
    with duckdb.connect(str(hostile_run["home"] / "warehouse.duckdb"), read_only=True) as con:
        rejected = con.execute(
            "select file_name, message from ops.delivery_log where status = 'rejected' order by delivery_id"
        ).fetchall()
    assert len(rejected) > 3
    lines = [
        line
        for line in hostile_run["log"].splitlines()
        if line.startswith("warning: landing_tables: rejected ")
    ]
    assert len(lines) == min(len(rejected), 20), lines
    for (name, message), line in zip(rejected, lines, strict=False):
        assert line.startswith(f"warning: landing_tables: rejected {name}: "), (line, name)
        assert display_name(message.encode())[:40] in line, (line, message)
        assert not any(ord(char) < 32 for char in line), line
    if len(rejected) > 20:
        assert "more files rejected or with quarantined rows" in hostile_run["log"]


def test_many_columns_give_one_short_line(hostile_run):
    with duckdb.connect(str(hostile_run["home"] / "warehouse.duckdb"), read_only=True) as con:
        message = con.execute(
            "select message from ops.delivery_log where file_name = 'wfbm_LWL-0101_2022-02_personen.csv'"
        ).fetchone()[0]
    assert "Spalte0" in message and "9.995 weitere" in message and len(message) < 300, message


def _landing_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = con.execute("select table_name from duckdb_tables() where schema_name = 'landing'").fetchall()
    return {t: con.execute(f"select count(*) from landing.{t}").fetchone()[0] for (t,) in tables}


def test_clean_files_load_exactly_as_without_the_hostile_ones(hostile_run, demo_home):
    with duckdb.connect(str(hostile_run["home"] / "warehouse.duckdb"), read_only=True) as con:
        con.execute(f"attach '{demo_home['root'] / 'warehouse.duckdb'}' as clean (read_only)")
        hostile_counts = _landing_counts(con)
        con.execute("use clean")
        assert _landing_counts(con) == hostile_counts
        con.execute("use warehouse")
        kpis = con.execute(
            "select table_name from duckdb_tables() where database_name = 'warehouse' and schema_name = 'kpi'"
        ).fetchall()
        assert len(kpis) >= 14
        for (table,) in kpis:
            a, b = f"select * from warehouse.kpi.{table}", f"select * from clean.kpi.{table}"
            differing = con.execute(
                f"select count(*) from (({a} except all {b}) union all ({b} except all {a}))"
            )
            assert differing.fetchone()[0] == 0, f"kpi.{table} differs from the clean run"


def _figures(outbox: Path) -> dict[str, str]:
    return {
        str(manifest.parent.parent.relative_to(outbox)): json.loads(manifest.read_text())["figures_sha256"]
        for manifest in outbox.glob("*/*/latest/manifest.json")
    }


def test_every_partner_receives_the_figures_of_the_clean_run(hostile_run, demo_home):
    clean = _figures(demo_home["root"] / "outbox")
    assert clean and _figures(hostile_run["home"] / "outbox") == clean


def test_links_are_not_followed_into_the_archive(hostile_run):
    secret = (hostile_run["root"] / "outside-secret.key").read_bytes()
    archived = hostile_run["home"] / "archive" / (digest := hashlib.sha256(secret).hexdigest())[:2] / digest
    assert not archived.exists()
    assert not list((hostile_run["home"] / "archive").glob(".intake-*")), "no partial archive copies"


def test_check_says_what_each_file_is_within_the_limits(hostile_run, tmp_path):
    """`teilhabe check` (for the senders) reads the same corpus without a warehouse: one verdict per
    file, in German, no traceback, under the same memory ceiling."""
    files = [
        os.fsdecode(os.path.join(os.fsencode(hostile_run["corpus"]), e.name))
        for e in hostile_run["entries"]
        if e.expect in ("rejected", "duplicate")
    ]
    measured = run_measured([TEILHABE, "check", *files], os.environ.copy(), tmp_path / "check.log")
    output = (tmp_path / "check.log").read_text("utf-8", "replace")
    assert measured.returncode == 1, output[-2000:]
    assert measured.peak_rss < MEMORY_CEILING
    assert "Traceback" not in output
    verdicts = [line for line in output.splitlines() if not line.startswith(("  ", "("))]
    assert len(verdicts) == len(files), verdicts
    assert "Meldung Juli.xlsx: würde ABGELEHNT" in output
    assert "Dies ist eine Textdatei, keine Excel-Arbeitsmappe (.xlsx)" in output
    assert "Dies ist eine Binärdatei, keine CSV-Datei" in output
    assert "nur aus Null-Bytes" in output
    assert max(len(line) for line in output.splitlines()) < 1000


# --- refusals before anything starts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["run", "--inbox", "/nonexistent/inbox"], "no inbox folder at /nonexistent/inbox"),
        (["publish", "--period", "2099"], "period 2099 has not ended yet"),
        (["publish", "--period", "2018"], "lies before 2019"),
        (["publish", "--period", "2024-13"], "is not JJJJ, JJJJ-Qn or JJJJ-MM"),
        (["publish", "--period", "2024", "--partner", "nobody"], "unknown partner 'nobody'"),
        (["publish", "--period", "2024-06", "--partner", "lwl"], "receives yearly extracts"),
        (["check", "/nonexistent/file.csv"], "keine Datei: /nonexistent/file.csv"),
    ],
)
def test_bad_arguments_are_refused_with_one_line(arguments, expected, tmp_path):
    done = subprocess.run(
        [TEILHABE, *arguments], env=_env(tmp_path), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "dagster").exists(), "refused before Dagster started"


def test_a_run_without_its_data_home_is_refused_not_started_in_a_new_one(tmp_path, spec_dir):
    """TEILHABE_HOME unset (a timer without its environment file) and no warehouse in ./data: the
    run is refused, and the inbox's files stay where they are (an operator review: they went into
    a new, empty data home in the current folder)."""
    inbox = tmp_path / "inbox"
    shutil.copytree(spec_dir / "samples", inbox)
    env = {k: v for k, v in os.environ.items() if k not in ("TEILHABE_HOME", "DAGSTER_HOME")}
    done = subprocess.run(
        [TEILHABE, "run", "--inbox", str(inbox)], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert (done.stdout + done.stderr).strip().startswith("teilhabe: TEILHABE_HOME is not set")
    assert not (tmp_path / "data").exists()
    assert sorted(p.name for p in inbox.iterdir()) == sorted(p.name for p in (spec_dir / "samples").iterdir())


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_on_a_drop_folder_leaves_the_data_home_unnamed_where_the_caller_did(tmp_path):
    """`make run INBOX=...` named ./data itself, so the refusal above never came: a real drop folder
    went into a new warehouse in the repository (an onboarding review). Without TEILHABE_HOME the
    run gets none (and no data folder is made); the demo, and a named home, are as before."""
    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("TEILHABE_HOME", "DAGSTER_HOME")}

    def dry_run(*arguments: str, **extra: str) -> list[str]:
        done = subprocess.run(
            ["make", "-n", "-s", "-C", str(repo), "run", *arguments], env={**env, **extra},
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return [line for line in done.stdout.splitlines() if "teilhabe run" in line or "mkdir" in line]

    inbox = str(tmp_path / "drop")
    assert dry_run(f"INBOX={inbox}") == [f'env -u TEILHABE_HOME .venv/bin/teilhabe run --inbox "{inbox}"']
    named = str(tmp_path / "home")
    assert dry_run(f"INBOX={inbox}", TEILHABE_HOME=named) == [
        f'mkdir -p -m 700 "{named}"',
        f'.venv/bin/teilhabe run --inbox "{inbox}"',
    ]
    assert dry_run() == [f'mkdir -p -m 700 "{repo}/data"', ".venv/bin/teilhabe run --demo"]


def test_too_little_free_space_is_refused_before_the_run(tmp_path, demo):
    done = subprocess.run(
        [TEILHABE, "run", "--inbox", str(demo)],
        env=_env(tmp_path, TEILHABE_MIN_FREE_MB=str(1 << 30)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "free on the disk of" in lines[0], lines


# --- periods: a partner's period is complete in its own scope before it is delivered -------------


def _run(root: Path, inbox: Path) -> None:
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import DataHomeResource

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(root), inbox_dir=str(inbox))}
        )
    assert result.success


def _outbox_files(outbox: Path) -> dict[str, str]:
    """Every file a partner can read (through `latest`), with its checksum."""
    return {
        str(path.relative_to(outbox)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(outbox.glob("*/*/latest/*"))
    }


@pytest.fixture(scope="module")
def later_home(demo_home, tmp_path_factory):
    """A copy of the demo data home, for runs that add deliveries."""
    root = tmp_path_factory.mktemp("later") / "home"
    shutil.copytree(demo_home["root"], root, symlinks=True)
    return root


def test_implausible_and_lone_files_move_no_partner(later_home, demo):
    """A header-only file for 2099-12, one workshop's personen file for a new month and one
    Jobcenter's kunden file for it: nothing a partner receives changes, and the Jobcenter's run
    says that its next month waits for its other files."""
    inbox = later_home / "inbox"
    before = _outbox_files(later_home / "outbox")
    (inbox / "jc_05914_209912_bestand.csv").write_bytes(b"\xef\xbb\xbfmonat;geschlecht;elb;arbeitslose\n")
    december = (demo / "wfbm_LWL-0101_2024-12_personen.csv").read_bytes()
    (inbox / "wfbm_LWL-0101_2025-01_personen.csv").write_bytes(december)
    kunden = (demo / "jc_05914_202412_kunden.csv").read_bytes()
    (inbox / "jc_05914_202501_kunden.csv").write_bytes(kunden)
    _run(later_home, inbox)
    assert _outbox_files(later_home / "outbox") == before, "every file of every partner as it was"
    assert not list((later_home / "outbox").glob("*/2099*")) and not list(
        (later_home / "outbox").glob("*/2025*")
    )
    with duckdb.connect(str(later_home / "warehouse.duckdb"), read_only=True) as con:
        statuses = dict(con.execute("select file_name, status from ops.delivery_log").fetchall())
        assert statuses["jc_05914_209912_bestand.csv"] == "rejected"
        assert statuses["wfbm_LWL-0101_2025-01_personen.csv"] == "loaded"
        logged = con.execute(
            "select partner, status, message from ops.extract_log where logged_at = (select max(logged_at) from ops.extract_log)"
        ).fetchall()
        k14 = con.execute(
            "select ab_persons, biap_persons, is_provisional, missing_reason from kpi.k14_regionaluebersicht "
            "where year = 2025 and kreisschluessel = '05914'"
        ).fetchone()
    assert {status for _, status, _ in logged} == {"unchanged"}
    hagen = next(message for partner, _, message in logged if partner == "jobcenter_05914")
    assert "2025-01 waits for 05914 2025-01 (delivered: kunden)" in hagen, hagen
    # K14 for the new year: missing with its reason, not zero.
    assert k14[0] is None and k14[1] is None and k14[2] and "December" in k14[3], k14


def test_a_correction_keeping_name_size_and_time_is_a_new_delivery(later_home, demo):
    """An upload that keeps timestamps: same name, size and modification time, other bytes."""
    original = demo / "jc_05914_202412_kunden.csv"
    path = later_home / "inbox" / original.name
    stat = original.stat()
    lines = original.read_bytes().split(b"\n")
    header = lines[0].decode("utf-8-sig").split(";")
    gdb, equal = header.index("gdb"), header.index("gleichstellung")
    row = next(i for i, line in enumerate(lines[1:], 1) if line and line.split(b";")[gdb] == b"30"
               and line.split(b";")[equal] == b"J")  # fmt: skip
    fields = lines[row].split(b";")
    fields[gdb] = b"50"  # GL becomes SB: K06 changes, SB+GL stays
    lines[row] = b";".join(fields)
    path.write_bytes(b"\n".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    before = _outbox_files(later_home / "outbox")
    _run(later_home, later_home / "inbox")
    after = _outbox_files(later_home / "outbox")
    changed = {
        name.split("/")[0]
        for name in set(before) ^ set(after) | {n for n in before if before[n] != after.get(n)}
    }
    # Hagen's K06 changed, and with it the NRW and peer-group totals every Jobcenter compares its K06 with
    assert changed == {"jobcenter_05112", "jobcenter_05513", "jobcenter_05914"}, changed
    for partner in changed:
        manifest = json.loads(
            (later_home / "outbox" / partner / "2024-12" / "latest" / "manifest.json").read_text()
        )
        assert manifest["version"] == "v0002" and manifest["restates"] == ["k06"], (
            partner,
            manifest["restates"],
        )
    with duckdb.connect(str(later_home / "warehouse.duckdb"), read_only=True) as con:
        statuses = [s for (s,) in con.execute(
            "select status from ops.delivery_log where file_name = 'jc_05914_202412_kunden.csv' order by delivery_id"
        ).fetchall()]  # fmt: skip
    assert statuses == ["superseded", "loaded"]
