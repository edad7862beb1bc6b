"""Comparison encodings of a person record for linkage across agencies (spec/linkage.md §2),
computed in the reader, in memory, from the plaintext that never leaves it.

- Field-level Bloom filters of the normalised surname and first name: the name's character bigrams
  (padded with ``_`` at both ends), each mapped to ``BLOOM_HASHES`` of ``BLOOM_BITS`` positions by
  double hashing of one keyed HMAC per bigram (Schnell, Bachteler, Reiher 2009). Similar names give
  similar bit sets: the Dice coefficient of two filters estimates their bigram similarity, computed
  in SQL on DuckDB's BIT type.
- Keyed hashes of the birth date and of its day, month and year apart (a mistyped component still
  agrees in the others), each part under a function of its own; and the keyed hash of the date with
  its day and month swapped (``birth_swapped_hash``, where the day could be a month and differs
  from it), which equals the other record's date hash when one of them was typed the other way.
  A privacy review recovered every birth date from the linkage schema without the key while day
  and month shared one function and each record also carried the hashes of its one-digit
  variants: the month hashes were the day hashes of 01-12, and the variants, in their order,
  said which dates differ in which digit. What is left to a reader of this schema is in the
  docs/linkage.md ("What the linkage schema gives away").
- Keyed Kölner Phonetik codes of both names, for blocking only.
- Sex and Kreis of residence as delivered.

Every keyed function uses the subkey ``linkage`` of the pseudonym key (privacy.md §1), never the key
itself: an encoding cannot be compared with a person key. The encodings live in the schema
``linkage`` only, which the pipeline alone reads (never the analysts' copy, an extract or a log).

The name filters are stored sealed (``seal``): each record's filter XORed with a keystream of its
own, drawn from the subkey ``linkage-seal`` and the record's id, and unsealed in memory by the
linkage stage only. A privacy review decoded both names of 96 % of the records from unsealed filters
without the key, in a minute (Bloom filters give their bigrams away to graph matching against
published name lists); sealed, a filter shows nothing, not even which records share a name.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import cache

import polars as pl

from ingest import pseudonymise
from ingest.pseudonymise import keyed_hash, normalise_name, per_distinct

PURPOSE = "linkage"
BLOOM_BITS = 1000  # whole bytes: the linkage stage moves the filters as bytes (linkage/stage.py)
assert BLOOM_BITS % 8 == 0
BLOOM_HASHES = 20
HASH_HEX = 16  # 64 bits of a keyed hash: collisions are negligible at a few million values

# Kölner Phonetik (Postel 1969): letter -> code; the context rules are in _phonetic_code.
_PLAIN_CODES = {
    **dict.fromkeys("aeijouy", "0"),
    "b": "1",
    **dict.fromkeys("fvw", "3"),
    **dict.fromkeys("gkq", "4"),
    "l": "5",
    **dict.fromkeys("mn", "6"),
    "r": "7",
    **dict.fromkeys("sz", "8"),
}


def _letter_code(previous: str, letter: str, following: str, first: bool) -> str:
    """The Kölner Phonetik code of one letter in its context ("" for h and anything not a-z)."""
    if letter in _PLAIN_CODES:
        return _PLAIN_CODES[letter]
    if letter == "p":
        return "3" if following == "h" else "1"
    if letter in "dt":
        return "8" if following in ("c", "s", "z") else "2"
    if letter == "x":
        return "8" if previous in ("c", "k", "q") else "48"
    if letter == "c":
        if first:
            return "4" if following in "ahkloqrux" and following else "8"
        if previous in ("s", "z"):
            return "8"
        return "4" if following and following in "ahkoqux" else "8"
    return ""


def koelner_phonetik(name: str) -> str:
    """The Kölner Phonetik code of a normalised name (a-z and blanks; blanks are ignored, so
    ``mueller luedenscheidt`` gives 65752682)."""
    letters = name.replace(" ", "")
    raw = "".join(
        _letter_code(letters[i - 1] if i else "", letter, letters[i + 1 : i + 2], i == 0)
        for i, letter in enumerate(letters)
    )
    collapsed = "".join(code for i, code in enumerate(raw) if i == 0 or code != raw[i - 1])
    return collapsed[:1] + collapsed[1:].replace("0", "")


@cache
def _keyed(subkey: bytes, label: str) -> Callable[[str], str]:
    digest = keyed_hash(subkey, label.encode() + b"|")
    return lambda value: digest(value)[:HASH_HEX]


def _bloom_bits(name: str, subkey: bytes) -> int:
    padded = f"_{name}_"
    bits = 0
    for i in range(len(padded) - 1):
        for position in _bigram_positions(subkey, padded[i : i + 2]):
            bits |= 1 << position
    return bits


def bloom_filter(name: str, subkey: bytes) -> str:
    """The Bloom filter of a normalised name as a string of BLOOM_BITS '0'/'1' (DuckDB's BIT text),
    its readable form; the reader hands on ``bloom_bytes``."""
    return format(_bloom_bits(name, subkey), f"0{BLOOM_BITS}b")


def bloom_bytes(name: str, subkey: bytes) -> bytes:
    """The same filter as its BLOOM_BITS / 8 bytes, the first bit first (DuckDB casts them to the
    same BIT): what the reader hands on, an eighth of the text's memory."""
    return _bloom_bits(name, subkey).to_bytes(BLOOM_BITS // 8, "big")


@cache
def _bigram_positions(subkey: bytes, bigram: str) -> tuple[int, ...]:
    """BLOOM_HASHES positions of one bigram by double hashing of one keyed HMAC."""
    digest = hmac.new(subkey, b"bloom|" + bigram.encode(), hashlib.sha256).digest()
    first, second = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big") | 1
    return tuple((first + i * second) % BLOOM_BITS for i in range(BLOOM_HASHES))


SEAL_PURPOSE = "linkage-seal"


def record_ids(identity: pl.DataFrame) -> pl.Series:
    """Each person record's id, as linkage/stage.py computes it in SQL (RECORD_ID): the md5 of its
    source table, local key and person key."""
    joined = identity.select(pl.concat_str("source_table", "local_key", "person_key", separator="|"))
    return pl.Series(
        [hashlib.md5(text.encode(), usedforsecurity=False).hexdigest() for text in joined.to_series()],
        dtype=pl.String,
    )


def seal(filters: pl.Series, record_ids: pl.Series, seal_key: bytes, field: str) -> pl.Series:
    """Each record's filter XORed with a keystream of its own (SHAKE-256 of the key, the field and
    the record's id): sealing and unsealing are the same operation. A null filter stays null."""
    size = BLOOM_BITS // 8
    prefix = seal_key + b"|" + field.encode() + b"|"

    def sealed(value: bytes | None, record: str) -> bytes | None:
        if value is None:
            return None
        stream = hashlib.shake_256(prefix + record.encode()).digest(size)
        return (int.from_bytes(value, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")

    return pl.Series(
        filters.name,
        [sealed(v, r) for v, r in zip(filters.to_list(), record_ids.to_list(), strict=True)],
        dtype=pl.Binary,
    )


def forget_values() -> None:
    """Drop every value remembered across chunks (names, birth dates) with its hashes."""
    _keyed.cache_clear()
    pseudonymise.forget_values()


def encode(frame: pl.DataFrame, subkey: bytes, surname: str, first_name: str, birth_iso: str) -> pl.DataFrame:
    """The encodings of each row's person (birth date as JJJJ-MM-TT text); plaintext columns are
    read here and returned in no form but these. Every function runs once per distinct value."""
    names = frame.select(
        # a name with no letters left is missing (null: no evidence), not a name that differs
        per_distinct(pl.col(name), frame, normalise_name).replace("", None).alias(alias)
        for name, alias in ((surname, "surname"), (first_name, "first_name"))
    ).with_columns(frame[birth_iso].alias("birth"))
    phonetic, date = _keyed(subkey, "phonetic"), _keyed(subkey, "date")

    def bloom(name: str) -> bytes:
        return bloom_bytes(name, subkey)

    def code(name: str) -> str:
        return phonetic(koelner_phonetik(name))

    def swapped(iso_date: str) -> str | None:
        year, month, day = iso_date[:4], iso_date[5:7], iso_date[8:10]
        return date(f"{year}-{day}-{month}") if "01" <= day <= "12" and day != month else None

    surname_, first_, birth = pl.col("surname"), pl.col("first_name"), pl.col("birth")
    return names.select(
        per_distinct(surname_, names, bloom, pl.Binary).alias("surname_bloom"),
        per_distinct(first_, names, bloom, pl.Binary).alias("first_name_bloom"),
        per_distinct(surname_, names, code).alias("surname_phonetic"),
        per_distinct(first_, names, code).alias("first_name_phonetic"),
        per_distinct(birth, names, date).alias("birth_date_hash"),
        per_distinct(birth.str.slice(8, 2), names, _keyed(subkey, "day")).alias("birth_day_hash"),
        per_distinct(birth.str.slice(5, 2), names, _keyed(subkey, "month")).alias("birth_month_hash"),
        per_distinct(birth.str.slice(0, 4), names, _keyed(subkey, "year")).alias("birth_year_hash"),
        per_distinct(birth, names, swapped).alias("birth_swapped_hash"),
    )
