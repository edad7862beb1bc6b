"""Comparison encodings at the door (spec/linkage.md §2): Kölner Phonetik as published, Bloom
filters whose Dice similarity follows the names' similarity (in Python and in DuckDB's SQL alike),
keyed with a subkey, and stored only in the pipeline's own schema."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from ingest.encodings import BLOOM_BITS, bloom_bytes, bloom_filter, encode, koelner_phonetik
from ingest.pseudonymise import normalise_name, subkey

SECRET = b"test-only-pseudonym-key, never a real secret"
SUBKEY = subkey(SECRET, "linkage")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Müller-Lüdenscheidt", "65752682"),  # the examples of Postel's description and Wikipedia
        ("Wikipedia", "3412"),
        ("Breschnew", "17863"),
        ("Meier", "67"),
        ("Maier", "67"),
        ("Mayr", "67"),
        ("Xaver", "4837"),
    ],
)
def test_koelner_phonetik_gives_the_published_codes(name, code):
    assert koelner_phonetik(normalise_name(name)) == code


def _dice(a: str, b: str) -> float:
    x, y = int(a, 2), int(b, 2)
    return 2 * (x & y).bit_count() / (x.bit_count() + y.bit_count())


def test_bloom_filters_are_as_similar_as_the_names():
    def bloom(name: str) -> str:
        return bloom_filter(normalise_name(name), SUBKEY)

    assert len(bloom("Hoffmann")) == BLOOM_BITS and set(bloom("Hoffmann")) == {"0", "1"}
    assert bloom("Müller") == bloom("MUELLER"), "normalised before encoding"

    def bigram_dice(a: str, b: str) -> float:
        grams = [{f"_{n}_"[i : i + 2] for i in range(len(n) + 1)} for n in map(normalise_name, (a, b))]
        return 2 * len(grams[0] & grams[1]) / (len(grams[0]) + len(grams[1]))

    # The filters' Dice estimates the names' bigram Dice, a little above it where few bigrams are
    # shared (unrelated names still meet in some of their ~20 % set bits).
    pairs = [("Hofmann", "Hoffmann"), ("Meier", "Maier"), ("Hans-Peter", "Hans"), ("Müller", "Schmidt"),
             ("Anna", "Thomas"), ("Mohammed", "Muhammad"), ("Schneider", "Schnieder")]  # fmt: skip
    for a, b in pairs:
        assert _dice(bloom(a), bloom(b)) == pytest.approx(bigram_dice(a, b), abs=0.15), (a, b)
    assert _dice(bloom("Hofmann"), bloom("Hoffmann")) > 0.9
    assert _dice(bloom("Müller"), bloom("Schmidt")) < 0.2
    other_key = bloom_filter(
        normalise_name("Hoffmann"), subkey(b"another key of thirty-two bytes or more", "linkage")
    )
    assert _dice(other_key, bloom("Hoffmann")) < 0.5, "the positions depend on the key"


def test_dice_in_sql_equals_dice_in_python():
    names = ["Hofmann", "Hoffmann", "Meier", "Maier", "Schmidt"]
    filters = [bloom_filter(normalise_name(n), SUBKEY) for n in names]
    con = duckdb.connect()
    con.register("f", pl.DataFrame({"name": names, "bits": filters}).to_arrow())
    rows = con.execute(
        """
        select a.name, b.name,
               2 * bit_count(a.bits::bit & b.bits::bit) / (bit_count(a.bits::bit) + bit_count(b.bits::bit))
        from f as a cross join f as b
        """
    ).fetchall()
    by_name = dict(zip(names, filters, strict=True))
    for a, b, dice in rows:
        assert dice == pytest.approx(_dice(by_name[a], by_name[b]))


def test_encodings_hold_no_plaintext_and_are_keyed():
    frame = pl.DataFrame(
        {"nachname": ["Müller", "Mueller", "Yılmaz"], "vorname": ["Anna", "Anna", "Ali"],
         "geb": ["1980-02-03", "1980-03-02", "1975-12-24"]}
    )  # fmt: skip
    encoded = encode(frame, SUBKEY, "nachname", "vorname", "geb")
    assert encoded.columns == [
        "surname_bloom", "first_name_bloom", "surname_phonetic", "first_name_phonetic",
        "birth_date_hash", "birth_day_hash", "birth_month_hash", "birth_year_hash", "birth_swapped_hash",
    ]  # fmt: skip
    row = encoded.row(0, named=True)
    plaintext = {"müller", "mueller", "anna", "1980-02-03", "1980", "02", "03", "65", "06"}
    values = {
        str(item).lower()
        for row_values in encoded.iter_rows()
        for value in row_values
        for item in (value if isinstance(value, list) else [value])
    }
    assert not plaintext & values
    assert row["surname_bloom"] == encoded["surname_bloom"][1], "Müller and Mueller encode alike"
    # A swapped day and month: the date differs, its year agrees, and each record's swapped date
    # is the other's date; a day's hash is never the hash of the month of that number.
    swapped = encoded.row(1, named=True)
    assert row["birth_date_hash"] != swapped["birth_date_hash"]
    assert row["birth_year_hash"] == swapped["birth_year_hash"]
    assert row["birth_swapped_hash"] == swapped["birth_date_hash"]
    assert swapped["birth_swapped_hash"] == row["birth_date_hash"]
    assert row["birth_day_hash"] != swapped["birth_month_hash"]
    again = encode(
        frame, subkey(b"another key of thirty-two bytes or more", "linkage"), "nachname", "vorname", "geb"
    )
    assert again["birth_date_hash"][0] != row["birth_date_hash"], "every hash is keyed"


@pytest.mark.parametrize(
    ("other", "surname", "first_name"),
    [
        (("Werner", "Schmidt"), "swapped with the other name", "swapped with the other name"),  # a swap
        (("Wernr", "Schmidt"), "swapped with the other name", "swapped with the other name"),  # and a typo
        # a name that is a surname in one record and a first name in the other: no swap
        (("Hans", "Schmidt"), "differs", "differs"),
        (("Werner", "Meier"), "differs", "differs"),
    ],
)
def test_names_count_as_swapped_only_when_both_moved(other, surname, first_name):
    """Surnames that are also first names (Werner, Otto, Peters/Peter) must not pass for a swap:
    one name shared crosswise linked strangers born on one day (9 of 25 wrong links at NRW scale)."""
    from linkage.model import agreement_sql, prepared

    frame = pl.DataFrame(
        {"nachname": ["Schmidt", other[0]], "vorname": ["Werner", other[1]], "geb": ["1985-03-12"] * 2}
    )
    con = duckdb.connect()
    con.register("_encoded", encode(frame, SUBKEY, "nachname", "vorname", "geb").to_arrow())
    con.execute(f"create table records as {prepared('_encoded')}")
    columns = con.sql("select * from records").columns
    pair = ", ".join(f'l."{c}" as "{c}_l", r."{c}" as "{c}_r"' for c in columns)
    agreement = agreement_sql()
    levels = con.execute(
        f"select {agreement['surname']}, {agreement['first_name']} from (select {pair} "
        "from (select * from records limit 1) l, (select * from records offset 1) r)"
    ).fetchone()
    assert levels == (surname, first_name)


@pytest.mark.parametrize(
    ("other", "level"),
    [
        ("1985-03-12", "exact"),
        ("1985-12-03", "day and month swapped"),
        ("1985-03-13", "two of three parts agree"),  # a mistyped day
        ("1958-03-12", "two of three parts agree"),  # a mistyped year
        ("1985-04-13", "differs"),
        ("1958-12-03", "differs"),  # swapped, and another year
    ],
)
def test_the_birth_dates_agree_by_their_keyed_parts(other, level):
    from linkage.model import agreement_sql, prepared

    frame = pl.DataFrame(
        {"nachname": ["Meier", "Meier"], "vorname": ["Jan", "Jan"], "geb": ["1985-03-12", other]}
    )
    con = duckdb.connect()
    con.register("_encoded", encode(frame, SUBKEY, "nachname", "vorname", "geb").to_arrow())
    con.execute(f"create table records as {prepared('_encoded')}")
    pair = ", ".join(
        f'l."{c}" as "{c}_l", r."{c}" as "{c}_r"' for c in con.sql("select * from records").columns
    )
    [agreed] = con.execute(
        f"select {agreement_sql()['birth_date']} from (select {pair} "
        "from (select * from records limit 1) l, (select * from records offset 1) r)"
    ).fetchone()
    assert agreed == level


def test_the_date_hashes_do_not_tell_which_day_is_which_month():
    """A privacy review recovered every birth date from the linkage schema without the key: the
    month hashes were the day hashes of 01-12 (one keyed function for both), and each record's
    hashes of its one-digit variants, in order, said which dates differ in which digit. Now no
    value of one part's column is a value of another's, a record carries no variant of its date,
    and only a date whose day could be a month, other than its own, has a swapped hash."""
    dates = [f"1980-{month:02d}-{day:02d}" for month in range(1, 13) for day in range(1, 29)]
    frame = pl.DataFrame({"nachname": ["Meier"] * len(dates), "vorname": ["Jan"] * len(dates), "geb": dates})
    encoded = encode(frame, SUBKEY, "nachname", "vorname", "geb")
    parts = ("birth_day_hash", "birth_month_hash", "birth_year_hash", "birth_date_hash")
    values = {part: set(encoded[part]) for part in parts}
    assert all(not values[a] & values[b] for a in parts for b in parts if a < b)
    assert len(values["birth_day_hash"]) == 28 and len(values["birth_month_hash"]) == 12
    has_swap = [d[8:] <= "12" and d[8:] != d[5:7] for d in dates]
    assert encoded["birth_swapped_hash"].is_not_null().to_list() == has_swap
    assert not [c for c in encoded.columns if encoded.schema[c] == pl.List]


def test_the_warehouse_keeps_encodings_of_every_person_record_apart(demo_home):
    """Every source's person records are encoded in the schema `linkage`; the analysts' copy does
    not have it."""
    root = demo_home["root"]
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        counts = dict(
            con.execute("select source_table, count(*) from linkage.person_records group by 1").fetchall()
        )
        persons = con.execute(
            "select count(distinct person_local_key) from landing.wfbm_personen"
        ).fetchone()[0]
    assert set(counts) == {"wfbm_personen", "jc_kunden", "lv_budget_fuer_arbeit"}
    assert counts["wfbm_personen"] >= persons, "each workshop person at least once"
    with duckdb.connect(str(root / "analysts" / "teilhabe.duckdb"), read_only=True) as copy:
        schemas = {row[0] for row in copy.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert "linkage" not in schemas


def test_the_filters_bytes_are_the_same_bits_in_duckdb():
    """The reader hands the filters on as bytes (an eighth of their text); DuckDB must read them as
    the same BIT, first bit first, and the linkage stage moves them back and forth as bytes."""
    names = ["hoffmann", "anna", "yilmaz", "x"]
    con = duckdb.connect()
    for name in names:
        text, raw = bloom_filter(name, SUBKEY), bloom_bytes(name, SUBKEY)
        assert len(raw) * 8 == BLOOM_BITS
        same, round_trip = con.execute(
            "select ?::bit = ?::blob::bit, ?::bit::blob", [text, raw, text]
        ).fetchone()
        assert same, name
        assert round_trip == raw, name


def test_a_name_without_letters_is_missing_to_the_linkage_and_stops_no_ingest():
    """A surname "1234" normalises to nothing: its filter is null (no evidence), and the person
    records take it, also in a warehouse whose table required both filters before."""
    from ingest.ops_tables import LINKAGE_DDL

    frame = pl.DataFrame({"nachname": ["1234"], "vorname": ["Anna"], "geb": ["1980-02-03"]})
    encoded = encode(frame, SUBKEY, "nachname", "vorname", "geb")
    assert encoded["surname_bloom"][0] is None and encoded["first_name_bloom"][0] is not None
    con = duckdb.connect()
    con.execute(
        "create schema linkage; create table linkage.person_records (source_table varchar not null, "
        "sender varchar not null, local_key varchar not null, person_key varchar not null, sex varchar, "
        "kreisschluessel varchar, first_delivery_id bigint not null, surname_bloom bit not null, "
        "first_name_bloom bit not null, surname_phonetic varchar, first_name_phonetic varchar, "
        "birth_date_hash varchar, birth_day_hash varchar, birth_month_hash varchar, birth_year_hash varchar, "
        "primary key (source_table, local_key, person_key))"
    )  # the table as warehouses before 2026-12-04 have it
    con.execute(LINKAGE_DDL)
    records = encoded.with_columns(
        pl.lit("wfbm_personen").alias("source_table"), pl.lit("LWL-0105").alias("sender"),
        pl.lit("k").alias("local_key"), pl.lit("p").alias("person_key"), pl.lit(1).alias("first_delivery_id"),
    )  # fmt: skip
    con.register("_records", records.to_arrow())
    con.execute("insert into linkage.person_records by name select * from _records")
    assert con.execute(
        "select count(*) from linkage.person_records where surname_bloom is null"
    ).fetchone() == (1,)


def test_a_warehouse_with_encodings_of_the_older_kind_is_refused_until_rebuilt(tmp_path):
    """Person records encoded the old way (day and month under one function, one-digit variants)
    never compare with new ones, and they are what let a reader recover birth dates: such a
    warehouse is refused with the way out (a rebuild from the archive); one without person records
    is simply marked as of the current kind."""
    from ingest.ops_tables import LINKAGE_ENCODINGS, check_key, prepare
    from ingest.pseudonymise import KeyProblem, PseudonymKey

    key = PseudonymKey(b"k" * 32, "test")
    for holds_records in (False, True):
        con = duckdb.connect(str(tmp_path / f"w{holds_records}.duckdb"))
        con.execute("create schema ops; create table ops.pseudonym_key (fingerprint varchar not null, "
                    "first_used_at timestamp not null)")  # fmt: skip
        con.execute("insert into ops.pseudonym_key values (?, now())", [key.fingerprint])
        prepare(con)
        if holds_records:
            con.execute(
                "insert into linkage.person_records (source_table, sender, local_key, person_key, "
                "first_delivery_id) values ('jc_kunden', '05914', 'k', 'p', 1)"
            )
            with pytest.raises(KeyProblem, match=r"older kind.*teilhabe rebuild"):
                check_key(con, key)
        else:
            check_key(con, key)
            assert con.execute("select linkage_encodings from ops.pseudonym_key").fetchone() == (
                LINKAGE_ENCODINGS,
            )
        con.close()


def test_the_stored_name_filters_are_sealed_per_record():
    """A privacy review decoded both names of 96 % of the records from the stored Bloom filters
    without the key (graph matching against published name lists). Stored, each record's filter is
    sealed with a keystream of its own: two records of one name show different bytes, neither is
    the filter, and the linkage stage's unsealing gives the filter back."""
    from ingest.encodings import SEAL_PURPOSE, bloom_bytes, normalise_name, record_ids, seal
    from ingest.landing import linkage_frame
    from ingest.pseudonymise import subkey
    from linkage.stage import unsealed

    key = b"k" * 32
    frame = pl.DataFrame({
        "sender": ["05914", "05914"], "delivery_id": [1, 1], "_key kundennummer": ["a", "b"], "_person_key": ["p1", "p2"],
        "geschlecht": ["M", "M"], "nachname": ["Meier", "Meier"], "vorname": ["Jan", "Jan"],
        "_birth_iso": ["1985-03-12", "1985-03-12"],
    })  # fmt: skip
    records = linkage_frame("jc_kunden", frame, key, lambda candidates: candidates)
    plain = bloom_bytes(normalise_name("Meier"), subkey(key, "linkage"))
    stored = records["surname_bloom"].to_list()
    assert stored[0] != stored[1] and plain not in stored
    ids = record_ids(records)
    assert seal(records["surname_bloom"], ids, subkey(key, "other"), "surname_bloom").to_list() != [plain] * 2
    opened = unsealed(records.with_columns(ids.alias("unique_id")), subkey(key, SEAL_PURPOSE))
    assert opened["surname_bloom"].to_list() == [plain, plain]
    assert opened["first_name_bloom"].to_list() == [bloom_bytes("jan", subkey(key, "linkage"))] * 2
