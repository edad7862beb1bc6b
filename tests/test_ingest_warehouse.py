"""Loading into the warehouse: archive, delivery log, duplicates and corrections, incremental runs,
pseudonyms, privacy, and a crash that leaves the previous state."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ingest import chunk as chunk_module
from ingest import load as wh
from ingest.batch import LOOKAHEAD
from ingest.ops_tables import prepare
from ingest.pseudonymise import PseudonymKey, load_key, local_key, normalise_name, person_key
from ingest.retention import prune_archive
from teilhabe.settings import Limits, default_key_file

KEY = PseudonymKey(b"test-only-pseudonym-key, never a real secret", "test")


@pytest.fixture(scope="module")
def loaded(demo, tmp_path_factory):
    """The demo inbox ingested once into a fresh warehouse (a copy of the inbox, so later files can be added)."""
    root = tmp_path_factory.mktemp("wh")
    inbox = root / "inbox"
    shutil.copytree(demo, inbox)  # copies mtimes too (the arrival times)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    report = wh.ingest(con, inbox, root / "archive", KEY, run_id="first")
    yield {
        "con": con,
        "root": root,
        "inbox": inbox,
        "report": report,
        "truth": demo.with_name(demo.name + ".truth"),
        "demo": demo,
    }
    con.close()


def counts(con) -> dict[str, int]:
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'landing'"
        ).fetchall()
    ]
    return {t: con.execute(f"select count(*) from landing.{t}").fetchone()[0] for t in tables}


def test_every_file_logged_archived_and_accounted(loaded):
    con, root, inbox, delivered = loaded["con"], loaded["root"], loaded["inbox"], loaded["demo"]
    log = con.execute("select * from ops.delivery_log").pl()
    assert log.height == len(list(delivered.iterdir()))
    assert not list(inbox.iterdir()), "processed files leave the inbox: the archive holds them"
    for row in log.iter_rows(named=True):
        archived = root / "archive" / row["sha256"][:2] / row["sha256"]
        assert archived.read_bytes() == (delivered / row["file_name"]).read_bytes()
        assert stat.S_IMODE(archived.stat().st_mode) == 0o400
        if row["status"] == "loaded":
            assert row["rows_in"] == row["rows_loaded"] + row["rows_quarantined"]
    assert stat.S_IMODE((root / "archive").stat().st_mode) == 0o700
    landed = sum(counts(con).values())
    assert landed == log.filter(pl.col("status") == "loaded")["rows_loaded"].sum()


def test_duplicate_and_corrected_workbooks(loaded):
    con = loaded["con"]
    deliveries = pl.read_csv(loaded["truth"] / "deliveries.csv", infer_schema_length=0)
    log = con.execute("select file_name, status, superseded_by, delivery_id from ops.delivery_log").pl()
    status = dict(log.select("file_name", "status").iter_rows())
    ids = dict(log.select("file_name", "delivery_id").iter_rows())
    inbox = deliveries.filter(pl.col("folder") == "inbox")
    corrections = {
        (r["sender"], r["period"]): r["file"]
        for r in inbox.filter(pl.col("kind") == "correction").iter_rows(named=True)
    }
    assert corrections, "the demo inbox holds a corrected workbook"
    for row in inbox.iter_rows(named=True):
        expected = "duplicate" if row["kind"] == "duplicate" else "loaded"
        correction = corrections.get((row["sender"], row["period"]))
        if row["kind"] == "corrected_original" and correction:
            expected = "superseded"  # its correction came later into the same inbox
            assert log.filter(pl.col("file_name") == row["file"])["superseded_by"][0] == ids[correction]
            left = con.execute(
                "select count(*) from landing.wfbm_personen where delivery_id = ?", [ids[row["file"]]]
            )
            assert left.fetchone()[0] == 0
        assert status[row["file"]] == expected, row


def test_a_second_run_takes_nothing_twice(loaded):
    """The same files again (an inbox restored from a backup, every timestamp kept): nothing new,
    and they leave the inbox again."""
    con = loaded["con"]
    before = counts(con)
    for path in loaded["demo"].iterdir():
        shutil.copy2(path, loaded["inbox"] / path.name)
    report = wh.ingest(con, loaded["inbox"], loaded["root"] / "archive", KEY, run_id="again")
    assert report.new_files == 0 and report.skipped_known > 800 and report.moved_out == report.skipped_known
    assert counts(con) == before
    assert not list(loaded["inbox"].iterdir())


def test_later_corrections_replace_and_duplicates_change_nothing(loaded):
    con, inbox = loaded["con"], loaded["inbox"]
    where = "sender = 'LWL-0101' and period = '2024-03'"
    wrong_hours = f"select count(*) from landing.wfbm_personen where {where} and arbeitszeit_std = 12.5"
    assert con.execute(wrong_hours).fetchone()[0] == 3, "the first delivery had three wrong hours"
    kunden_before = con.execute("select count(*) from landing.jc_kunden").fetchone()[0]
    for path in (loaded["truth"] / "later").iterdir():
        shutil.copy2(path, inbox / path.name)  # same names: the sender's upload overwrites
    report = wh.ingest(con, inbox, loaded["root"] / "archive", KEY, run_id="later")
    assert (report.new_files, report.duplicates, report.superseded) == (3, 1, 1)
    assert con.execute(wrong_hours).fetchone()[0] == 0
    assert (
        con.execute(
            f"select count(distinct delivery_id) from landing.wfbm_personen where {where}"
        ).fetchone()[0]
        == 1
    )
    assert con.execute("select count(*) from landing.jc_kunden").fetchone()[0] == kunden_before
    registers = con.execute(
        "select count(distinct delivery_id) from landing.lv_werkstaetten where sender = 'LWL'"
    ).fetchone()[0]
    assert registers == 2, "register versions are kept side by side"


def test_no_plaintext_identifier_anywhere_in_the_warehouse(loaded):
    con = loaded["con"]
    ids = pl.read_csv(loaded["truth"] / "identifiers.csv", infer_schema_length=0)
    persons = ids.filter(pl.col("kind") == "person")
    plaintext = (
        set(persons["value"]) | set(persons["value2"]) | set(ids.filter(pl.col("kind") != "person")["value"])
    )
    births = persons["value3"].to_list()
    plaintext |= set(births) | {f"{b[8:]}.{b[5:7]}.{b[:4]}" for b in births}
    con.register("plaintext", pl.DataFrame({"v": sorted(plaintext)}).to_arrow())
    columns = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where data_type = 'VARCHAR' and schema_name not in ('information_schema', 'pg_catalog') and table_name <> 'plaintext'"
    ).fetchall()
    assert len(columns) > 50
    for schema, table, column in columns:
        hits = con.execute(
            f'select count(*) from "{schema}"."{table}" where "{column}" in (select v from plaintext)'
        ).fetchone()[0]
        assert hits == 0, f"{schema}.{table}.{column} holds plaintext identifiers"
    names = {c for _, _, c in columns}
    assert not names & {
        "nachname",
        "vorname",
        "geburtsdatum",
        "personennummer",
        "kundennummer",
        "aktenzeichen",
    }


def test_one_person_key_across_agencies(loaded):
    con = loaded["con"]
    shared = con.execute(
        "select count(*) from (select distinct person_key from landing.wfbm_personen "
        "intersect select distinct person_key from landing.jc_kunden)"
    ).fetchone()[0]
    assert shared >= 20
    # Spelling variants of one person normalise to one key input.
    assert normalise_name(" MÜLLER ") == normalise_name("Mueller") and normalise_name(
        "Anna-Lena"
    ) == normalise_name("Anna Lena")


def test_pseudonyms_are_the_keyed_hashes_of_privacy_md():
    """Computed once per distinct name and person, the keys stay exactly the HMACs privacy.md
    defines, so that they match across runs, sources and code versions."""
    frame = pl.DataFrame(
        {
            "Nachname": [" MÜLLER ", "Mueller", "Nguyễn", None],
            "Vorname": ["Anna-Lena", "Anna Lena", "Thị", "X"],
            "birth": ["1990-02-01", "1990-02-01", "1985-12-31", "1970-01-01"],
            "sender": ["LWL-0101", "LWL-0101", "LVR-0201", "LVR-0201"],
            "Personennummer": ["7", "8", "7", "9"],
        }
    )
    keys = frame.select(
        person_key(frame, b"secret", "Nachname", "Vorname", "birth").alias("person"),
        local_key(frame, b"secret", pl.col("sender"), "Personennummer").alias("local"),
    )

    def expected(message: str) -> str:
        return hmac.new(b"secret", message.encode(), hashlib.sha256).hexdigest()

    assert keys["person"].to_list() == [
        expected("mueller|anna lena|1990-02-01"),
        expected("mueller|anna lena|1990-02-01"),
        expected("nguyen|thi|1985-12-31"),
        None,  # no name, no key (such a row never passes the contract)
    ]
    assert keys["local"].to_list() == [
        expected("LWL-0101|7"),
        expected("LWL-0101|8"),
        expected("LVR-0201|7"),
        expected("LVR-0201|9"),
    ]


def test_a_crash_leaves_the_previous_state(demo, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare(con)
    real = chunk_module.landing_frame
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(chunk_module, "landing_frame", failing)
    with pytest.raises(OSError):
        wh.ingest(con, inbox, tmp_path / "archive", KEY)
    assert con.execute("select count(*) from ops.delivery_log").fetchone()[0] == 0
    assert sum(counts(con).values()) == 0
    monkeypatch.setattr(chunk_module, "landing_frame", real)
    report = wh.ingest(con, inbox, tmp_path / "archive", KEY)
    assert report.loaded > 800, "the rerun takes everything"


def test_a_crash_keeps_the_whole_chunks_before_it_and_the_rerun_takes_the_rest(demo, tmp_path, monkeypatch):
    """Chunks commit one by one: after a crash the landing holds whole files only (as if the later
    ones had not arrived), and the rerun ends exactly where one uninterrupted run ends."""
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    real_chunk, real_frame = wh.load_chunk, chunk_module.landing_frame
    chunks: list[list[str]] = []

    def chunk(ctx, read):
        chunks.append(list(read.batch.files))
        return real_chunk(ctx, read)

    def frame(*args, **kwargs):
        if len(chunks) == 2:
            raise OSError("disk full (simulated)")
        return real_frame(*args, **kwargs)

    monkeypatch.setattr(wh, "load_chunk", chunk)
    monkeypatch.setattr(chunk_module, "landing_frame", frame)
    con = duckdb.connect(str(tmp_path / "crashed.duckdb"))
    with pytest.raises(OSError):
        wh.ingest(con, inbox, tmp_path / "archive", KEY, chunk_files=300)
    assert len(chunks) == 2 and len(chunks[0]) == 300
    assert sorted(r[0] for r in con.execute("select file_name from ops.delivery_log").fetchall()) == sorted(
        chunks[0]
    )
    landing_rows = " union all ".join(f"select delivery_id from landing.{t}" for t in counts(con))
    mismatched = con.execute(
        f"""select l.delivery_id, l.rows_loaded, count(r.delivery_id)
            from ops.delivery_log l left join ({landing_rows}) r using (delivery_id)
            where l.status = 'loaded' group by all having l.rows_loaded != count(r.delivery_id)"""
    ).fetchall()
    assert mismatched == [], "every logged file is in the landing whole, nothing else is"

    monkeypatch.setattr(wh, "load_chunk", real_chunk)
    monkeypatch.setattr(chunk_module, "landing_frame", real_frame)
    wh.ingest(con, inbox, tmp_path / "archive", KEY, chunk_files=300)
    assert not list(inbox.iterdir()), "after the rerun every file is taken"
    shutil.copytree(demo, tmp_path / "inbox2")
    with duckdb.connect(str(tmp_path / "uninterrupted.duckdb")) as uninterrupted:
        wh.ingest(uninterrupted, tmp_path / "inbox2", tmp_path / "archive2", KEY, chunk_files=300)
    con.execute(f"attach '{tmp_path / 'uninterrupted.duckdb'}' as uninterrupted (read_only)")
    log = "delivery_id, file_name, status, rows_in, rows_loaded, rows_quarantined, superseded_by"
    for table, columns in [*((f"landing.{t}", "*") for t in counts(con)), ("ops.delivery_log", log)]:
        a, b = f"select {columns} from {table}", f"select {columns} from uninterrupted.{table}"
        differing = con.execute(f"select count(*) from (({a} except all {b}) union all ({b} except all {a}))")
        assert differing.fetchone()[0] == 0, f"{table} differs from an uninterrupted run"


KILLED_IN_SECOND_CHUNK = """
import os, sys
from pathlib import Path
import duckdb
from ingest import load
from ingest.pseudonymise import PseudonymKey

chunks = []
real = load.load_chunk
def load_chunk(ctx, read):
    chunks.append(read)
    real(ctx, read)
    if len(chunks) == 2:
        os._exit(9)  # killed with the second chunk written, before its commit: no rollback, no close
load.load_chunk = load_chunk
con = duckdb.connect(sys.argv[1])
load.ingest(con, Path(sys.argv[2]), Path(sys.argv[3]), PseudonymKey(sys.argv[4].encode(), "test"), chunk_files=300)
"""


def test_a_killed_ingest_keeps_the_chunks_it_committed(demo, tmp_path):
    """The chunks commit without a checkpoint each (one at the end of the ingest): a process killed
    in the second chunk leaves the first one committed, and DuckDB replays it from its write-ahead
    log when the file is opened again. A finished ingest leaves the file checkpointed."""
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    warehouse = tmp_path / "warehouse.duckdb"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IN_SECOND_CHUNK, str(warehouse), str(inbox), str(tmp_path / "archive"),
         KEY.secret.decode()],
        cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert killed.returncode == 9, killed.stderr
    assert Path(f"{warehouse}.wal").stat().st_size > 0, "the first chunk was not checkpointed on its own"
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("select count(*) from ops.delivery_log").fetchone()[0] == 300
        assert counts(con)["wfbm_personen"] > 0
        threshold = con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]
        wh.ingest(con, inbox, tmp_path / "archive", KEY, chunk_files=300)
        assert con.execute("select count(*) from ops.delivery_log").fetchone()[0] == len(list(demo.iterdir()))
        assert con.execute("select current_setting('checkpoint_threshold')").fetchone()[0] == threshold
        assert not Path(f"{warehouse}.wal").exists() or Path(f"{warehouse}.wal").stat().st_size == 0, (
            "a finished ingest checkpoints"
        )


def test_files_are_taken_ahead_of_the_reader_but_only_a_few(demo, tmp_path, monkeypatch):
    """Taking (hashing, archiving) runs ahead of the reading, so its waits on the disk overlap the
    parsing; only a few files' bytes wait in memory (those taken after the furthest file read, a
    workbook being read a few files early), whatever the chunk's size."""
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    started: list[str] = []
    ahead: list[int] = []  # files whose taking started, less those the reader has
    real_take, real_load = chunk_module.take, chunk_module._Intake._load

    def take(file, *args):
        started.append(file.name)
        return real_take(file, *args)

    def load(self, index):
        content = real_load(self, index)
        ahead.append(len(started) - len(ahead) - 1)
        return content

    monkeypatch.setattr(chunk_module, "take", take)
    monkeypatch.setattr(chunk_module._Intake, "_load", load)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    wh.ingest(con, inbox, tmp_path / "archive", KEY, chunk_files=10_000)
    files = len(list(demo.iterdir()))
    assert sorted(started) == sorted(p.name for p in demo.iterdir()), "every file taken once"
    assert len(ahead) == files
    assert 1 < max(ahead) <= chunk_module.TAKE_AHEAD + LOOKAHEAD
    assert con.execute("select count(*) from ops.delivery_log").fetchone()[0] == files


def test_a_chunks_log_commits_only_after_its_archived_files_are_synced(demo, tmp_path, monkeypatch):
    """The archive is made durable while the chunk is written, and the delivery log that names its
    files commits only once that sync has returned: on a slow disk the log waits for it."""
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    logged_when_synced: list[int] = []
    written = threading.Event()
    real_chunk = wh.load_chunk

    def chunk(ctx, read):
        real_chunk(ctx, read)
        written.set()

    def slow_sync():  # a disk slower than the chunk's writing
        assert written.wait(timeout=60)
        written.clear()
        time.sleep(0.2)  # a commit that did not wait would be done by now
        logged_when_synced.append(con.cursor().execute("select count(*) from ops.delivery_log").fetchone()[0])

    monkeypatch.setattr(wh, "load_chunk", chunk)
    monkeypatch.setattr(wh.os, "sync", slow_sync)
    wh.ingest(con, inbox, tmp_path / "archive", KEY, chunk_files=300)
    files = len(list(demo.iterdir()))
    assert len(logged_when_synced) == -(-files // 300)
    assert logged_when_synced == [300 * number for number in range(len(logged_when_synced))], (
        "at each sync only the chunks before are committed"
    )
    assert con.execute("select count(*) from ops.delivery_log").fetchone()[0] == files


def test_a_chunk_after_a_register_is_read_against_it(demo, tmp_path):
    """Each chunk is read while the one before it is written, against the registers before that
    one; a chunk holding a register is written before the next is read. A new register naming a
    workshop, then that workshop's files, in the following chunks of one run: loaded, not held."""
    new, register = "LVR-0204", "lv_LVR_werkstaetten.csv"
    first, inbox = tmp_path / "first", tmp_path / "inbox"
    first.mkdir()
    inbox.mkdir()
    lines = (demo / register).read_bytes().split(b"\r\n")
    (first / register).write_bytes(b"\r\n".join(line for line in lines if not line.startswith(new.encode())))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    wh.ingest(con, first, tmp_path / "archive", KEY)
    assert new not in chunk_module.known_workshops(con)

    shutil.copy2(demo / register, inbox / register)
    named = next(line for line in lines if line.startswith(new.encode())).split(b";")[1].decode("cp1252")
    files = sorted(p.name for p in demo.iterdir() if named in p.name)[:3]  # workbooks named by workshop
    assert files, f"the demo has files of {new} ({named})"
    for name in files:  # arriving after the register (one chunk each)
        assert (demo / name).stat().st_mtime_ns > (demo / register).stat().st_mtime_ns
        shutil.copy2(demo / name, inbox / name)
    report = wh.ingest(con, inbox, tmp_path / "archive", KEY, chunk_files=1)
    statuses = dict(
        con.execute("select file_name, status from ops.delivery_log where sender = ?", [new]).fetchall()
    )
    assert report.held == 0 and statuses == dict.fromkeys(files, "loaded"), statuses


def test_a_register_with_a_faulty_row_is_rejected_and_the_one_in_force_stands(demo, tmp_path):
    """A register whose row of a workshop had "1.410" for 1410 Plätze was loaded without that
    row: the workshop left the register, every later file of it was held, its figures ended (a
    hostile-input review). Such a register is rejected whole, its row findings say why, and the
    one in force stands: the workshop's next file loads."""
    register = "lv_LVR_werkstaetten.csv"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    shutil.copy2(demo / register, first / register)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    wh.ingest(con, first, tmp_path / "archive", KEY)
    header, row, *rest = (demo / register).read_bytes().split(b"\r\n")
    fields = row.split(b";")
    at = header.decode("cp1252").split(";").index("Plätze")
    workshop = fields[0].decode("cp1252")
    fields[at] = b"1.410"
    (second / register).write_bytes(b"\r\n".join([header, b";".join(fields), *rest]))
    os.utime(second / register, ns=(time.time_ns(), time.time_ns()))
    name = next(p.name for p in sorted(demo.iterdir()) if f"_{workshop}_" in p.name and p.suffix == ".csv")
    shutil.copy2(demo / name, second / name)
    os.utime(second / name, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    wh.ingest(con, second, tmp_path / "archive", KEY)
    statuses = con.execute(
        "select status from ops.delivery_log where file_name = ? order by delivery_id", [register]
    ).fetchall()
    rules = {
        r
        for (r,) in con.execute("select rule from ops.quarantine where file_name = ?", [register]).fetchall()
    }
    assert statuses == [("loaded",), ("rejected",)]
    assert "register_incomplete" in rules and len(rules) > 1, rules  # the row's own finding too
    assert workshop in chunk_module.known_workshops(con)
    assert (
        con.execute("select status from ops.delivery_log where file_name = ?", [name]).fetchone()[0]
        == "loaded"
    )


def test_a_correction_with_far_fewer_rows_loads_with_a_warning(demo, tmp_path):
    """A correction replaces its month whole; one with under half the rows of the delivery it
    replaces (an upload cut at a line end) is loaded and told, to its sender and the operator."""
    name = next(p.name for p in sorted(demo.iterdir()) if p.name.endswith("_personen.csv"))
    lines = (demo / name).read_bytes().removesuffix(b"\r\n").split(b"\r\n")
    assert len(lines) > 21, "a snapshot of more than 20 persons"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for step, kept in (("first", lines), ("cut", lines[:9]), ("again", lines[:7])):
        inbox = tmp_path / step
        inbox.mkdir()
        (inbox / name).write_bytes(b"\r\n".join(kept) + b"\r\n")
        os.utime(inbox / name, ns=(time.time_ns(), time.time_ns()))
        wh.ingest(con, inbox, tmp_path / "archive", KEY)
    warned = con.execute(
        "select d.rows_in, q.message from ops.quarantine q join ops.delivery_log d using (delivery_id) "
        "where q.rule = 'correction_shrank'"
    ).fetchall()
    assert [rows for rows, _ in warned] == [8], "the cut file; not the next, 6 of 8 rows"
    assert f"({len(lines) - 1} Datenzeilen) mit nur 8:" in warned[0][1]
    assert con.execute("select count(*) from landing.wfbm_personen").fetchone()[0] == 6, "loaded all the same"


def test_two_files_of_one_month_in_one_run_say_which_was_loaded(demo, tmp_path):
    """Of two files of one month in one run, the later (by modification time, then by name) loads;
    the other is superseded and says by which file and why (it was silent: a hostile-input review)."""
    name = next(p.name for p in sorted(demo.iterdir()) if p.suffix == ".xlsx")  # free names: workbooks
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy2(demo / name, inbox / name)
    other = name.replace(".xlsx", " korrigiert.xlsx")
    with zipfile.ZipFile(demo / name) as source, zipfile.ZipFile(inbox / other, "w") as copy:
        for member in source.infolist():  # the same content in other bytes (stored, not deflated)
            copy.writestr(member.filename, source.read(member))
    stamp = (demo / name).stat().st_mtime_ns
    for n in (name, other):
        os.utime(inbox / n, ns=(stamp, stamp))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    rows = dict(con.execute("select file_name, (status, message) from ops.delivery_log").fetchall())
    loaded = [n for n, (status, _) in rows.items() if status == "loaded"]
    assert len(loaded) == 1 and len(rows) == 2, rows
    _, message = next(v for v in rows.values() if v[0] == "superseded")
    assert message.startswith(f"ersetzt durch {loaded[0]}, im selben Lauf für denselben Zeitraum"), message


def test_another_workshops_persons_under_a_name_load_with_a_warning(demo, tmp_path):
    """A workshop's snapshot, shuffled, under another workshop's name for the same month replaced
    that one's month without a word (a hostile-input review). It loads, as a correction does, with
    a warning; a snapshot that shares a few persons with another workshop's (a change of workshop)
    has none."""
    month = sorted(p.name.split("_")[2] for p in demo.glob("wfbm_*_personen.csv"))[-1]
    own, other = sorted(demo.glob(f"wfbm_*_{month}_personen.csv"))[:2]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    first = tmp_path / "first"
    first.mkdir()
    for path in (own, other):
        shutil.copy2(path, first / path.name)
    wh.ingest(con, first, tmp_path / "archive", KEY)
    header, *rows = own.read_bytes().removesuffix(b"\r\n").split(b"\r\n")
    second = tmp_path / "second"
    second.mkdir()
    (second / other.name).write_bytes(b"".join(line + b"\r\n" for line in (header, *reversed(rows))))
    wh.ingest(con, second, tmp_path / "archive", KEY)
    warned = con.execute(
        "select d.file_name, d.status from ops.quarantine q join ops.delivery_log d using (delivery_id) "
        "where q.rule = 'persons_of_another_workshop'"
    ).fetchall()
    assert warned == [(other.name, "loaded")], warned


def test_first_run_creates_a_private_key_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.delenv("TEILHABE_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("TEILHABE_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    first = load_key(None, default_key_file(os.environ))
    assert first.created and "config/teilhabe/pseudonym.key" in first.source
    path = Path(tmp_path / "config" / "teilhabe" / "pseudonym.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_key(None, default_key_file(os.environ))
    assert not again.created and again.secret == first.secret


def test_no_key_is_made_for_a_warehouse_built_with_one(tmp_path, monkeypatch):
    """Without TEILHABE_PSEUDONYM_KEY on a loaded data home a random key was made, refused as
    "another key", and the message invited a rebuild under it (an operator's review)."""
    from ingest.pseudonymise import KeyProblem

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"")
    with pytest.raises(KeyProblem, match="no new key was made"):
        load_key(None, default_key_file(os.environ), warehouse)
    assert not (tmp_path / "config" / "teilhabe" / "pseudonym.key").exists()


def test_archive_retention_removes_only_expired_files(demo, tmp_path):
    import datetime as dt

    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    archived = lambda: sum(1 for p in (tmp_path / "archive").rglob("*") if p.is_file())  # noqa: E731
    before = archived()
    assert prune_archive(con, tmp_path / "archive", years=6, today=dt.date(2026, 11, 23)) == 0
    assert archived() == before
    # Six years after 2023 has ended, everything of 2023 goes; 2024 stays.
    removed = prune_archive(con, tmp_path / "archive", years=6, today=dt.date(2030, 1, 15))
    assert 0 < removed < before and archived() == before - removed
    # What stays of 2023 shares its bytes with a later delivery (a quiet month's header-only file).
    kept_2023 = con.execute(
        "select count(*) from ops.delivery_log d where archive_removed_at is null and period like '2023%' "
        "and not exists (select 1 from ops.delivery_log l where l.sha256 = d.sha256 and l.period >= '2024')"
    ).fetchone()[0]
    assert kept_2023 == 0
    kept_2024 = (
        "select count(*) from ops.delivery_log where archive_removed_at is null and period like '2024%'"
    )
    assert con.execute(kept_2024).fetchone()[0] > 400


def test_chunked_reading_gives_the_same_warehouse(demo, tmp_path, monkeypatch):
    """Big inboxes are read in chunks (bounded in files and in bytes), each one transaction; the
    result does not depend on them."""
    results = []
    bounds = [(100_000, 1 << 40), (150, Limits.max_batch_bytes), (100_000, 2 << 20)]  # (files, bytes)
    for chunk, (files, batch_bytes) in enumerate(bounds):
        con = duckdb.connect(str(tmp_path / f"w{chunk}.duckdb"))
        shutil.copytree(demo, tmp_path / f"inbox{chunk}")
        inbox, archive = tmp_path / f"inbox{chunk}", tmp_path / f"archive{chunk}"
        wh.ingest(con, inbox, archive, KEY, limits=Limits(max_batch_bytes=batch_bytes), chunk_files=files)
        statuses = con.execute("select file_name, status from ops.delivery_log order by file_name").fetchall()
        findings = con.execute(  # also those that compare a file with the files of other chunks
            "select file_name, source_table, rule, count(*) from ops.quarantine group by all order by all"
        ).fetchall()
        results.append((counts(con), statuses, findings))
        con.close()
    assert results[0] == results[1] == results[2]


def test_chunks_are_bounded_in_files_and_bytes_and_never_hold_one_name_twice():
    """Files read together take ~11 times their bytes in memory: 12 hostile files of 60 MB in one
    chunk took a run to 8.2 GB (2.1 GB with the bound)."""
    from ingest.chunk import Arrival
    from ingest.inbox import InboxFile
    from ingest.load import _chunks

    def arrival(name: str, mb: int) -> Arrival:
        now = dt.datetime(2026, 1, 1)
        return Arrival(InboxFile(name.encode(), name, mb << 20, 0, 0, 0), now, 0)

    limits = Limits(max_file_bytes=64 << 20, max_batch_bytes=100 << 20)
    sizes = [("a", 60), ("b", 30), ("c", 20), ("d", 500), ("e", 1), ("e", 1), ("f", 1), ("f", 1)]
    chunks = _chunks([arrival(name, mb) for name, mb in sizes], chunk_files=3, limits=limits)
    # c would make 110 MB; d beyond the file limit is read only to its 64 MB (refused, archived);
    # three files make a chunk full; a name again starts a new chunk (a rerun replaces the first)
    assert [[a.name for a in chunk] for chunk in chunks] == [["a", "b"], ["c", "d", "e"], ["e", "f"], ["f"]]
    alone = _chunks([arrival("x", 64), arrival("y", 64)], chunk_files=10, limits=limits)
    assert [[a.name for a in chunk] for chunk in alone] == [["x"], ["y"]]


def test_the_ingest_connection_gets_half_the_duckdb_memory_limit():
    from pathlib import Path

    from teilhabe.settings import DataHome, Settings, memory_bytes

    def limit(configured: str) -> str:
        return Settings(DataHome(Path()), duckdb_memory_limit=configured).ingest_memory_limit

    assert limit("1GB") == "500000000B"
    assert limit("1536MB") == "768000000B"
    assert memory_bytes(limit("2GiB")) == 1 << 30
    assert limit("80%") == "80%", "a limit that is no size is left to DuckDB"


def test_dbt_run_by_hand_gets_the_same_default_memory_limit_as_the_pipeline():
    """dbt's profile falls back to its own default when TEILHABE_DUCKDB_MEMORY_LIMIT is unset (a
    `dbt build` by hand, `make docs`): it must be the settings' default."""
    import re
    from pathlib import Path

    from teilhabe.settings import DataHome, Settings

    profile = (Path(__file__).resolve().parents[1] / "dbt_project" / "profiles.yml").read_text()
    fallback = re.search(r"env_var\('TEILHABE_DUCKDB_MEMORY_LIMIT', '([^']+)'\)", profile)
    assert fallback and fallback.group(1) == Settings(DataHome(Path())).duckdb_memory_limit


def test_a_forged_modification_time_neither_passes_an_old_period_nor_empties_the_archive(spec_dir, tmp_path):
    """A file's received time is its modification time, which its sender sets. Set to 2019, a
    month of 2014 passed the retention check (counted from 2019) and was loaded, and the next
    pruning (counted from today) deleted the file it loaded; a file of no period was deleted at
    once. Both now count from the pipeline's clock."""
    import datetime as dt

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    header = (spec_dir / "samples" / "wfbm_LWL-0101_2024-08_uebergaenge.csv").read_bytes().split(b"\r\n")[0]
    old = inbox / "wfbm_LWL-0101_2014-01_uebergaenge.csv"
    old.write_bytes(header + b"\r\n")
    nameless = inbox / "Meldung.csv"  # no period: rejected, archived
    nameless.write_bytes(b"x;y\r\n")
    forged = dt.datetime(2019, 6, 1).timestamp()
    for path in (old, nameless):
        os.utime(path, (forged, forged))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    wh.ingest(con, inbox, tmp_path / "archive", KEY)
    outcomes = dict(con.execute("select file_name, status from ops.delivery_log").fetchall())
    assert outcomes == {old.name: "rejected", nameless.name: "rejected"}
    message = con.execute("select message from ops.delivery_log where file_name = ?", [old.name]).fetchone()[
        0
    ]
    assert "vor mehr als 6 Jahren" in message
    assert (
        prune_archive(con, tmp_path / "archive", years=6) == 1
    )  # the old month's file, not the nameless one
    kept = con.execute("select file_name from ops.delivery_log where archive_removed_at is null").fetchall()
    assert kept == [(nameless.name,)]
