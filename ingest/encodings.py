"""Comparison encodings of a person record for linkage across agencies (spec/linkage.md §2),
computed in the reader, in memory, from the plaintext that never leaves it.

- Field-level Bloom filters of the normalised surname and first name: the name's character bigrams
  (padded with ``_`` at both ends), each mapped to ``BLOOM_HASHES`` of ``BLOOM_BITS`` positions by
  double hashing of one keyed HMAC per bigram (Schnell, Bachteler, Reiher 2009). Similar names give
  similar bit sets: the Dice coefficient of two filters estimates their bigram similarity, computed
  in SQL on DuckDB's BIT type.
- Keyed hashes of the birth date and of its day, month and year apart (a swapped day and month, or
  one mistyped component, still agree in the others). Day and month share one keyed function, so a
  swap shows as one record's day equal to the other's month.
- Keyed hashes of the date's near variants (``birth_near_hashes``): two dates share one exactly
  when they differ in one digit by a neighbouring key of the number row (``1985`` / ``1986``,
  ``09`` / ``00``) or in two neighbouring digits swapped (``12`` / ``21``). A typed date is far more
  often wrong in this way than a random pair of dates is near, so such a pair is strong evidence
  where "two of three parts agree" is weak (any two people born in the same month of one year).
- Keyed Kölner Phonetik codes of both names, for blocking only.
- Sex and Kreis of residence as delivered.

Every keyed function uses the subkey ``linkage`` of the pseudonym key (privacy.md §1), never the key
itself: an encoding cannot be compared with a person key. The encodings live in the schema
``linkage`` only, which the pipeline alone reads (never the analysts' copy, an extract or a log).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import cache, lru_cache, partial

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


# The number row pairs each digit with its neighbours (1-2, ..., 8-9, 9-0, and 0-1 as numbers):
# a digit's bucket in two pairings, so that two neighbouring digits share a bucket in exactly one.
_NEAR_PAIRINGS = ({d: d // 2 for d in range(10)}, {d: ((d + 1) % 10) // 2 for d in range(10)})
NEAR_HEX = 12


def near_variants(iso_date: str) -> list[str]:
    """The variants of a date (JJJJ-MM-TT) that a near date shares: per digit position and pairing,
    the date with that digit replaced by its bucket; per pair of neighbouring digits, the date with
    the two sorted. Each variant names its position and kind, so that variants never coincide across
    positions."""
    digits = iso_date.replace("-", "")
    variants = [
        f"{position}{kind}{digits[:position]}{pairing[int(digits[position])]}{digits[position + 1 :]}"
        for position in range(len(digits))
        for kind, pairing in zip("ab", _NEAR_PAIRINGS, strict=True)
    ]
    variants += [
        f"{position}s{digits[:position]}{''.join(sorted(digits[position : position + 2]))}{digits[position + 2 :]}"
        for position in range(len(digits) - 1)
    ]
    return variants


@lru_cache(
    maxsize=1 << 17
)  # every birth date of a region (~25,000): each computed once per run, not per chunk
def _near_hashes(subkey: bytes, iso_date: str) -> str:
    """The keyed near variants of a date, blank-separated (split into a list by ``encode``)."""
    keyed = _keyed(subkey, "near")
    return " ".join(keyed(variant)[:NEAR_HEX] for variant in near_variants(iso_date))


def forget_values() -> None:
    """Drop every value remembered across chunks (names, birth dates) with its hashes."""
    _near_hashes.cache_clear()
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
    phonetic, day_or_month = _keyed(subkey, "phonetic"), _keyed(subkey, "day_or_month")

    def bloom(name: str) -> bytes:
        return bloom_bytes(name, subkey)

    def code(name: str) -> str:
        return phonetic(koelner_phonetik(name))

    surname_, first_, birth = pl.col("surname"), pl.col("first_name"), pl.col("birth")
    return names.select(
        per_distinct(surname_, names, bloom, pl.Binary).alias("surname_bloom"),
        per_distinct(first_, names, bloom, pl.Binary).alias("first_name_bloom"),
        per_distinct(surname_, names, code).alias("surname_phonetic"),
        per_distinct(first_, names, code).alias("first_name_phonetic"),
        per_distinct(birth, names, _keyed(subkey, "date")).alias("birth_date_hash"),
        per_distinct(birth.str.slice(8, 2), names, day_or_month).alias("birth_day_hash"),
        per_distinct(birth.str.slice(5, 2), names, day_or_month).alias("birth_month_hash"),
        per_distinct(birth.str.slice(0, 4), names, _keyed(subkey, "year")).alias("birth_year_hash"),
        per_distinct(birth, names, partial(_near_hashes, subkey)).str.split(" ").alias("birth_near_hashes"),
    )
