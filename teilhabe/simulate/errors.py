"""How an agency gets a person wrong (spec/linkage.md §1): a typing error, a shortened double name, a
name changed by marriage, another transliteration, a birth date with day and month swapped or one
part mistyped. Unlike the spelling styles of names.spell, none of these is removed by normalisation.

At most one error per person and agency source, drawn from a keyed hash of (seed, source, person):
an agency keeps its (mis)spelling of a person month after month, and only the few erroneous records
are handled one by one. Every result stays valid for the source contracts: a name of letters (and the
hyphens it had), encodable in Windows-1252, and a real date of birth in the past (a year one off at
most, so no adult becomes a child).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from teilhabe.simulate.calendar import day, to_date
from teilhabe.simulate.names import SURNAMES, TRANSLITERATIONS, normalise_name

# Error kinds, as name_errors.csv names them, and how often each is chosen where it can occur (a
# transliteration only for a name that has one, a swapped day and month only when both are <= 12...).
ERROR_WEIGHTS = {
    "typo": 0.22,  # a neighbouring key on a German (QWERTZ) keyboard
    "letter_dropped": 0.12,  # Hoffmann -> Hofmann
    "letter_doubled": 0.10,  # Hofmann -> Hoffmann
    "ei_ai": 0.08,  # Meier -> Maier, Meyer -> Mayer
    "dt_tt": 0.06,  # Schmidt -> Schmitt, Brandt -> Brant
    "ph_f": 0.06,  # Christoph -> Christof, Stefan -> Stephan
    "double_name": 0.10,  # Hans-Peter -> Hans or Hanspeter, Müller-Lüdenscheidt -> Müller
    "married_name": 0.30,  # a woman's surname after marriage, in one source only
    "transliteration": 0.12,  # Mohammed -> Muhammad, Aleksandr -> Alexander
    "day_month_swapped": 0.06,  # 04.11.1985 -> 11.04.1985
    "date_mistyped": 0.10,  # a day one off, or the year's last digit one off
}
ERROR_KINDS = tuple(ERROR_WEIGHTS)
# Always possible for a name of four letters or more: the last resort of every other kind.
_FALLBACK = "letter_doubled"

_QWERTZ = ("qwertzuiopü", "asdfghjklöä", "yxcvbnm")


def _neighbours() -> dict[str, str]:
    """Each letter's neighbours on a German keyboard (each row half a key right of the one above)."""
    out = {}
    for r, row in enumerate(_QWERTZ):
        for c, key in enumerate(row):
            near = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
            out[key] = "".join(_QWERTZ[i][j] for i, j in near if 0 <= i < 3 and 0 <= j < len(_QWERTZ[i]))
    return out


NEIGHBOURS = _neighbours()
_VOWELS = set("aeiouäöü")
_F_TO_PH = {"Stefan": "Stephan", "Josef": "Joseph", "Christof": "Christoph"}

# Salts of the keyed hash: one stream per source, and the source where a marriage shows.
SOURCE_SALT = {"wfbm": 101, "jc": 102, "lv": 103}
_MARRIED_SALT = 199


@dataclass(frozen=True)
class Misspelt:
    nachname: str
    vorname: str
    geburtsdatum: int  # day number
    error: str
    field: str  # nachname | vorname | geburtsdatum


# --- the keyed hash: uniform numbers per (seed, salt, stream, person) --------------------------------

_M64 = (1 << 64) - 1


def _mix_int(x: int) -> int:
    """splitmix64's finaliser on a Python int."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps around)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(ids: np.ndarray, seed: int, salt: int, stream: int = 0) -> np.ndarray:
    """A uniform number in [0, 1) per id, fixed by (seed, salt, stream) and independent across them."""
    key = np.uint64(_mix_int(_mix_int(_mix_int(seed & _M64) ^ salt) ^ stream))
    h = _mix(np.asarray(ids).astype(np.uint64) ^ key)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


# --- single errors: each returns the changed text, or None where it cannot occur ----------------------


def _pick(options: list, u: float):
    return options[min(int(u * len(options)), len(options) - 1)]


def _inner_letters(name: str) -> list[int]:
    """Positions of letters that do not begin a name part (the first letter is rarely mistyped)."""
    return [i for i in range(1, len(name)) if name[i].isalpha() and name[i - 1].isalpha()]


def typo(name: str, u: float, v: float) -> str | None:
    positions = [i for i in _inner_letters(name) if name[i].lower() in NEIGHBOURS]
    if not positions:
        return None
    i = _pick(positions, u)
    key = _pick(NEIGHBOURS[name[i].lower()], v)
    return name[:i] + (key.upper() if name[i].isupper() else key) + name[i + 1 :]


def letter_dropped(name: str, u: float, v: float) -> str | None:
    if sum(ch.isalpha() for ch in name) < 4:
        return None
    inner = _inner_letters(name)
    doubled = [i for i in inner if name[i] == name[i - 1]]
    positions = doubled if doubled and v < 0.7 else inner
    # No name part shorter than two letters afterwards.
    positions = [i for i in positions if min(len(p) for p in (name[:i] + name[i + 1 :]).split("-")) >= 2]
    if not positions:
        return None
    i = _pick(positions, u)
    return name[:i] + name[i + 1 :]


def letter_doubled(name: str, u: float, v: float) -> str | None:
    inner = [
        i
        for i in _inner_letters(name)
        if name[i] != "ß" and name[i] != name[i - 1] and (i + 1 == len(name) or name[i + 1] != name[i])
    ]
    # Mostly a consonant after a vowel (Hofmann -> Hoffmann), sometimes any letter (Nikklas).
    after_vowel = [
        i
        for i in inner
        if name[i].lower() not in _VOWELS and name[i - 1].lower() in _VOWELS and i + 1 < len(name)
    ]
    positions = after_vowel if after_vowel and v < 0.8 else inner
    if not positions:
        return None
    i = _pick(positions, u)
    return name[: i + 1] + name[i] + name[i + 1 :]


def ei_ai(name: str, u: float) -> str | None:
    swap = {"ei": "ai", "ai": "ei", "ey": "ay", "ay": "ey"}
    positions = [i for i in range(1, len(name) - 1) if name[i : i + 2] in swap]
    if not positions:
        return None
    i = _pick(positions, u)
    return name[:i] + swap[name[i : i + 2]] + name[i + 2 :]


def dt_tt(name: str) -> str | None:
    """Schmidt -> Schmitt (after a vowel), Brandt -> Brant (after a consonant), Schmitt -> Schmidt."""
    i = name.find("dt", 1)
    if i > 0:
        return name[:i] + ("tt" if name[i - 1].lower() in _VOWELS else "t") + name[i + 2 :]
    if name.endswith("tt") and len(name) > 3:
        return name[:-2] + "dt"
    return None


def ph_f(name: str) -> str | None:
    if name in _F_TO_PH:
        return _F_TO_PH[name]
    i = name.find("ph", 1)
    return name[:i] + "f" + name[i + 2 :] if i > 0 else None


def double_name(name: str, u: float) -> str | None:
    """Hans-Peter -> Hans (or, for a first name, Hanspeter); Müller-Lüdenscheidt -> Müller or Lüdenscheidt."""
    if "-" not in name:
        return None
    first, second = name.split("-", 1)
    if u < 0.65:
        return first
    return second if u < 0.85 else first + second.lower()


def married_name(surname: str, u: float) -> str:
    start = int(u * len(SURNAMES))
    own = set(normalise_name(surname).split())
    for k in range(len(SURNAMES)):
        other = SURNAMES[(start + k) % len(SURNAMES)]
        if own.isdisjoint(normalise_name(other).split()):
            return other
    raise AssertionError("the surname list has a name unlike any other")


def transliteration(name: str, u: float) -> str | None:
    variants = TRANSLITERATIONS.get(name)
    return _pick(list(variants), u) if variants else None


def day_month_swapped(date: dt.date) -> dt.date | None:
    if date.day > 12 or date.day == date.month:
        return None
    return date.replace(day=date.month, month=date.day)


def date_mistyped(date: dt.date, u: float, v: float) -> dt.date:
    """A day one off (within the month), or the year's last digit one up or down (a 9 only down, a 0
    only up; not for a 29 February, which the other year may not have)."""
    if u < 0.5 and not (date.month == 2 and date.day == 29):
        digit = date.year % 10
        step = -1 if digit == 9 or (digit > 0 and v < 0.5) else 1
        return date.replace(year=date.year + step)
    step = 1 if v < 0.5 else -1
    moved = date + dt.timedelta(days=step)
    return moved if moved.month == date.month else date - dt.timedelta(days=step)


# --- one error for one person in one source ---------------------------------------------------------


def _applicable(sex: str, married_here: bool, nachname: str, vorname: str, date: dt.date) -> list[str]:
    kinds = ["typo", "letter_dropped", "letter_doubled", "date_mistyped"]
    if ei_ai(nachname, 0) or ei_ai(vorname, 0):
        kinds.append("ei_ai")
    if dt_tt(nachname) or dt_tt(vorname):
        kinds.append("dt_tt")
    if ph_f(nachname) or ph_f(vorname):
        kinds.append("ph_f")
    if "-" in nachname or "-" in vorname:
        kinds.append("double_name")
    if sex == "w" and married_here:
        kinds.append("married_name")
    if nachname in TRANSLITERATIONS or vorname in TRANSLITERATIONS:
        kinds.append("transliteration")
    if day_month_swapped(date):
        kinds.append("day_month_swapped")
    return [k for k in ERROR_KINDS if k in kinds]


def _choose(kinds: list[str], u: float) -> list[str]:
    """The kinds in the order they are tried: one drawn by weight, then the fallback."""
    bounds = list(accumulate(ERROR_WEIGHTS[k] for k in kinds))
    first = kinds[min(bisect_right(bounds, u * bounds[-1]), len(kinds) - 1)]
    return [first, _FALLBACK, "typo", "date_mistyped"]


def _apply_to_names(
    kind: str, nachname: str, vorname: str, u: tuple[float, ...]
) -> tuple[str, str, str] | None:
    """(nachname, vorname, field) with the error, or None where it cannot occur for this person."""
    if kind == "married_name":
        return married_name(nachname, u[2]), vorname, "nachname"
    # The field: where the kind can occur; for letter errors the surname a bit more often.
    if kind in ("ei_ai", "dt_tt", "ph_f", "double_name", "transliteration"):
        test = {
            "ei_ai": lambda n: ei_ai(n, u[2]),
            "dt_tt": dt_tt,
            "ph_f": ph_f,
            "double_name": lambda n: double_name(n, u[2]),
            "transliteration": lambda n: transliteration(n, u[2]),
        }[kind]
        order = ("nachname", "vorname") if u[1] < 0.5 else ("vorname", "nachname")
    else:
        test = {
            "typo": lambda n: typo(n, u[2], u[3]),
            "letter_dropped": lambda n: letter_dropped(n, u[2], u[3]),
            "letter_doubled": lambda n: letter_doubled(n, u[2], u[3]),
        }[kind]
        order = ("nachname", "vorname") if u[1] < 0.6 else ("vorname", "nachname")
    names = {"nachname": nachname, "vorname": vorname}
    for field in order:
        changed = test(names[field])
        if changed and normalise_name(changed) != normalise_name(names[field]):
            names[field] = changed
            return names["nachname"], names["vorname"], field
    return None


def misspell(
    nachname: str, vorname: str, geburtsdatum: int, sex: str, married_here: bool, u: tuple[float, ...]
) -> Misspelt:
    """One error in one person's record. ``u``: four uniform numbers drawn for this (person, source)."""
    date = to_date(geburtsdatum)
    for kind in _choose(_applicable(sex, married_here, nachname, vorname, date), u[0]):
        if kind == "day_month_swapped":
            return Misspelt(nachname, vorname, day(day_month_swapped(date)), kind, "geburtsdatum")
        if kind == "date_mistyped":
            return Misspelt(nachname, vorname, day(date_mistyped(date, u[2], u[3])), kind, "geburtsdatum")
        named = _apply_to_names(kind, nachname, vorname, u)
        if named:
            return Misspelt(named[0], named[1], geburtsdatum, kind, named[2])
    raise AssertionError("date_mistyped always applies")


def misspell_source(
    ids: np.ndarray,
    names: dict[str, list[str]],
    geburtsdatum: np.ndarray,
    sex: np.ndarray,
    source: str,
    rate: float,
    seed: int,
) -> dict[int, Misspelt]:
    """Index -> the error, for the share ``rate`` of people that one agency source gets wrong.
    ``names``: the true "nachname" and "vorname" of each person, aligned with ``ids``."""
    if rate <= 0 or not len(ids):
        return {}
    salt = SOURCE_SALT[source]
    chosen = np.flatnonzero(uniform(ids, seed, salt) < rate)
    picked = ids[chosen]
    draws = [uniform(picked, seed, salt, stream) for stream in (1, 2, 3, 4)]
    source_index = list(SOURCE_SALT).index(source)
    married = (uniform(picked, seed, _MARRIED_SALT) * len(SOURCE_SALT)).astype(np.int64) == source_index
    return {
        int(i): misspell(
            names["nachname"][i],
            names["vorname"][i],
            int(geburtsdatum[i]),
            str(sex[i]),
            bool(married[k]),
            tuple(float(d[k]) for d in draws),
        )
        for k, i in enumerate(chosen)
    }
