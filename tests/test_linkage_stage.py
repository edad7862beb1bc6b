"""The linkage stage in the pipeline (spec/linkage.md §3): person_ids over every source-local
person, the operator's decisions overriding the model, the review list showing plaintext only from
the archive, and nothing of the encodings leaving the pipeline."""

from __future__ import annotations

import json
import random
import re
import shutil

import duckdb
import polars as pl
import pytest

from ingest.encodings import SEAL_PURPOSE
from ingest.pseudonymise import load_key, person_key
from linkage.decisions import (
    invalid_lines,
    read_decisions,
    record_decision,
    request_retraining,
    retrain_pending,
)
from linkage.model import BLOCKING_RULES, sharing_a_block
from linkage.review import pairs_for_review
from linkage.stage import RECORD_ID, compares_otherwise, for_records, link_persons
from teilhabe.settings import Settings, memory_bytes

_SETTINGS = Settings.from_environment()  # the tests' key (conftest.py), which made the demo's warehouse
SEAL_KEY = load_key(_SETTINGS.pseudonym_key, _SETTINGS.pseudonym_key_file).subkey(SEAL_PURPOSE)


@pytest.fixture
def warehouse(demo_home, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy2(demo_home["root"] / "warehouse.duckdb", copy)
    con = duckdb.connect(str(copy))
    yield con
    con.close()


def _person_of(con, record_id: str) -> int:
    return con.execute(
        f"select p.person_id from linkage.person_records r join linkage.person_ids p using (source_table, local_key) "
        f"where {RECORD_ID.replace('source_table', 'r.source_table').replace('local_key', 'r.local_key')} = ?",
        [record_id],
    ).fetchone()[0]


def test_every_source_person_has_one_person_id_and_dim_persons_is_keyed_by_it(demo_home):
    con = duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True)
    try:
        local = con.execute(
            "select count(*) from (select distinct source_table, local_key from linkage.person_records)"
        ).fetchone()[0]
        assert con.execute("select count(*) from linkage.person_ids").fetchone()[0] == local
        persons = con.execute("select count(distinct person_id) from linkage.person_ids").fetchone()[0]
        assert con.execute(
            "select count(*), count(distinct person_id) from marts.dim_persons"
        ).fetchone() == (
            persons,
            persons,
        )
        metrics = con.execute("select records, persons, pairs_in_review from ops.linkage_metrics").fetchall()
        assert metrics and metrics[0][0] >= local and metrics[0][1] == persons
    finally:
        con.close()


def test_the_operators_decisions_override_the_model(warehouse, tmp_path):
    con = warehouse
    records = con.execute(
        f"select {RECORD_ID} as record_id, source_table, sender, person_id "
        "from linkage.person_records join linkage.person_ids using (source_table, local_key) order by 1"
    ).pl()
    # Two people the model keeps apart (different sources, different persons) ...
    left = records.filter(pl.col("source_table") == "wfbm_personen").row(0, named=True)
    right = records.filter(
        (pl.col("source_table") == "jc_kunden") & (pl.col("person_id") != left["person_id"])
    ).row(0, named=True)
    # ... and two records the exact key links (one person in two sources).
    shared = (
        records.group_by("person_id")
        .agg(pl.col("source_table").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    linked = records.join(shared.select("person_id"), on="person_id").sort("person_id", "record_id")
    first, second = linked.row(0, named=True), linked.row(1, named=True)
    assert first["person_id"] == second["person_id"]
    decisions = tmp_path / "linkage" / "decisions.csv"
    record_decision(
        decisions, left["record_id"], right["record_id"], "accept", "same person, checked in the files"
    )
    record_decision(decisions, first["record_id"], second["record_id"], "reject")
    untouched = records.filter(
        ~pl.col("person_id").is_in([left["person_id"], right["person_id"], first["person_id"]])
    )
    link_persons(con, decisions, SEAL_KEY, run_id="decisions")
    assert _person_of(con, left["record_id"]) == _person_of(con, right["record_id"])
    assert _person_of(con, first["record_id"]) != _person_of(con, second["record_id"])
    ids = con.execute(
        f"select {RECORD_ID} as record_id, person_id from linkage.person_records join linkage.person_ids "
        "using (source_table, local_key)"
    ).pl()
    kept = untouched.join(ids, on="record_id", suffix="_after")
    assert kept.height == untouched.height and (kept["person_id"] == kept["person_id_after"]).all(), (
        "a decision renumbered people it was not about"
    )
    # The newest line for a pair counts; a broken line is listed, not applied.
    with decisions.open("a") as out:
        out.write("not-a-record,other,accept,,,\n")
    assert invalid_lines(decisions) == [4]
    assert read_decisions(decisions).height == 2


def test_review_shows_the_archived_plaintext_of_both_records(demo_home, warehouse):
    """The operator's view: both records read back from the archive; their names and birth dates
    hash to the records' person keys (so they are the records, not look-alikes)."""
    con = warehouse
    pair = con.execute(
        f"""select l.record_id, r.record_id from
            (select {RECORD_ID} as record_id from linkage.person_records where source_table = 'wfbm_personen' limit 1) l,
            (select {RECORD_ID} as record_id from linkage.person_records where source_table = 'jc_kunden' limit 1) r"""
    ).fetchone()
    con.execute("delete from ops.linkage_review")
    con.execute(
        "insert into ops.linkage_review values (?, ?, 'wfbm_personen', 'jc_kunden', 0.7, 'Dice >= 0.8', "
        "'identical', 'exact', 'same', 'differs', 'missing')",
        list(pair),
    )
    settings = Settings.from_environment()
    key = load_key(settings.pseudonym_key, settings.pseudonym_key_file).secret
    (shown,) = pairs_for_review(con, demo_home["root"] / "archive", key)
    for record_id, side in ((shown.record_l, shown.left), (shown.record_r, shown.right)):
        assert side["Datei"].endswith((".csv", ".xlsx")) and int(side["Zeile"]) >= 1
        birth = side["Geburtsdatum"]
        iso = birth if "-" in birth else "-".join(reversed(birth.split(".")))
        frame = pl.DataFrame({"n": [side["Nachname"]], "v": [side["Vorname"]], "b": [iso]})
        hashed = frame.select(person_key(frame, key, "n", "v", "b"))[0, 0]
        expected = con.execute(
            f"select person_key from linkage.person_records where {RECORD_ID} = ?", [record_id]
        ).fetchone()[0]
        assert hashed == expected
    assert "Trefferwahrscheinlichkeit 0.700" in shown.text()
    agreement = shown.text().splitlines()[1]  # in the German of the lines around it
    assert agreement == (
        "  Übereinstimmung: Nachname: Dice >= 0.8, Vorname: gleich, Geburtsdatum: gleich, Geschlecht: gleich, "
        "Kreis: verschieden, Werkstatt: fehlt"
    )


def test_no_encoding_reaches_the_analysts_copy(demo_home):
    copy = duckdb.connect(str(demo_home["root"] / "analysts" / "teilhabe.duckdb"), read_only=True)
    try:
        columns = {r[0] for r in copy.execute("select column_name from duckdb_columns()").fetchall()}
        schemas = {r[0] for r in copy.execute("select schema_name from duckdb_tables()").fetchall()}
    finally:
        copy.close()
    assert "linkage" not in schemas
    assert not {
        c for c in columns if "bloom" in c or "phonetic" in c or (c.startswith("birth_") and "hash" in c)
    }


def test_every_manifest_states_the_linkage_quality_and_no_count(demo_home):
    """Each manifest says what the cross-agency figures rest on (the share of each kind of
    source's persons linked, to a tenth of a percent), but no statewide count: the persons, links and
    the pairs waiting for review (a 1 in the demo) are no partner's scope (a privacy review). A share
    above 0 never reads 0 (the demo's Jobcenter customers, 0.4 % linked, had read 0.0)."""
    import json

    manifests = sorted((demo_home["root"] / "outbox").glob("*/*/v*/manifest.json"))
    assert manifests
    con = duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True)
    share, customers = con.execute(
        """select share_linked_lv_budget_fuer_arbeit, share_linked_jc_kunden
           from ops.linkage_metrics order by measured_at desc"""
    ).fetchone()
    linked = con.execute(
        """select count(distinct person_id) filter (where source_table = 'jc_kunden' and person_id in (
                      select person_id from linkage.person_ids where source_table != 'jc_kunden'))
                  / count(distinct person_id) filter (where source_table = 'jc_kunden')
           from linkage.person_ids"""
    ).fetchone()[0]
    con.close()
    assert 0 < linked < 0.01, "the demo links a few of its Jobcenter customers"
    for path in manifests:
        quality = json.loads(path.read_text("utf-8"))["linkage_quality"]
        assert quality["share_linked_lv_budget_fuer_arbeit"] == round(share, 3) and 0 < share <= 1
        assert quality["share_linked_jc_kunden"] == round(customers, 3) == round(linked, 3) > 0
        assert set(quality) == {"measured_at", "share_linked_wfbm_personen", "share_linked_jc_kunden",
                                "share_linked_lv_budget_fuer_arbeit"}  # fmt: skip


def test_pairs_waiting_for_review_show_as_a_warning_in_dagster(demo_home):
    con = duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True)
    waiting = con.execute("select count(*) from ops.linkage_review").fetchone()[0]
    con.close()
    (check,) = [
        e for e in demo_home["result"].get_asset_check_evaluations() if e.check_name == "review_queue"
    ]
    assert check.passed == (waiting == 0)
    assert check.metadata["pairs_in_review"].value == waiting


def test_a_decisions_file_that_is_no_csv_applies_nothing_and_says_so(tmp_path):
    path = tmp_path / "decisions.csv"
    path.write_bytes(bytes(range(256)) * 8)
    assert read_decisions(path).height == 0
    assert invalid_lines(path) == [1]
    with pytest.raises(ValueError, match="32-digit"):
        record_decision(path, "abc", "def", "accept")


def test_a_stored_model_links_less_readily_as_the_records_grow():
    """Between two trainings the prior falls with the records: the true pairs grow with them, the
    pairs with their square."""
    model = {"probability_two_random_records_match": 1e-6, "comparisons": []}
    prior = "probability_two_random_records_match"
    assert for_records(model, trained_on=1000, records=2000)[prior] == pytest.approx(5e-7)
    assert for_records(model, trained_on=1000, records=1000)[prior] == pytest.approx(1e-6)
    assert for_records(model, trained_on=1000, records=500)[prior] == pytest.approx(1e-6)  # never raised
    assert model[prior] == 1e-6  # the stored model is left as it is


def test_a_model_stored_before_the_floor_on_m_gets_it_when_used():
    """A data home trained before the floor (8603ed8) scores its new records without the veto,
    before it is trained again."""
    from linkage.model import M_FLOOR

    sex = {"comparison_levels": [{"m_probability": 1.0}, {"m_probability": 8.7e-41}]}
    model = {"probability_two_random_records_match": 1e-6, "comparisons": [sex]}
    used = for_records(model, trained_on=1000, records=1000)
    assert used["comparisons"][0]["comparison_levels"][1]["m_probability"] >= M_FLOOR / (1 + M_FLOOR)
    assert sex["comparison_levels"][1]["m_probability"] == 8.7e-41, "the stored model is left as it is"


def test_a_stored_model_that_compares_otherwise_is_trained_again(warehouse, tmp_path):
    """A model trained before a comparison level changed (an older release) is trained again by the
    next run that scores pairs, not used with levels that are no longer the code's."""
    con = warehouse
    newest = "select settings_json from linkage.model order by trained_at desc limit 1"

    def one_record_new() -> None:  # as if a new month had brought it
        con.execute(
            "delete from linkage.scored_records where record_id = (select min(record_id) from linkage.scored_records)"
        )

    assert not compares_otherwise(json.loads(con.execute(newest).fetchone()[0]))
    one_record_new()
    report = link_persons(con, tmp_path / "decisions.csv", SEAL_KEY)
    assert report.new_records == 1 and not report.trained, "the code's own model stands"

    model = json.loads(con.execute(newest).fetchone()[0])
    model["comparisons"][0]["comparison_levels"][-2]["sql_condition"] = (
        '"surname_bloom_l" = "first_name_bloom_r"'
    )
    con.execute(
        "update linkage.model set settings_json = ? where trained_at = (select max(trained_at) from linkage.model)",
        [json.dumps(model)],
    )
    one_record_new()
    report = link_persons(con, tmp_path / "decisions.csv", SEAL_KEY)
    assert report.trained and "not the code's" in report.model
    assert not compares_otherwise(json.loads(con.execute(newest).fetchone()[0]))


def test_a_retraining_requested_while_the_model_trains_is_kept_for_the_next_run(
    warehouse, tmp_path, monkeypatch
):
    """The request a run took ends with its linkage; one the operator makes meanwhile is a new one
    and stays. A request taken by a run that failed before the end of its linkage stays too."""
    from linkage import stage

    con, decisions = warehouse, tmp_path / "linkage" / "decisions.csv"
    models = lambda: con.execute("select count(*) from linkage.model").fetchone()[0]  # noqa: E731
    before = models()
    request_retraining(decisions, "first")
    real = stage._clusters

    def operator_asks_again(*args):
        request_retraining(decisions, "asked while the model trained")
        return real(*args)

    monkeypatch.setattr(stage, "_clusters", operator_asks_again)
    assert link_persons(con, decisions, SEAL_KEY).trained and models() == before + 1
    assert retrain_pending(decisions), "the second request is not lost"

    def fails(*args):
        raise RuntimeError("the run dies during its linkage")

    monkeypatch.setattr(stage, "_clusters", fails)
    with pytest.raises(RuntimeError):
        link_persons(con, decisions, SEAL_KEY)
    assert retrain_pending(decisions), "a request of a failed linkage stays"
    monkeypatch.setattr(stage, "_clusters", real)
    assert link_persons(con, decisions, SEAL_KEY).trained
    assert not retrain_pending(decisions), "served"


def test_splink_works_under_the_warehouses_memory_limit_and_spills_only_into_the_data_home(tmp_path):
    from linkage.stage import _scratch

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), config={"memory_limit": "300MB"})
    settings_sql = "select current_setting('memory_limit'), current_setting('temp_directory')"
    limit, temp = _scratch(con).execute(settings_sql).fetchone()
    warehouse_limit, warehouse_temp = con.execute(settings_sql).fetchone()
    # DuckDB shows a limit rounded to a tenth of a MiB, and takes it back so
    assert abs(memory_bytes(limit) - memory_bytes(warehouse_limit)) <= 0.1 * (1 << 20)
    assert memory_bytes(limit) < 300 * 10**6, "the warehouse's limit, not DuckDB's default"
    assert temp == warehouse_temp and temp.startswith(str(tmp_path)), temp


def test_no_level_of_a_trained_model_vetoes_a_link():
    """EM drives the m of a level its pairs never show towards zero; one such difference (a sex
    recorded otherwise) would then outweigh names, birth date and Kreis together."""
    from linkage.model import M_FLOOR, with_m_floor

    null = {"sql_condition": "x IS NULL", "is_null_level": True}
    model = {
        "comparisons": [
            {"comparison_levels": [null, *({"m_probability": m} for m in (1.0, 8.7e-41))]},
            {"comparison_levels": [null, *({"m_probability": m} for m in (0.93, 0.05, 0.02))]},
        ]
    }
    floored = with_m_floor(json.loads(json.dumps(model)))
    sex, name = ([lv.get("m_probability") for lv in c["comparison_levels"]] for c in floored["comparisons"])
    assert sex[0] is None, "the null level has no m"
    assert sex[2] >= M_FLOOR / (1 + M_FLOOR) and sum(sex[1:]) == pytest.approx(1.0)
    assert name[1:] == [0.93, 0.05, 0.02], "a comparison without a vanishing level stays as it is"


def test_new_records_are_scored_against_exactly_the_known_ones_they_meet_in_a_block():
    """A new month's records are compared only with the known records that meet one of them in a
    block of the blocking rules, on either side of a pair (``sharing_a_block``): no pair the rules
    make is lost, and no other record is read into the scoring."""
    columns = ("birth_date_hash", "birth_day_hash", "birth_month_hash", "birth_year_hash",
               "surname_phonetic", "first_name_phonetic")  # fmt: skip
    rng = random.Random(3)
    # Few values per column, so that records meet in every kind of block; the names' codes share
    # one alphabet, so that names swapped between the fields meet too.
    choices = ([f"d{i}" for i in range(30)], ["1", "2", "3", "4"], ["1", "2", "3", "4"], ["1", "2", "3", "4"],
               list("uvwxyz"), list("uvwxyz"))  # fmt: skip
    rows = [(i, *(rng.choice(values) for values in choices)) for i in range(400)]
    con = duckdb.connect()
    con.execute(f"create table records (id integer, {', '.join(f'{c} varchar' for c in columns)})")
    con.executemany("insert into records values (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("create table new as select * from records where id % 10 = 0")

    def sides(rule: str, left: str, right: str) -> str:
        return re.sub(r"\br\.", f"{right}.", re.sub(r"\bl\.", f"{left}.", rule))

    paired = " or ".join(f"({sides(r, 'k', 'n')}) or ({sides(r, 'n', 'k')})" for r in BLOCKING_RULES)
    met = {row[0] for row in con.execute(f"select k.id from records k join new n on {paired}").fetchall()}
    selected = {
        row[0] for row in con.execute(f"select id from records where {sharing_a_block('new')}").fetchall()
    }
    assert selected == met
    assert 100 < len(met) < 300, "the data meets in some blocks and not in others"


def test_splink_and_the_stage_log_into_the_run_not_onto_stderr(capsys):
    """An operator's console shows warnings that need them (in the run's summary), not Splink's
    note that a comparison level never occurred in the training pairs (stderr, before)."""
    import logging

    from splink.internals.splink_logging import enable

    from orchestration.defs.assets.linkage import LOGGERS, NOT_OBSERVED
    from orchestration.defs.resources import into_run_log

    class Recorded:
        def __init__(self):
            self.lines: list[tuple[str, str]] = []

        def info(self, message):
            self.lines.append(("info", message))

        def warning(self, message):
            self.lines.append(("warning", message))

    log = Recorded()
    splink = logging.getLogger("splink")
    before = list(splink.handlers)
    with into_run_log(log, LOGGERS, quiet=(NOT_OBSERVED,)):
        enable("WARNING")  # what every Linker does: a handler on stderr where it finds none
        logging.getLogger("splink.internals.expectation_maximisation").warning(
            "WARNING:\nLevel swapped on comparison surname_bloom not observed in dataset, unable to train m value\n"
        )
        logging.getLogger("linkage.stage").warning(
            "EM found no plausible match class: the starting m values stand"
        )
    assert log.lines == [
        (
            "info",
            "Level swapped on comparison surname_bloom not observed in dataset, unable to train m value",
        ),
        ("warning", "EM found no plausible match class: the starting m values stand"),
    ]
    assert capsys.readouterr().err == ""
    assert splink.handlers == before


def test_a_training_whose_expectation_maximisation_fails_keeps_every_comparison(
    warehouse, tmp_path, monkeypatch
):
    """Splink's EM takes the comparisons its block uses (the birth date) out of the linker's settings
    and puts them back only when it succeeds. At NRW 5 years with a few crafted records it failed
    (an m underflowing to 0), the model was stored without its birth date comparison, and the stage
    failed on it (KeyError), stopping the run: the starting m values must stand instead."""
    import splink.internals.em_training_session as em_session

    from linkage import stage

    def underflows(*args, **kwargs):
        raise ValueError("m_probability value 0.0 is below the minimum allowed value of 1e-300")

    monkeypatch.setattr(stage, "MIN_LINKS_FOR_EM", 0)  # the demo has fewer exact links than EM needs
    monkeypatch.setattr(em_session, "expectation_maximisation", underflows)
    report = link_persons(warehouse, tmp_path / "decisions.csv", SEAL_KEY, retrain=True)
    assert report.trained
    stored = warehouse.execute("select settings_json from linkage.model order by trained_at desc limit 1")
    model = json.loads(stored.fetchone()[0])
    assert "birth_date" in [c["output_column_name"] for c in model["comparisons"]]
    assert not compares_otherwise(model)


def test_no_partial_agreement_counts_for_more_than_full_agreement():
    """Estimated apart, a near-identical first name (Jonas / Jona) weighed 8.8 bits against 6.4
    for an identical one, so twins of one surname and birth date in two agencies linked more
    surely than one person spelled alike; names swapped between the fields, which no random pair
    showed, had no u (their pairs were not scored) or one of 2e-6 (+10.6 bits). Every partial
    level is now bounded by its comparison's full agreement, and the levels below stay as they are."""
    from linkage.model import usable

    def level(label, m, u=None):
        return {"label_for_charts": label, "m_probability": m, **({"u_probability": u} if u else {})}

    null = {"sql_condition": "x IS NULL", "is_null_level": True}
    levels = [level("identical", 0.93, 0.0111), level("Dice >= 0.9", 0.025, 5.5e-5),
              level("Dice >= 0.7", 0.01, 0.00106), level("swapped", 0.003), level("else", 0.032, 0.98)]  # fmt: skip
    model = {
        "comparisons": [
            {"output_column_name": "first_name_bloom", "comparison_levels": [null, *levels]},
            {"output_column_name": "source_pair", "comparison_levels": [level("a", 0.9, 0.001), level("b", 0.1, 0.999)]},
        ]
    }  # fmt: skip
    before = json.loads(json.dumps(model))
    bounded = usable(model)["comparisons"]
    weight = {
        lv["label_for_charts"]: lv["m_probability"] / lv["u_probability"]
        for lv in bounded[0]["comparison_levels"][1:]
    }
    assert weight["Dice >= 0.9"] == pytest.approx(weight["identical"])
    assert weight["swapped"] == pytest.approx(weight["identical"]), (
        "an unobserved level gets a u at the bound"
    )
    assert bounded[0]["comparison_levels"][3] == before["comparisons"][0]["comparison_levels"][3], (
        "below it: as before"
    )
    assert bounded[1] == before["comparisons"][1], "a comparison of kinds, not of agreement, is not bounded"
