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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

KEY_ENV = "TEILHABE_PSEUDONYM_KEY"
KEY_FILE_ENV = "TEILHABE_PSEUDONYM_KEY_FILE"
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def default_key_file() -> Path:
    """Outside the repository and the data home: the user's configuration folder."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "teilhabe" / "pseudonym.key"


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    source: str  # where it came from, for the run's log (never the key itself)
    created: bool = False  # a new random key was made on this run


def load_key() -> PseudonymKey:
    """The key from TEILHABE_PSEUDONYM_KEY, else from the key file; on a first run a random key is
    created in the key file (mode 600). Never a key written in the code."""
    if value := os.environ.get(KEY_ENV):
        return PseudonymKey(value.encode(), f"environment variable {KEY_ENV}")
    path = Path(os.environ.get(KEY_FILE_ENV) or default_key_file())
    if path.exists():
        return PseudonymKey(path.read_bytes().strip(), f"key file {path}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_hex(32).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret + b"\n")
    return PseudonymKey(secret, f"key file {path}", created=True)


def normalise_name(text: str) -> str:
    """NFKC, lower case, ä→ae ö→oe ü→ue ß→ss, accents removed, non a-z to blank, blanks collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z]", " ", text).split())


def _hmac(key: bytes) -> Callable[[str], str]:
    """HMAC-SHA256 with the key's pads hashed once, not once per value."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(message: str) -> str:
        mac = keyed.copy()
        mac.update(message.encode())
        return mac.hexdigest()

    return digest


def _mapped(column: pl.Expr, frame: pl.DataFrame, function: Callable[[str], str]) -> pl.Expr:
    """Apply a Python function once per distinct value of an expression, then join back."""
    values = frame.select(column.alias("_v")).unique()["_v"].drop_nulls().to_list()
    mapping = dict(zip(values, map(function, values), strict=True))
    return column.replace_strict(mapping, default=None, return_dtype=pl.String)


def person_key(frame: pl.DataFrame, key: bytes, surname: str, first_name: str, birth_iso: str) -> pl.Expr:
    """The cross-agency person key of each row (birth date given as JJJJ-MM-TT text). Names are
    normalised once per distinct name, the HMAC once per distinct person."""
    identity = pl.concat_str(
        [
            _mapped(pl.col(surname), frame, normalise_name),
            _mapped(pl.col(first_name), frame, normalise_name),
            pl.col(birth_iso),
        ],
        separator="|",
    )
    return _mapped(identity, frame, _hmac(key))


def local_key(frame: pl.DataFrame, key: bytes, sender: str | pl.Expr, identifier: str) -> pl.Expr:
    """A source-local id salted with its sender: ties spells together within one source only."""
    sender_expr = pl.lit(sender) if isinstance(sender, str) else sender
    value = pl.concat_str([sender_expr, pl.col(identifier)], separator="|")
    return _mapped(value, frame, _hmac(key))
