"""Privacy that holds against a careful reader (privacy.md): the key, the file modes, the
residence postcode dropped at the door, a change of key only through a rebuild."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from extract_files import csv_rows

TEILHABE = str(Path(sys.executable).with_name("teilhabe"))
ANOTHER_KEY = "another key, as long as a key must be: 0123456789"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TEILHABE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), **extra}
    return {k: v for k, v in env.items() if v is not None}


def _refused(arguments: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [TEILHABE, *arguments], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, lines)
    return lines[0]


# --- the key --------------------------------------------------------------------------------------


def _without_key(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "TEILHABE_PSEUDONYM_KEY"}


def test_the_fast_keyed_hash_is_hmac_sha256_and_nothing_is_remembered_after_ingest(tmp_path):
    """keyed_hash is RFC 2104 HMAC-SHA256 for short, block-long and long keys, with a prefix; and
    the names and hashes ingest remembers across chunks are gone when it ends."""
    import hashlib
    import hmac

    from ingest import pseudonymise
    from ingest.load import ingest
    from ingest.pseudonymise import PseudonymKey, keyed_hash

    for key in (b"k", b"x" * 64, bytes(range(200))):
        for prefix, message in ((b"", "müller|hans|1970-01-01"), (b"day|", ""), (b"date|", "1970-12-31")):
            expected = hmac.new(key, prefix + message.encode(), hashlib.sha256).hexdigest()
            assert keyed_hash(key, prefix)(message) == expected
    pseudonymise.normalise_name("Müller")
    pseudonymise._hmac(b"k" * 32)("müller|hans|1970-01-01")
    assert pseudonymise.normalise_name.cache_info().currsize and pseudonymise._hmac.cache_info().currsize
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest(con, inbox, tmp_path / "archive", PseudonymKey(b"k" * 32, "test"))
    assert not pseudonymise.normalise_name.cache_info().currsize
    assert not pseudonymise._hmac.cache_info().currsize


def test_short_empty_and_readable_keys_are_refused_before_anything_is_read(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    run = ["run", "--inbox", str(inbox)]
    assert "has 5 bytes; a key needs at least 32" in _refused(
        run, _env(tmp_path, TEILHABE_PSEUDONYM_KEY="short")
    )
    assert "has 0 bytes" in _refused(run, _env(tmp_path, TEILHABE_PSEUDONYM_KEY=""))
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text("0123456789abcdef" * 4 + "\n")
    key_file.chmod(0o644)
    env = _without_key(_env(tmp_path, TEILHABE_PSEUDONYM_KEY_FILE=str(key_file)))
    assert "can be read by others (mode 644): `chmod 600" in _refused(run, env)
    key_file.chmod(0o640)
    assert "can be read by its group" in _refused(run, env)
    key_file.write_text("too short\n")
    key_file.chmod(0o600)
    assert "has 9 bytes" in _refused(run, env)
    assert not (tmp_path / "warehouse.duckdb").exists() and not (tmp_path / "archive").exists()


CREATE_KEY = (
    "from ingest.pseudonymise import load_key; from teilhabe.settings import settings; "
    "s = settings(); print('ready', flush=True); load_key(s.pseudonym_key, s.pseudonym_key_file)"
)


def test_a_killed_first_run_never_leaves_an_empty_or_partial_key(tmp_path):
    """The first run's key is written to a private temporary file, synced and linked to its name:
    killed at any moment, the key file is either absent or whole. The kills are timed from the
    moment the imports are done (they take longer on a busy machine), across the key's writing."""
    outcomes = set()
    for attempt in range(40):
        config = tmp_path / f"config{attempt}"
        env = _without_key({**os.environ, "XDG_CONFIG_HOME": str(config)})
        env.pop("TEILHABE_PSEUDONYM_KEY_FILE", None)
        process = subprocess.Popen([sys.executable, "-c", CREATE_KEY], env=env, stdout=subprocess.PIPE)
        assert process.stdout.readline() == b"ready\n"
        time.sleep(0.0005 * attempt)  # 0 to 20 ms: before, while and after the key is written
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        key = config / "teilhabe" / "pseudonym.key"
        if key.exists():
            content = key.read_bytes()
            assert len(content) == 65 and content.endswith(b"\n") and int(content, 16) >= 0, content
            assert stat.S_IMODE(key.stat().st_mode) == 0o600
            outcomes.add("whole")
        else:
            outcomes.add("absent")
    assert outcomes == {"whole", "absent"}, "the kills fell both before and after the key was made"


def test_another_key_fails_the_ui_run_with_its_own_line(demo_home, tmp_path, monkeypatch):
    """In the Dagster UI too, a run with another key fails its first step with the key's own
    message, what to do included (an operator review: the step said only "Error occurred while
    executing op", the reason stood below a traceback), and loads nothing."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import DataHomeResource

    home = tmp_path / "home"
    shutil.copytree(demo_home["root"], home, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    (home / "inbox" / "wfbm_LWL-0101_2099-01_personen.csv").write_bytes(b"Personennummer\r\n")
    monkeypatch.setenv("TEILHABE_PSEUDONYM_KEY", ANOTHER_KEY)
    with dg.instance_for_test() as instance:
        failed = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance,
            resources={"data_home": DataHomeResource(root=str(home), inbox_dir=str(home / "inbox"))},
            raise_on_error=False,
        )
    (failure,) = failed.get_step_failure_events()
    error = failure.step_failure_data.error
    assert failure.step_key == "landing_tables" and error.cause is None
    assert "built with another pseudonym key" in error.message and "teilhabe rebuild --to" in error.message
    assert (home / "inbox" / "wfbm_LWL-0101_2099-01_personen.csv").exists()


def test_another_key_is_refused_and_a_rebuild_makes_a_new_home(demo_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(demo_home["root"], home, symlinks=True)
    line = _refused(["run", "--inbox", str(home / "inbox")], _env(home, TEILHABE_PSEUDONYM_KEY=ANOTHER_KEY))
    assert "built with another pseudonym key" in line and "teilhabe rebuild --to" in line

    from linkage.decisions import record_decision

    decisions = home / "linkage" / "decisions.csv"  # the operator's: carried over by the rebuild
    record_decision(decisions, "a" * 32, "b" * 32, "reject", "Zwillinge")
    rebuilt = tmp_path / "rebuilt"
    done = subprocess.run(
        [TEILHABE, "rebuild", "--to", str(rebuilt)],
        env=_env(home, TEILHABE_PSEUDONYM_KEY=ANOTHER_KEY),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "6 unchanged" in done.stdout, "the partners' figures do not depend on the key"
    assert (rebuilt / "linkage" / "decisions.csv").read_bytes() == decisions.read_bytes()
    with duckdb.connect(str(rebuilt / "warehouse.duckdb"), read_only=True) as con:
        con.execute(f"attach '{home / 'warehouse.duckdb'}' as old (read_only)")
        tables = con.execute(
            "select table_name from duckdb_tables() where database_name = 'old' and schema_name = 'kpi'"
        ).fetchall()
        for (table,) in tables:
            a, b = f"select * from kpi.{table}", f"select * from old.kpi.{table}"
            differing = con.execute(
                f"select count(*) from (({a} except all {b}) union all ({b} except all {a}))"
            )
            assert differing.fetchone()[0] == 0, f"kpi.{table} differs after the rebuild"
        shared = con.execute(
            "select count(*) from (select person_key from landing.wfbm_personen "
            "intersect select person_key from old.landing.wfbm_personen)"
        ).fetchone()[0]
        assert shared == 0, "new key, new pseudonyms"
        assert con.execute("select count(*) from ops.extract_log").fetchone()[0] > 0, (
            "publication history kept"
        )


# --- file modes -----------------------------------------------------------------------------------


def _modes(home: Path) -> list[tuple[str, int, bool]]:
    found = []
    for folder, directories, files in os.walk(home):
        here = Path(folder)
        if here == home / "inbox":
            continue
        for name in directories + files:
            path = here / name
            info = path.lstat()
            if not stat.S_ISLNK(info.st_mode):
                found.append((str(path.relative_to(home)), stat.S_IMODE(info.st_mode), path.is_dir()))
    return found


def test_the_data_home_is_its_users_alone(tmp_path, demo):
    """A demo run as a user starts it: folders 700 and files 600 (the archive's 400), the analysts'
    copy 750/440, nothing readable by others; a file someone opened up is reported and closed."""
    home = tmp_path / "home"
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    done = subprocess.run([TEILHABE, "run", "--inbox", str(inbox)], env=_env(home), capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert not list(inbox.iterdir()), "processed files left the inbox"
    entries = _modes(home)
    assert len(entries) > 1000
    for name, mode, is_dir in entries:
        if name.startswith("analysts"):
            expected = 0o750 if is_dir else 0o440
        elif name.startswith("archive/") and not is_dir:
            expected = 0o400
        else:
            expected = 0o700 if is_dir else 0o600
        assert mode & ~expected == 0, f"{name} has mode {mode:o}"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700

    (home / "warehouse.duckdb").chmod(0o644)
    again = subprocess.run([TEILHABE, "run", "--inbox", str(inbox)], env=_env(home), capture_output=True,
                           text=True, timeout=900, check=False)  # fmt: skip
    assert again.returncode == 0
    assert "could be read by others and were made private: warehouse.duckdb (was 644)" in again.stdout
    assert stat.S_IMODE((home / "warehouse.duckdb").stat().st_mode) == 0o600


# --- nothing finer than the Kreis ---------------------------------------------------------------


def _residence_postcodes(demo: Path) -> set[str]:
    found = set()
    for path in demo.glob("wfbm_*_personen.csv"):
        found |= {row["PLZ"] for row in csv.DictReader(path.read_text("cp1252").splitlines(), delimiter=";")}
    for path in demo.glob("jc_*_kunden.csv"):
        found |= {
            row["plz"] for row in csv.DictReader(path.read_text("utf-8-sig").splitlines(), delimiter=";")
        }
    return found - {""}


EMPLOYER = {"employer_postcode", "betrieb_plz", "arbeitgeber_plz"}  # firms' addresses, kept on purpose
WORKSHOP_ADDRESS = {
    ("lv_werkstaetten", "plz"),
    ("stg_lv__workshops", "postcode"),
    ("dim_workshops", "postcode"),
}


@pytest.mark.parametrize("database", ["warehouse.duckdb", "analysts/teilhabe.duckdb"])
def test_no_residence_postcode_anywhere(demo_home, demo, database):
    postcodes = _residence_postcodes(demo)
    assert len(postcodes) > 100
    with duckdb.connect(str(demo_home["root"] / database), read_only=True) as con:
        con.execute("create temp table residence (v varchar)")
        con.executemany("insert into residence values (?)", [(p,) for p in sorted(postcodes)])
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() where data_type = 'VARCHAR' "
            "and schema_name in ('landing', 'staging', 'intermediate', 'marts', 'kpi') and not internal"
        ).fetchall()
        assert columns
        for schema, table, column in columns:
            if column in EMPLOYER or (table, column) in WORKSHOP_ADDRESS:
                continue
            assert column not in ("plz", "postcode"), f"{schema}.{table}.{column}"
            hits = con.execute(
                f'select count(*) from "{schema}"."{table}" where "{column}" in (select v from residence)'
            ).fetchone()[0]
            assert hits == 0, f"{schema}.{table}.{column} holds residence postcodes"


# --- suppression across versions and for means ------------------------------------------------------


def test_k14_transitions_of_a_kreis_and_its_workshops_k02_are_suppressed_together(demo_home, tmp_path):
    """K14's transitions of a Kreis are the K02 numerators of the workshops seated there: one of
    them suppressed, the Kreis' too (a Kreis of one workshop would show it), and the Kreis'
    suppressed, all of its workshops' (else the Kreis less the others gives it back). Large cells
    published as suppressed before (ops.suppression_history) stand for a secondary suppression:
    the demo's small ones are suppressed on both sides anyway."""
    from publish.extracts import decide

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        largest = con.execute(
            "select werkstatt_nr, landschaftsverband, kreisschluessel, numerator from kpi.k02_uebergangsquote "
            "where year = 2024 order by numerator desc nulls last, werkstatt_nr limit 2"
        ).fetchall()
        (workshop, lv, seat, transitions), (_, other_lv, other_seat, _) = largest
        assert transitions >= 5 and other_seat != seat, largest
        con.execute(
            "insert into ops.suppression_history values "
            "('k02', '2024', 'werkstatt', ?, ?, '', 'numerator', now(), ?), "
            "('k14', '2024', 'kreis', ?, ?, '', 'transitions', now(), null)",
            [workshop, lv, transitions, other_seat, other_lv],
        )
        decision = decide(con)
    k02 = decision.tables["k02"].with_columns(hidden=decision.masks["k02"]["numerator"])
    k14 = decision.tables["k14"].with_columns(hidden=decision.masks["k14"]["transitions"])
    workshops = (
        k02.filter(pl.col("_tier") == "werkstatt")
        .group_by("_kreisschluessel", "_period")
        .agg(pl.col("hidden").any().alias("any_hidden"), pl.col("hidden").all().alias("all_hidden"))
        .rename({"_kreisschluessel": "_region"})
    )
    kreise = k14.filter(pl.col("_tier") == "kreis").join(workshops, on=["_region", "_period"], how="inner")
    assert kreise.height and kreise["any_hidden"].any(), "the demo suppresses some workshop's transitions"
    assert kreise.filter(pl.col("any_hidden") & ~pl.col("hidden")).is_empty(), (
        "a Kreis shows a hidden workshop's"
    )
    assert kreise.filter(pl.col("hidden") & ~pl.col("all_hidden")).is_empty(), (
        "a workshop shown under a hidden Kreis"
    )
    forced = kreise.filter(pl.col("_period") == "2024").select("_region", "hidden", "all_hidden")
    assert forced.filter(pl.col("_region") == seat)["hidden"].item(), "the Kreis of a forced workshop"
    assert forced.filter(pl.col("_region") == other_seat)["all_hidden"].item(), (
        "the workshops of a forced Kreis"
    )


def test_k05_means_reveal_no_subsidy(demo_home):
    """Where a Kreis' Budget für Arbeit cases are suppressed its mean subsidy is too, and no hidden
    group's sum of subsidies follows from the visible means × cases and the totals."""
    from publish.extracts import EXTRACTS, complete_table, decide
    from publish.suppression import determined_cells

    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        table, groups = complete_table(con, EXTRACTS["k05"])
        decision = decide(con)
    mask = decision.masks["k05"]
    assert decision.tables["k05"].equals(table)
    cases, mean = mask["active_cases"].to_numpy(), mask["mean_monthly_subsidy_eur"].to_numpy()
    assert cases.any(), "the demo has small Budget für Arbeit cells"
    assert not (cases & ~mean).any(), "a mean shown where its number of cases is suppressed"
    periods = table["_period"].to_list()
    for period, period_groups in groups.items():
        rows = [i for i, p in enumerate(periods) if p == period]
        local = {row: k for k, row in enumerate(rows)}
        hidden = mean[rows]
        assert determined_cells(hidden, tuple(tuple(local[i] for i in g) for g in period_groups)) == [], (
            period
        )
    published = _csv_rows(demo_home["root"] / "outbox" / "lwl" / "2024" / "latest" / "k05.csv")
    assert any(row["active_cases"] == "*" for row in published)
    for row in published:
        if row["active_cases"] == "*":
            assert row["mean_monthly_subsidy_eur"] in ("*", ""), row


def test_a_new_kpi_column_leaves_only_described_and_under_the_suppression_decision(monkeypatch):
    """A column added to a KPI's model reaches the analysts' copy; a partner sees it only once the
    Erläuterungen describe it, and a described figure no suppression decision covers is refused
    (an onboarding review: the new column blocked LWL and LVR, and its label alone would have
    published the difference of a suppressed rate)."""
    from publish import labels
    from publish.extracts import EXTRACTS, UnprotectedColumn, public_columns

    table = pl.DataFrame(
        {"level": ["werkstatt"], "werkstatt_nr": ["LWL-0101"], "werkstatt_name": ["W"], "landschaftsverband": ["LWL"],
         "year": [2024], "numerator": [5], "denominator": [40], "value": [12.5], "rank": [3],
         "value_prev_year": [10.0], "rank_prev_year": [4], "is_provisional": [False], "missing_reason": [None],
         "value_change_prev_year": [2.5], "_kreisschluessel": ["05914"]}
    )  # fmt: skip
    extract = EXTRACTS["k01"]
    shown = public_columns(extract, table)
    assert "value_change_prev_year" not in shown and "_kreisschluessel" not in shown
    assert {"werkstatt_name", "value", "rank_prev_year", "missing_reason"} <= set(shown)
    monkeypatch.setitem(
        labels.COLUMNS, ("k01", "value_change_prev_year"), labels.Column("Veränderung zum Vorjahr", "")
    )
    with pytest.raises(
        UnprotectedColumn, match=r"k01: value_change_prev_year would leave without a suppression"
    ):
        public_columns(extract, table)


def test_k01_ranks_place_no_suppressed_workshop(demo_home):
    """A rank among all workshops would place the suppressed ones (the ranks missing beside the
    published ones, each between two published rates; with the total, an attack got LVR-0206's
    2 BiAp persons back): the published ranks are those among the published rates, on the exact
    rate, 1 = highest, ties sharing a rank; the same for last year's. (The demo suppresses no K01
    rate: tests/test_suppression.py has the attack's table.)"""
    from fractions import Fraction

    for lv in ("lwl", "lvr"):
        path = next((demo_home["root"] / "outbox" / lv).glob("20*/latest/k01.csv"))
        rows = list(csv.DictReader(path.read_text("utf-8-sig").splitlines(), delimiter=";"))
        workshops = [row for row in rows if row["Ebene"] == "Werkstatt"]
        shown = [row for row in workshops if row["BiAp-Quote (%)"] not in ("*", "x")]
        rate = {
            row["Werkstatt-Nr."]: Fraction(int(row["BiAp (Personen)"]), int(row["Beschäftigte AB"]))
            for row in shown
        }
        for row in shown:
            higher = sum(1 for other in rate.values() if other > rate[row["Werkstatt-Nr."]])
            assert row["Rang"] == str(1 + higher), (lv, row)
        last_year = [row for row in workshops if row["BiAp-Quote Vorjahr (%)"] not in ("*", "x")]
        before = {
            row["Werkstatt-Nr."]: float(row["BiAp-Quote Vorjahr (%)"].replace(",", ".")) for row in last_year
        }
        if len(set(before.values())) == len(before):  # no tie of the rounded rates to tell apart
            for row in last_year:
                higher = sum(1 for other in before.values() if other > before[row["Werkstatt-Nr."]])
                assert row["Rang Vorjahr"] == str(1 + higher), (lv, row)


@pytest.mark.parametrize("revision", ["one case less", "a case exchanged"])
def test_a_mean_shown_again_over_one_case_less_is_suppressed(demo_home, tmp_path, revision):
    """Two versions of a mean over 34 and 33 cases give the one case's own amount (34 × mean₁ −
    33 × mean₂: an attack found one person's Budget für Arbeit so); over as many cases but another
    mean, the difference of the cases exchanged (four versions of three rotating cases gave all
    four). A revision that moves a mean's cases by 1 or 2, or its mean over as many cases,
    suppresses that mean, the Kreis's and its totals'."""
    from publish.extracts import decide

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    mean = "mean_monthly_subsidy_eur"

    def means_of(con, year: int, regions: list[str]) -> list[bool]:
        decision = decide(con)
        rows = decision.tables["k05"].with_columns(decision.masks["k05"][mean].alias("_hidden"))
        rows = rows.filter((pl.col("_period") == str(year)) & pl.col("_region").is_in(regions))
        return rows.sort("_region")["_hidden"].to_list()

    with duckdb.connect(str(warehouse)) as con:
        decision = decide(con)  # a Kreis of the year delivered whose mean was published
        shown = decision.tables["k05"].with_columns(decision.masks["k05"][mean].alias("_hidden"))
        year, kreis, lv = (
            shown.filter((pl.col("level") == "kreis") & ~pl.col("_hidden") & (pl.col("active_cases") >= 4))
            .sort("_period", "_region", descending=[True, False])
            .select(pl.col("_period").cast(pl.Int64), "_region", "_landschaftsverband")
            .row(0)
        )
        before = means_of(con, year, [kreis, lv, "NRW"])
        if revision == "one case less":  # one case of that Kreis ends (its totals' cases with it)
            change = "active_cases = active_cases - 1"
        else:  # one case ends, another with 30 € more begins: as many cases, another mean
            change = "subsidy_sum_eur = subsidy_sum_eur + 30, mean_monthly_subsidy_eur = round((subsidy_sum_eur + 30) / active_cases, 2)"
        con.execute(
            f"update kpi.k05_budget_fuer_arbeit set {change} where year = ? and kreisschluessel = ?",
            [year, kreis],
        )
        con.execute(
            f"update kpi.k05_budget_fuer_arbeit_totals set {change} where year = ? and region in (?, 'NRW')",
            [year, lv],
        )
        after = means_of(con, year, [kreis, lv, "NRW"])
    assert before == [False, False, False], "published in the demo's delivery"
    assert after == [True, True, True], "the Kreis's mean, its Landschaftsverband's and NRW's"


def _csv_rows(path: Path) -> list[dict]:
    return csv_rows(path)


def _cells(version: Path) -> dict[tuple, str]:
    """Every published cell of a delivery version: (file, row key, column) -> text."""
    cells = {}
    for path in version.glob("k*.csv"):
        for row in _csv_rows(path):
            columns = list(row)
            key = (
                row.get("level"),
                row[columns[1]],
                row.get("landschaftsverband"),
                row.get("year"),
                row.get("month"),
            )
            for column, value in row.items():
                cells[(path.name, key, column)] = value
    return cells


def _on_biap(personen: Path) -> set[str]:
    """Personennummern on a BiAp placement (BIAP or BIG without an end) in the workshop's month."""
    placements = personen.with_name(personen.name.replace("_personen", "_aussenarbeitsplaetze"))
    rows = csv.DictReader(placements.read_bytes().decode("cp1252").splitlines(), delimiter=";")
    return {row["Personennummer"] for row in rows if row["Art"] in ("BIAP", "BIG") and not row["Ende"]}


def _move_one_person(inbox: Path, demo: Path, small: set[str], target: dict[str, str]) -> tuple[str, str]:
    """Re-deliver one workshop's December personen file with one BiAp person moved from a Kreis
    whose BiAp count is small to the largest Kreis of its Landschaftsverband (a correction of
    Wohnort_Kreis). Returns (from, to)."""
    for path in sorted(demo.glob("wfbm_*_2024-12_personen.csv")):
        on_biap = _on_biap(path)
        lines = path.read_bytes().decode("cp1252").split("\r\n")
        header = lines[0].split(";")
        column, number = header.index("Wohnort_Kreis"), header.index("Personennummer")
        for n, line in enumerate(lines[1:], start=1):
            fields = line.split(";")
            if len(fields) == len(header) and fields[column] in small and fields[number] in on_biap:
                source = fields[column]
                fields[column] = target[source]
                lines[n] = ";".join(fields)
                (inbox / path.name).write_bytes("\r\n".join(lines).encode("cp1252"))
                return source, target[source]
    raise AssertionError("no BiAp person in a Kreis with a small BiAp count")


def test_a_suppressed_cell_that_changes_hides_the_totals_above_it(demo_home, tmp_path):
    """The attack (2026-12-05): a workshop's transitions, suppressed as 2 in v0001, were corrected to
    1 and then 0; each version still hid the cell, but its Landschaftsverband's and NRW's totals
    stayed published, and the totals' change was the cell's. A cell suppressed before whose value
    changed is decided as suppressed anew: the totals above it are suppressed with it."""
    from publish.extracts import EXTRACTS, complete_table, decide

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        found = con.execute(
            """select h.period, h.region, w.landschaftsverband from ops.suppression_history h
               join marts.dim_workshops w on w.werkstatt_nr = h.region and w.is_current
               where h.kpi = 'k02' and h.column_name = 'numerator' and h.tier = 'werkstatt' and h.value > 0
               order by all limit 1"""
        ).fetchone()
        assert found, "the demo published a workshop's transitions as suppressed"
        period, workshop, lv = found

        def totals_hidden() -> list[bool]:
            table, _ = complete_table(con, EXTRACTS["k02"])
            mask = decide(con).masks["k02"]["numerator"]
            rows = table.with_row_index("_i").filter(
                (pl.col("_period") == period) & pl.col("_tier").is_in(["landschaftsverband", "nrw"])
                & pl.col("_region").is_in([lv, "NRW"])
            )  # fmt: skip
            assert rows.height == 2
            return [mask[i] for i in rows["_i"]]

        assert totals_hidden() == [False, False], "unchanged, the totals stay published"
        con.execute(
            "update kpi.k02_uebergangsquote set numerator = numerator - 1 where werkstatt_nr = ? and year = ?",
            [workshop, int(period)],
        )
        con.execute(
            "update kpi.k02_uebergangsquote_totals set numerator = numerator - 1 where year = ? and region in (?, 'NRW')",
            [int(period), lv],
        )
        assert totals_hidden() == [True, True], "its Landschaftsverband's total and NRW's"


def test_a_corrected_delivery_reveals_no_cell_suppressed_before(demo_home, demo, tmp_path):
    """The differencing attack: one person moves between Kreise in a re-delivered December file.
    Every cell a partner received as "*" in v0001 is "*" in v0002 of the same period too."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import DataHomeResource

    home = tmp_path / "home"
    shutil.copytree(demo_home["root"], home, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        counts = con.execute(
            "select k.kreisschluessel, r.landschaftsverband, k.biap_persons from kpi.k14_regionaluebersicht k "
            "join marts.dim_regions r using (kreisschluessel) where k.year = 2024 and k.biap_persons is not null"
        ).fetchall()
    small = {kreis for kreis, _, biap in counts if 1 <= biap <= 2}
    assert small, "the demo has Kreise with one or two persons on BiAp"
    largest = {lv: max((c for c in counts if c[1] == lv), key=lambda c: c[2])[0] for _, lv, _ in counts}
    source, _ = _move_one_person(inbox, demo, small, {k: largest[lv] for k, lv, _ in counts})
    lv = next(lv for kreis, lv, _ in counts if kreis == source).lower()
    published = {
        row["kreisschluessel"]: row for row in _csv_rows(home / "outbox" / lv / "2024" / "v0001" / "k14.csv")
    }
    assert published[source]["biap_persons"] == "*", "the person moved from behind a suppressed cell"
    before = {p: _cells(p / "v0001") for p in home.glob("outbox/*/*") if (p / "v0001").is_dir()}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, resources={"data_home": DataHomeResource(root=str(home), inbox_dir=str(inbox))}
        )
    assert result.success
    restated = [p for p in before if (p / "v0002" / "manifest.json").exists()]
    assert any(p.parent.name in {"lwl", "lvr"} for p in restated), "the correction made v0002"
    for folder in restated:
        after = _cells(folder / "v0002")
        for cell, value in before[folder].items():
            if value == "*":
                assert after.get(cell) in ("*", None), (
                    f"{folder.parent.name} {folder.name}: {cell} shown as {after.get(cell)}"
                )


# --- validation reports are internal ----------------------------------------------------------------


def test_validation_reports_stay_inside_and_name_no_one_else(demo_home):
    root = demo_home["root"]
    outbox = root / "outbox"
    assert (
        not [  # the partner report and the senders' Rückmeldung are the only pages that leave
            p
            for p in outbox.rglob("*")
            if (p.suffix in (".html", ".js", ".css") and p.name not in ("bericht.html", "rueckmeldung.html"))
            or "data_docs" in p.parts
        ]
    )
    partners = sorted(p.name for p in outbox.iterdir() if not p.name.startswith("werkstatt_"))  # senders only
    reports = sorted((root / "reports" / "validation").rglob("*.html"))
    assert {r.parent.name for r in reports} == set(partners)
    for report in reports:
        page = report.read_text("utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), (
            f"{report} loads from elsewhere"
        )
        assert "<script" not in page
        assert not [p for p in partners if p != report.parent.name and p in page], (
            f"{report} names another partner"
        )
    for latest in outbox.glob("*/*/latest"):
        statement = json.loads((latest / "validation.json").read_text("utf-8"))
        assert set(statement) == {"validated_with", "success", "expectations", "passed", "checks"}
        assert all(set(check) == {"kpi", "check", "column", "passed"} for check in statement["checks"])


def test_a_validation_report_renders_offline_in_a_browser(demo_home, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium where it may)")
    report = next((demo_home["root"] / "reports" / "validation" / "lwl").glob("*.html"))
    page = tmp_path / "report.html"  # readable by the browser's user, whoever that is
    shutil.copy(report, page)
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--proxy-server=127.0.0.1:9", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("<tr") > 10 and "expectations met" in done.stdout


# --- the analysts' copy, minimised ------------------------------------------------------------------


def test_the_analysts_copy_is_minimised_and_measured(demo_home):
    root = demo_home["root"]
    with duckdb.connect(str(root / "analysts" / "teilhabe.duckdb"), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name, data_type from duckdb_columns() where schema_name = 'marts'"
        ).fetchall()
        tables: dict[str, dict[str, str]] = {}
        for table, column, data_type in columns:
            tables.setdefault(table, {})[column] = data_type
        personal = {
            t: c
            for t, c in tables.items()
            if c.keys() & {"person_id", "person_local_key", "kunde_key", "case_key"}
        }
        # no linkage encoding (§6): the exact person key showed where agencies spelled a person
        # otherwise (two keys, one person_id); a free-text job coach may be a staff member's name
        assert [t for t, c in tables.items() if "person_key" in c] == []
        assert "job_coach" not in tables["fct_placement_spells"]
        assert tables["fct_placement_spells"]["has_job_coach"] == "BOOLEAN"
        assert con.execute("select bool_or(has_job_coach) from marts.fct_placement_spells").fetchone()[0]
        # the disability status reaches its person by person_id, one of its Jobcenter's customers
        assert tables["dim_person_disability_status"]["person_id"] == "BIGINT"
        assert (
            con.execute(
                "select count(*), count(*) filter (where person_id in (select person_id from marts.dim_person_records "
                "where source_table = 'jc_kunden')) from marts.dim_person_disability_status"
            ).fetchone()
            == (con.execute("select count(*) from marts.dim_person_disability_status").fetchone()[0],) * 2
        )
        assert {
            "fct_workshop_memberships",
            "fct_transitions",
            "fct_budget_fuer_arbeit_cases",
        } <= personal.keys()
        for table, cols in personal.items():
            assert not [c for c, t in cols.items() if t.startswith(("DATE", "TIMESTAMP"))], (
                f"{table} keeps dates"
            )
            assert not cols.keys() & {"employer_name", "employer_postcode"}, f"{table} names employers"
            assert all(t == "INTEGER" for c, t in cols.items() if c.endswith("_eur")), table
        months = con.execute("select distinct entry_month from marts.fct_workshop_memberships").fetchall()
        assert all(re.fullmatch(r"\d{4}-\d{2}", m) for (m,) in months if m is not None)
        # every fact's employer has its name in dim_employers (before, only those K13 counts had:
        # an analysts' review found 102 fact rows whose key had no row there)
        for fact in ("fct_placement_spells", "fct_transitions", "fct_budget_fuer_arbeit_cases",
                     "fct_integrations", "fct_measure_spells"):  # fmt: skip
            keyed = con.execute(
                f"select count(*), count(d.employer_key) from marts.{fact} t "
                "left join marts.dim_employers d using (employer_key) where t.employer_key is not null"
            ).fetchone()
            assert keyed[0] > 0 and keyed[0] == keyed[1], (
                f"{fact} reaches its employers through dim_employers"
            )
        assert "employer_name" in tables["dim_employers"]
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        metrics = con.execute(
            "select table_name, units, unique_units, share_unique from ops.disclosure_metrics"
        ).fetchall()
    # every table about persons is measured, but the bridge of keys (no quasi-identifier of its own)
    assert {m[0] for m in metrics} == {f"marts.{t}" for t in personal} - {"marts.dim_person_records"}
    for _, units, unique, share in metrics:
        assert units > 0 and 0 <= unique <= units and share == round(unique / units, 4)


def test_every_loose_mode_of_the_data_home_is_tightened_and_named(tmp_path):
    """privacy.md §2 on a data home with loose modes everywhere: folders 700, files 600, the
    archive's files 400 (the owner's write bit too), the analysts' copy 750/440; the inbox and
    symbolic links are left alone."""
    from teilhabe.settings import DataHome, tighten_modes

    home = DataHome(tmp_path / "home")
    made = {
        "outbox/lwl/2024/v0001/k01.csv": 0o644,
        "archive/2024/05/file.csv": 0o600,
        "analysts/teilhabe.duckdb": 0o644,
        "reports/operations/digest.txt": 0o640,
        "warehouse.duckdb": 0o600,
        "inbox/sent.csv": 0o666,
    }
    saved = os.umask(0o077)  # every folder made private; the loose ones below on purpose
    try:
        for name, mode in made.items():
            path = home.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
            path.chmod(mode)
    finally:
        os.umask(saved)
    for folder in ("outbox/lwl", "analysts", "inbox", "archive/2024", "."):
        (home.root / folder).chmod(0o755)  # the home itself as `mkdir -p` makes it
    (home.root / "outbox/lwl/2024/latest").symlink_to("v0001")
    found = tighten_modes(home)
    modes = {name: stat.S_IMODE((home.root / name).lstat().st_mode) for name in made}
    assert modes == {
        "outbox/lwl/2024/v0001/k01.csv": 0o600,
        "archive/2024/05/file.csv": 0o400,
        "analysts/teilhabe.duckdb": 0o640,  # the group may read, never write; the owner's bits stay
        "reports/operations/digest.txt": 0o600,
        "warehouse.duckdb": 0o600,
        "inbox/sent.csv": 0o666,
    }
    folders = {
        f: stat.S_IMODE((home.root / f).stat().st_mode)
        for f in ("outbox/lwl", "analysts", "inbox", "archive/2024")
    }
    assert folders == {"outbox/lwl": 0o700, "analysts": 0o750, "inbox": 0o755, "archive/2024": 0o700}
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o710, "an analysts' group may pass, nobody list"
    assert set(found) == {
        "outbox/lwl/2024/v0001/k01.csv (was 644)", "archive/2024/05/file.csv (was 600)",
        "analysts/teilhabe.duckdb (was 644)", "reports/operations/digest.txt (was 640)",
        "outbox/lwl (was 755)", "analysts (was 755)", "archive/2024 (was 755)", ". (was 755)",
    }  # fmt: skip
    assert tighten_modes(home) == [], "a second pass finds nothing"
    # the inbox is left alone, but an inbox every user may enter is said (an operator review)
    from teilhabe.settings import tighten_and_say

    said = tighten_and_say(home)
    assert said and said.startswith(f"inbox {home.inbox} is open to every user") and "(mode 755)" in said
    (home.root / "inbox").chmod(0o2770)
    assert tighten_and_say(home) is None


def test_every_dagster_process_of_the_data_home_writes_private_files(tmp_path):
    """A `dagster dev` started by hand (umask 022) created the UI's run logs readable by others, and
    every run of the UI then warned that it had closed them (an operator review). The data home's
    event log storage, which every Dagster process of it makes first, sets the private umask."""
    from orchestration.event_log import QuickSqliteEventLogStorage

    before = os.umask(0o022)
    try:
        storage = QuickSqliteEventLogStorage(str(tmp_path / "runs"))
        with storage.run_connection("a-run") as connection:
            connection.exec_driver_sql("select 1")
        created = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
        assert created and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in created), created
        storage.dispose()
    finally:
        os.umask(before)
