"""Pseudonyms at the door (privacy.md §1): names, birth dates and source ids are replaced in memory,
before anything is written outside the raw archive.

- person key: HMAC-SHA256(key, "<nachname>|<vorname>|<JJJJ-MM-TT>") over normalised names;
- source-local ids (Personennummer, Kundennummer, Aktenzeichen): HMAC-SHA256(key, "<sender>|<id>");
- the birth date becomes the year of birth.

HMACs are computed once per distinct value (a person appears in every monthly snapshot), the
rest is vectorised.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

# German letters as the agencies' names and headers spell them without umlauts (Müller = Mueller):
# person keys, column names (ingest/landing.py). The employer key (kpis.md) does the same in SQL (macros/employer_key.sql).
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})

MIN_KEY_BYTES = 32  # privacy.md §1
FINGERPRINT_MESSAGE = b"teilhabe/pseudonym-key/fingerprint/v1"


class KeyProblem(ValueError):
    """The pseudonym key cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    source: str  # where it came from, for the run's log (never the key itself)
    created: bool = False  # a new random key was made on this run

    @property
    def fingerprint(self) -> str:
        """A keyed hash of a constant: tells two keys apart without revealing either."""
        return hmac.new(self.secret, FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:16]

    def subkey(self, purpose: str) -> bytes:
        """A key of its own for one purpose (e.g. linkage encodings), derived from this one."""
        return subkey(self.secret, purpose)


def subkey(secret: bytes, purpose: str) -> bytes:
    """The key for one purpose, derived from the pseudonym key (privacy.md §1: one per purpose)."""
    return hmac.new(secret, f"teilhabe/subkey/{purpose}".encode(), hashlib.sha256).digest()


def _usable(secret: bytes, source: str) -> bytes:
    if len(secret) < MIN_KEY_BYTES:
        raise KeyProblem(
            f"the pseudonym key from {source} has {len(secret)} bytes; a key needs at least "
            f"{MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)"
        )
    return secret


def load_key(secret: bytes | None, path: Path, warehouse: Path | None = None) -> PseudonymKey:
    """The key given (Settings.pseudonym_key, from TEILHABE_PSEUDONYM_KEY), else the key file's;
    on a first run a random key is created in the key file (mode 600). Never a key written in the
    code. A short or empty key, or a key file that group or others can read, is refused
    (KeyProblem) before anything is read; so is a missing key where ``warehouse`` exists: a random
    one made then was refused as "another key" and invited a rebuild under it (an operator's
    review)."""
    if secret is not None:
        source = "environment variable TEILHABE_PSEUDONYM_KEY"
        return PseudonymKey(_usable(secret, source), source)
    if path.exists():
        mode = path.stat().st_mode
        if mode & 0o077:
            raise KeyProblem(
                f"the key file {path} can be read by {'others' if mode & 0o007 else 'its group'} "
                f"(mode {stat.S_IMODE(mode):o}): `chmod 600 {path}`"
            )
        source = f"key file {path}"
        return PseudonymKey(_usable(path.read_bytes().strip(), source), source)
    if warehouse is not None and warehouse.exists():
        raise KeyProblem(
            f"TEILHABE_PSEUDONYM_KEY is not set and the key file {path} does not exist, but the warehouse "
            f"{warehouse} was built with a key: set TEILHABE_PSEUDONYM_KEY (or TEILHABE_PSEUDONYM_KEY_FILE) "
            "to that key; no new key was made"
        )
    return _create_key(path)


def _create_key(path: Path) -> PseudonymKey:
    """A new random key, written so that no empty or partial key file can ever exist: a private
    temporary file, synced, then linked to its name (a key another process made first wins)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_hex(32).encode()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secret + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return load_key(None, path)
    finally:
        os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return PseudonymKey(secret, f"key file {path}", created=True)


@lru_cache(maxsize=1 << 16)
def normalise_name(text: str) -> str:
    """NFKC, lower case, ä→ae ö→oe ü→ue ß→ss, accents removed, non a-z to blank, blanks collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(UMLAUTS)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z]", " ", text).split())


def keyed_hash(key: bytes, prefix: bytes = b"") -> Callable[[str], str]:
    """HMAC-SHA256 of ``prefix + message`` as hex (RFC 2104, the same digest as ``hmac.new``), with
    both padded keys hashed once: per value two copies and two updates in C, half of what
    ``hmac``'s Python wrapper costs (a run at NRW scale hashes millions of values)."""
    block = hashlib.sha256().block_size
    key = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(message: str) -> str:
        mac = inner.copy()
        mac.update(message.encode())
        result = outer.copy()
        result.update(mac.digest())
        return result.hexdigest()

    return digest


@lru_cache(maxsize=16)
def _hmac(key: bytes) -> Callable[[str], str]:
    """A key's hash, remembered for the values of the run (a person recurs in every monthly file,
    so in every chunk); ``forget_values`` ends that at the end of ingest."""
    return lru_cache(maxsize=1 << 19)(keyed_hash(key))


def forget_values() -> None:
    """Drop the remembered values (identifying text) and their hashes: called when ingest ends,
    so that no plaintext outlives the run in a long-lived process."""
    _hmac.cache_clear()
    normalise_name.cache_clear()


def per_distinct(
    column: pl.Expr,
    frame: pl.DataFrame,
    function: Callable[[str], str | bytes],
    dtype: pl.DataType = pl.String,
) -> pl.Expr:
    """Apply a Python function once per distinct value of an expression, then join back (old and
    new values as two Series: a dict of a few hundred thousand values costs more to convert than
    the hashing); ``dtype``: the function's results' type."""
    values = frame.select(column.alias("_v")).to_series().drop_nulls().unique()
    results = pl.Series(list(map(function, values.to_list())), dtype=dtype)
    return column.replace_strict(values, results, default=None, return_dtype=dtype)


def person_key(frame: pl.DataFrame, key: bytes, surname: str, first_name: str, birth_iso: str) -> pl.Expr:
    """The cross-agency person key of each row (birth date given as JJJJ-MM-TT text). Names are
    normalised once per distinct name, the HMAC once per distinct person."""
    identity = pl.concat_str(
        [
            per_distinct(pl.col(surname), frame, normalise_name),
            per_distinct(pl.col(first_name), frame, normalise_name),
            pl.col(birth_iso),
        ],
        separator="|",
    )
    return per_distinct(identity, frame, _hmac(key))


def local_key(frame: pl.DataFrame, key: bytes, sender: str | pl.Expr, identifier: str) -> pl.Expr:
    """A source-local id salted with its sender: ties spells together within one source only."""
    sender_expr = pl.lit(sender) if isinstance(sender, str) else sender
    value = pl.concat_str([sender_expr, pl.col(identifier)], separator="|")
    return per_distinct(value, frame, _hmac(key))
