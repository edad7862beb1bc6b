"""One simulated world behind all deliveries: people, workshop memberships, placements, transitions,
Budget für Arbeit cases, Jobcenter customers, measures and integrations.

Everything is a spell or an event on integer day numbers, generated vectorised per workshop or
Jobcenter. The files (render.py) and the independent KPI oracle (oracle.py) are both derived from
these tables, each by its own code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from teilhabe.reference import nrw_kreise
from teilhabe.simulate.calendar import NEVER, day, month_last_day, month_of
from teilhabe.simulate.names import (
    EMPLOYER_TEMPLATES,
    FEMALE_FIRST,
    INCLUSION_TEMPLATE,
    MALE_FIRST,
    SURNAMES,
    normalise_employer,
    normalise_name,
)
from teilhabe.simulate.profiles import JobcenterSpec, Profile, WorkshopSpec, plz_base

EV, BBB, AB = 0, 1, 2
EXIT_REASONS_OTHER = np.array(["REN", "SON", "WFB", "ALA", "TOD"])
EXIT_REASONS_OTHER_P = [0.35, 0.2, 0.15, 0.15, 0.15]
YEAR = 365.25


def _exp_days(rng: np.random.Generator, mean_days: float, size: int) -> np.ndarray:
    return np.ceil(rng.exponential(mean_days, size)).astype(np.int64)


@dataclass
class Table:
    """Columns of equal length, appended in batches, frozen into a polars frame at the end."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, **columns: np.ndarray | list) -> None:
        self.parts.append({name: np.asarray(values) for name, values in columns.items()})

    def frame(self, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema=schema)
        return pl.concat(
            [
                pl.DataFrame({n: part[n] for n in schema}).cast(schema)
                for part in self.parts
                if len(next(iter(part.values())))
            ]
        )


class People:
    """Every simulated person, unique by the identity the warehouse links on (name and birth date).

    A share ``decoy_share`` of the people of each batch (a workshop's, a Jobcenter's) are near-twins of
    another person of the same batch and sex (so mostly of the same Kreis), with the same birth date
    and one of three kinds of name, each as likely: the same surname and another first name; the same
    surname and a similar first name, as twins are often named (Lena/Lina, Tim/Timo,
    Anna/Anna-Lena); the same first name and a surname one letter away (Meier/Meyer). They are other
    people, whom a linkage must not merge. Which ones, and how, is drawn from ``decoy_rng``, apart
    from the world's own draws."""

    def __init__(
        self, rng: np.random.Generator, decoy_rng: np.random.Generator | None = None, decoy_share: float = 0.0
    ) -> None:
        self.rng = rng
        self.decoy_rng = decoy_rng if decoy_rng is not None else np.random.default_rng(0)
        self.decoy_share = decoy_share
        self.surnames = np.array(SURNAMES)
        self.first = {"m": np.array(MALE_FIRST), "w": np.array(FEMALE_FIRST)}
        self.first["d"] = np.concatenate([self.first["m"], self.first["w"]])
        self._norm: dict[str, int] = {}
        self._sur_norm = np.array([self._norm_id(n) for n in SURNAMES])
        self._first_norm = {
            sex: np.array([self._norm_id(n) for n in names]) for sex, names in self.first.items()
        }
        self._keys: set[int] = set()
        self.ids: list[np.ndarray] = []
        self.nachname: list[np.ndarray] = []
        self.vorname: list[np.ndarray] = []
        self.dob: list[np.ndarray] = []
        self.sex: list[np.ndarray] = []
        self.decoys: list[tuple[int, int, str]] = []  # (person_id, twin's person_id, kind)
        self.count = 0

    def _norm_id(self, name: str) -> int:
        return self._norm.setdefault(normalise_name(name), len(self._norm))

    def _key(self, nachname: str, vorname: str, dob: int) -> int:
        return _identity_key(self._norm_id(nachname), self._norm_id(vorname), dob)

    def new(self, dob: np.ndarray, sex: np.ndarray | None = None) -> np.ndarray:
        rng, n = self.rng, len(dob)
        if sex is None:
            sex = rng.choice(np.array(["m", "w", "d"]), n, p=[0.545, 0.45, 0.005])
        dob = np.asarray(dob, dtype=np.int64).copy()
        sur = rng.integers(0, len(self.surnames), n)
        first = np.empty(n, dtype=np.int64)
        first_norm = np.empty(n, dtype=np.int64)
        for s in ("m", "w", "d"):
            mask = sex == s
            first[mask] = rng.integers(0, len(self.first[s]), mask.sum())
            first_norm[mask] = self._first_norm[s][first[mask]]
        keys = _identity_key(self._sur_norm[sur], first_norm, dob)
        twins = self._twins(dob, sex)
        for i in range(n):  # a clash of identity is rare; move the birth date until unique
            if i not in twins:
                self._register(keys, dob, i)
        ids = np.arange(self.count, self.count + n)
        self.count += n
        nachname = self.surnames[sur].astype(object)
        vorname = np.array([self.first[s][f] for s, f in zip(sex, first, strict=True)], dtype=object)
        for j, i in twins.items():
            made = self._near_twin(str(nachname[i]), str(vorname[i]), str(sex[j]), int(dob[i]))
            if made is None:
                self._register(keys, dob, j)
                continue
            nachname[j], vorname[j], dob[j], kind = made
            self.decoys.append((int(ids[j]), int(ids[i]), kind))
        self.ids.append(ids)
        self.nachname.append(nachname)
        self.vorname.append(vorname)
        self.dob.append(dob)
        self.sex.append(sex)
        return ids

    def _register(self, keys: np.ndarray, dob: np.ndarray, i: int) -> None:
        while int(keys[i]) in self._keys:
            dob[i] += 1
            keys[i] += 1
        self._keys.add(int(keys[i]))

    def _twins(self, dob: np.ndarray, sex: np.ndarray) -> dict[int, int]:
        """Decoy -> its twin (an ordinary person of the batch: same sex, born within a year)."""
        if self.decoy_share <= 0:
            return {}
        chosen = np.flatnonzero(self.decoy_rng.random(len(dob)) < self.decoy_share)
        ordinary = np.ones(len(dob), dtype=bool)
        ordinary[chosen] = False
        twins = {}
        for j in chosen:
            candidates = np.flatnonzero(ordinary & (sex == sex[j]))
            if len(candidates):
                i = int(candidates[np.argmin(np.abs(dob[candidates] - dob[j]))])
                if abs(int(dob[i]) - int(dob[j])) <= 365:
                    twins[int(j)] = i
        return twins

    def _near_twin(self, nachname: str, vorname: str, sex: str, dob: int) -> tuple[str, str, int, str] | None:
        """A new identity like the twin's (same birth date), or None if every try is taken."""
        rng = self.decoy_rng
        kinds = [DECOY_KINDS[k] for k in rng.permutation(len(DECOY_KINDS))]  # in this order of preference
        for attempt in range(6):
            kind, sur, first = kinds[attempt % len(kinds)], nachname, vorname
            if kind == "same_surname":
                first = str(self.first[sex][rng.integers(0, len(self.first[sex]))])
                if normalise_name(first) == normalise_name(vorname):
                    continue
            elif kind == "similar_first_name":
                near = FIRST_NAME_NEIGHBOURS[sex].get(vorname)
                if not near:
                    continue
                first = near[int(rng.integers(0, len(near)))]
            else:
                sur = surname_one_edit(nachname, rng)
                if sur is None:
                    continue
            key = self._key(sur, first, dob)
            if key not in self._keys:
                self._keys.add(key)
                return sur, first, dob, kind
        return None

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "person_id": np.concatenate(self.ids),
                "nachname": np.concatenate(self.nachname).astype(str),
                "vorname": np.concatenate(self.vorname).astype(str),
                "geburtsdatum": np.concatenate(self.dob),
                "geschlecht": np.concatenate(self.sex),
            }
        ).with_columns(pl.col("person_id").cast(pl.Int64), pl.col("geburtsdatum").cast(pl.Int64))

    def decoy_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            self.decoys,
            schema={"person_id": pl.Int64, "twin_person_id": pl.Int64, "kind": pl.String},
            orient="row",
        )


def _identity_key(surname: np.ndarray | int, first_name: np.ndarray | int, dob: np.ndarray | int):
    """One integer per (normalised surname, normalised first name, birth date)."""
    return (surname * (1 << 20) + first_name) * 1_000_000 + (dob + 100_000)


def _one_edit(a: str, b: str) -> bool:
    """a and b differ by one substituted, added or dropped letter."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


# Surnames of the list one letter apart (Meier/Meyer, Schmid/Schmidt, Hofmann/Hoffmann, Kuhn/Kühn).
SURNAME_NEIGHBOURS = {
    a: [b for b in SURNAMES if _one_edit(a, b) and normalise_name(a) != normalise_name(b)] for a in SURNAMES
}


def _bigram_dice(a: str, b: str) -> float:
    grams = [{f"_{n}_"[i : i + 2] for i in range(len(n) + 1)} for n in (a, b)]
    return 2 * len(grams[0] & grams[1]) / (len(grams[0]) + len(grams[1]))


# First names of one list that twins could be given (Lena/Lina/Lea, Tim/Timo, Anna/Anna-Lena,
# Marco/Marcel): their normalised letter pairs at a Dice of 0.6 or more, as the linkage's name
# comparisons would measure them.
FIRST_NAME_NEIGHBOURS = {
    sex: {
        a: [
            b
            for b in names
            if normalise_name(a) != normalise_name(b)
            and _bigram_dice(normalise_name(a), normalise_name(b)) >= 0.6
        ]
        for a in names
    }
    for sex, names in (("m", MALE_FIRST), ("w", FEMALE_FIRST), ("d", MALE_FIRST + FEMALE_FIRST))
}
DECOY_KINDS = ("same_surname", "similar_first_name", "surname_one_edit")


def surname_one_edit(surname: str, rng: np.random.Generator) -> str | None:
    """Another surname of the list one letter away (Meier/Meyer, Hofmann/Hoffmann), if there is one."""
    near = SURNAME_NEIGHBOURS.get(surname)
    return near[int(rng.integers(0, len(near)))] if near else None


@dataclass
class World:
    profile: Profile
    first_year: int
    last_year: int
    persons: pl.DataFrame
    employers: pl.DataFrame
    workshops: pl.DataFrame
    memberships: pl.DataFrame
    placements: pl.DataFrame
    transitions: pl.DataFrame
    bfa_cases: pl.DataFrame
    jc_spells: pl.DataFrame
    jc_measures: pl.DataFrame
    jc_integrations: pl.DataFrame
    jc_customer_months: pl.DataFrame
    jc_bestand: pl.DataFrame
    decoys: pl.DataFrame = field(default_factory=pl.DataFrame)  # person_id, twin_person_id, kind

    @property
    def first_month(self) -> int:
        return month_of(self.first_year, 1)

    @property
    def last_month(self) -> int:
        return month_of(self.last_year, 12)


class WorldBuilder:
    def __init__(
        self, profile: Profile, first_year: int, last_year: int, seed: int, decoy_share: float = 0.0
    ) -> None:
        self.profile = profile
        self.first_year, self.last_year = first_year, last_year
        self.rng = np.random.default_rng(seed)
        self.T0 = day(dt.date(first_year, 1, 1))
        self.T1 = day(dt.date(last_year, 12, 31))
        self.months = np.arange(month_of(first_year, 1), month_of(last_year, 12) + 1)
        self.people = People(self.rng, np.random.default_rng([seed, 0xDEC0]), decoy_share)
        kreise = nrw_kreise()
        self.kreis_lv = dict(kreise.select("kreisschluessel", "landschaftsverband").iter_rows())
        self.kreis_name = dict(kreise.select("kreisschluessel", "name").iter_rows())
        self.kreis_typ = dict(kreise.select("kreisschluessel", "typ").iter_rows())
        self.lv_kreise = {
            lv: [k for k, v in self.kreis_lv.items() if v == lv] for lv in set(self.kreis_lv.values())
        }
        self.jobcenters = {jc.kreis: jc for jc in profile.jobcenters}
        self.memberships = Table()
        self.placements = Table()
        self.transitions = Table()
        self.bfa = Table()
        self.jc_spells = Table()
        self.jc_measures = Table()
        self.jc_integrations = Table()
        self._next_membership = 0

    # --- employers ------------------------------------------------------------------------------

    def build_employers(self) -> None:
        rng, seen = self.rng, set()
        rows: list[tuple[int, str, str, str, str]] = []
        kreise = sorted(
            {ws.kreis for ws in self.profile.workshops} | set(self.jobcenters) | self._neighbours()
        )
        for kreis in kreise:
            ort = self._town(kreis)
            wanted = [INCLUSION_TEMPLATE] + [
                EMPLOYER_TEMPLATES[i][0] for i in rng.integers(0, len(EMPLOYER_TEMPLATES), 200)
            ]
            count = 0
            for template in wanted:
                if "{kreis}" in template and self.kreis_typ[kreis] != "Kreis":
                    continue
                name = template.format(ort=ort, kreis=self.kreis_name[kreis], name=self.surnames_pick())
                key = normalise_employer(name)
                if key in seen:
                    continue
                seen.add(key)
                wz = dict(EMPLOYER_TEMPLATES)[template]
                plz = str(plz_base(kreis) + int(rng.integers(0, 99)))
                rows.append((len(rows), name, plz, wz, kreis))
                count += 1
                if count >= self.profile.employers_per_kreis:
                    break
        self.employers = pl.DataFrame(
            rows, schema=["employer_id", "name", "plz", "wz", "kreis"], orient="row"
        ).with_columns(pl.col("employer_id").cast(pl.Int64))
        self._employers_of = {
            kreis: group["employer_id"].to_numpy()
            for (kreis,), group in self.employers.group_by("kreis", maintain_order=True)
        }
        self._inclusion_employer = {
            kreis: group.filter(pl.col("name").str.starts_with("Inklusionsbetrieb"))["employer_id"][0]
            for (kreis,), group in self.employers.group_by("kreis", maintain_order=True)
        }

    def surnames_pick(self) -> str:
        return str(self.people.surnames[self.rng.integers(0, len(self.people.surnames))])

    def _neighbours(self) -> set[str]:
        return set(self.kreis_lv)

    def _town(self, kreis: str) -> str:
        name = self.kreis_name[kreis]
        for prefix in ("Kreis ", "StädteRegion "):
            name = name.removeprefix(prefix)
        return name

    def employers_near(self, kreis: str, size: int) -> np.ndarray:
        """Employers in the Kreis (85 %) or elsewhere in its Landschaftsverband."""
        rng = self.rng
        local = rng.choice(self._employers_of[kreis], size)
        others = self.lv_kreise[self.kreis_lv[kreis]]
        far_kreise = rng.choice(others, size)
        far = np.array([rng.choice(self._employers_of[k]) for k in far_kreise]) if size else local
        return np.where(rng.random(size) < 0.85, local, far)

    def employers_for(self, kreise: np.ndarray) -> np.ndarray:
        """An employer near each of the given Kreise."""
        out = np.empty(len(kreise), dtype=np.int64)
        for kreis in np.unique(kreise):
            mask = kreise == kreis
            out[mask] = self.employers_near(str(kreis), int(mask.sum()))
        return out

    def residence(self, kreis: str, size: int) -> np.ndarray:
        others = np.array(self.lv_kreise[self.kreis_lv[kreis]])
        return np.where(self.rng.random(size) < 0.88, kreis, self.rng.choice(others, size))

    # --- Jobcenters -----------------------------------------------------------------------------

    def build_jobcenter(self, jc: JobcenterSpec) -> None:
        rng, T0, T1 = self.rng, self.T0, self.T1
        mean_spell = 40 * 30.4
        stock = jc.target_group
        arrivals = rng.poisson(stock / mean_spell * (T1 - T0 + 1))
        n = stock + arrivals
        start = np.concatenate([T0 - rng.integers(0, 3650, stock), rng.integers(T0, T1 + 1, arrivals)])
        end = np.concatenate(
            [T0 + _exp_days(rng, mean_spell, stock), start[stock:] + _exp_days(rng, mean_spell, arrivals)]
        )
        sex = rng.choice(np.array(["m", "w", "d"]), n, p=[0.55, 0.44, 0.01])
        dob = T0 - rng.integers(int(20 * YEAR), int(62 * YEAR), n)
        person = self.people.new(dob, sex)
        self._add_jc_spells(jc, person, start, end, sex, category=None)

    def _add_jc_spells(
        self,
        jc: JobcenterSpec,
        person: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        sex: np.ndarray,
        category: str | None,
    ) -> None:
        rng, n = self.rng, len(person)
        if category is None:
            cat = rng.choice(np.array(["SB", "GL", "NG", "RE", "MO"]), n, p=[0.62, 0.12, 0.08, 0.13, 0.05])
        else:
            cat = np.full(n, category)
        gdb = np.select(
            [np.isin(cat, ["SB", "TR"]), (cat == "GL") | (cat == "NG"), cat == "RE"],
            [
                rng.choice([50, 60, 70, 80, 90, 100], n, p=[0.32, 0.2, 0.16, 0.14, 0.08, 0.1]),
                rng.choice([30, 40], n),
                np.where(rng.random(n) < 0.5, 20, -1),
            ],
            default=np.where(rng.random(n) < 0.4, 20, -1),
        )
        gleich = np.where(cat == "GL", "J", np.where((cat == "SB") & (rng.random(n) < 0.03), "J", "N"))
        reha = np.where(
            cat == "RE", "J", np.where(np.isin(cat, ["SB", "GL", "NG"]) & (rng.random(n) < 0.12), "J", "N")
        )
        # One change of status during some spells: Gleichstellung granted, or a higher gdb.
        changes = rng.random(n) < 0.12
        lo = np.maximum(start, self.T0)
        hi = np.minimum(end, self.T1)
        changes &= hi > lo + 30
        change_day = np.where(changes, lo + (rng.random(n) * np.maximum(hi - lo, 1)).astype(np.int64), NEVER)
        gdb_after = np.where(
            cat == "NG", gdb, np.where(gdb >= 30, np.minimum(gdb + 10 * rng.integers(1, 3, n), 100), 50)
        )
        gleich_after = np.where(cat == "NG", "J", gleich)
        self.jc_spells.add(
            jobcenter=np.full(n, jc.kreis),
            person_id=person,
            start=start,
            end=end,
            geschlecht=np.char.upper(sex.astype(str)),
            plz=(plz_base(jc.kreis) + rng.integers(0, 99, n)).astype(str),
            gdb=gdb,
            gleichstellung=gleich,
            rehabilitand=reha,
            change_day=change_day,
            gdb_after=gdb_after,
            gleichstellung_after=gleich_after,
            category=cat,
            arbeitslos_p=np.where(cat == "TR", 0.9, rng.beta(2, 2, n)),
        )

    def finish_jc_spells(self) -> None:
        """Kundennummer per spell; measures and integrations; spells end after many integrations."""
        rng, T0, T1 = self.rng, self.T0, self.T1
        spells = self.jc_spells.frame(_JC_SPELL_SCHEMA)
        # Kundennummer: 3 digits of the Kreis, "D", 6 digits; unique within a Jobcenter.
        within = spells.select(pl.int_range(pl.len()).over("jobcenter"))[:, 0].to_numpy()
        digits = np.char.zfill(rng.permutation(1_000_000)[within].astype(str), 6)
        spells = spells.with_columns(
            (pl.col("jobcenter").str.slice(2, 3) + "D" + pl.Series(digits)).alias("kundennummer")
        )
        n = spells.height
        start, end = spells["start"].to_numpy(), spells["end"].to_numpy()
        cat = spells["category"].to_numpy()
        kreis = spells["jobcenter"].to_numpy()
        lo = np.maximum(start, T0 - 200)
        hi = np.minimum(end, T1)
        span = np.maximum(hi - lo, 0)
        months = span / 30.4
        measures = []
        kinds = [
            ("WAK", 0.011, 42, 85),
            ("MAG", 0.007, 14, 85),
            ("AGH", 0.004, 180, 366),
            ("FBW", 0.003, 90, 700),
            ("REHA", 0.0, 180, 720),
        ]
        for kind, rate, dmin, dmax in kinds:
            lam = months * rate
            if kind == "REHA":
                lam = np.where(spells["rehabilitand"].to_numpy() == "J", months * 0.01, 0.0)
            if kind == "WAK":
                lam = np.where(cat == "MO", lam + 0.6, lam)
            count = np.minimum(rng.poisson(lam), 2)
            idx = np.repeat(np.arange(n), count)
            m_start = lo[idx] + (rng.random(len(idx)) * np.maximum(span[idx], 1)).astype(np.int64)
            dur = rng.integers(dmin, dmax, len(idx))
            abbruch = rng.random(len(idx)) < 0.12
            dur = np.where(abbruch, np.maximum((dur * rng.uniform(0.2, 0.8, len(idx))).astype(int), 1), dur)
            m_end = np.minimum(m_start + dur - 1, end[idx])
            employer = np.full(len(idx), -1)
            if kind == "MAG":
                employer = self.employers_for(kreis[idx])
            measures.append(
                pl.DataFrame(
                    {
                        "spell": idx,
                        "massnahme": np.full(len(idx), kind),
                        "eintritt": m_start,
                        "austritt": m_end,
                        "employer_id": employer,
                        "abbruch": np.where(abbruch, "J", "N"),
                    }
                )
            )
        measures_df = (
            pl.concat(measures)
            .filter(pl.col("eintritt") <= pl.col("austritt"))
            .unique(subset=["spell", "massnahme", "eintritt"], keep="first", maintain_order=True)
        )
        # Integrations: after WAK (within 183 days, and some just outside), after MAG at the same
        # employer (within 92 days), and in the background.
        integ = []
        wak = measures_df.filter(pl.col("massnahme") == "WAK")
        p_wak = np.array([self.jobcenters[kreis[s]].wak_quote or 0.3 for s in wak["spell"].to_numpy()])
        hit = rng.random(wak.height) < p_wak
        offset = np.where(
            rng.random(wak.height) < 0.9,
            rng.integers(14, 184, wak.height),
            rng.integers(184, 240, wak.height),
        )
        integ.append(
            pl.DataFrame(
                {"spell": wak["spell"].to_numpy()[hit], "datum": (wak["eintritt"].to_numpy() + offset)[hit]}
            ).with_columns(employer_id=pl.lit(-1, pl.Int64))
        )
        mag = measures_df.filter(pl.col("massnahme") == "MAG")
        hit = rng.random(mag.height) < 0.4
        offset = np.where(
            rng.random(mag.height) < 0.85, rng.integers(1, 93, mag.height), rng.integers(93, 130, mag.height)
        )
        integ.append(
            pl.DataFrame(
                {
                    "spell": mag["spell"].to_numpy()[hit],
                    "datum": (mag["austritt"].to_numpy() + offset)[hit],
                    "employer_id": mag["employer_id"].to_numpy()[hit],
                }
            )
        )
        count = rng.poisson(months * 0.006)
        idx = np.repeat(np.arange(n), count)
        integ.append(
            pl.DataFrame(
                {
                    "spell": idx,
                    "datum": np.maximum(start[idx], T0)
                    + (rng.random(len(idx)) * np.maximum(span[idx], 1)).astype(np.int64),
                }
            ).with_columns(employer_id=pl.lit(-1, pl.Int64))
        )
        integrations = pl.concat(
            [df.cast({"spell": pl.Int64, "datum": pl.Int64, "employer_id": pl.Int64}) for df in integ]
        )
        integrations = integrations.filter(pl.col("datum").is_between(T0 - 400, T1))
        # A second job start in the same month for a few (counts once as an integration month).
        twice = integrations.sample(fraction=0.03, seed=int(rng.integers(1 << 31)))
        twice = twice.with_columns(
            pl.min_horizontal(
                pl.col("datum") + 5, pl.col("datum").cast(pl.Date).dt.month_end().cast(pl.Int64)
            ).alias("datum"),
            pl.lit(-1, pl.Int64).alias("employer_id"),
        )
        # Nobody starts two jobs on one day.
        integrations = pl.concat([integrations, twice]).unique(
            subset=["spell", "datum"], keep="first", maintain_order=True
        )
        # The customer stays at least until the job start; half of them leave benefits soon after.
        first_job = integrations.group_by("spell").agg(pl.col("datum").min().alias("first_job"))
        fj = np.full(n, NEVER, dtype=np.int64)
        fj[first_job["spell"].to_numpy()] = first_job["first_job"].to_numpy()
        leaves = (fj != NEVER) & (rng.random(n) < 0.5)
        new_end = np.where(fj != NEVER, np.maximum(end, fj), end)
        new_end = np.where(leaves, fj + rng.integers(0, 61, n), new_end)
        new_end = np.where(fj != NEVER, np.maximum(new_end, fj), new_end)
        spells = spells.with_columns(pl.Series("end", new_end))
        bounds = spells.select(pl.int_range(pl.len()).alias("spell"), "start", "end")
        measures_df = (
            measures_df.join(bounds, on="spell")
            .filter(pl.col("eintritt") <= pl.col("end"))
            .with_columns(pl.min_horizontal("austritt", "end").alias("austritt"))
            .drop("start", "end")
        )
        integrations = (
            integrations.join(bounds, on="spell")
            .filter(pl.col("datum").is_between(pl.col("start"), pl.col("end")))
            .drop("start", "end")
        )
        # Integrations without an employer of their own get one near the Jobcenter.
        missing = integrations["employer_id"].to_numpy() == -1
        emp = integrations["employer_id"].to_numpy().copy()
        spell_idx = integrations["spell"].to_numpy()
        emp[missing] = self.employers_for(kreis[spell_idx[missing]])
        integrations = integrations.with_columns(pl.Series("employer_id", emp))
        self._spells, self._measures, self._integrations = spells, measures_df, integrations

    def calibrate_wak(self) -> None:
        """Where a profile gives a Werkakademie quote (K08), hit it exactly for every year."""
        rng = self.rng
        spells, measures, integ = self._spells, self._measures, self._integrations
        for jc in self.profile.jobcenters:
            if jc.wak_quote is None:
                continue
            for year in range(self.first_year, self.last_year + 1):
                jan1, dec31 = day(dt.date(year, 1, 1)), day(dt.date(year, 12, 31))
                entries = (
                    measures.join(
                        spells.select(pl.int_range(pl.len()).alias("spell"), "jobcenter", "person_id", "end"),
                        on="spell",
                    )
                    .filter((pl.col("jobcenter") == jc.kreis) & (pl.col("massnahme") == "WAK"))
                    .sort("eintritt")
                    .group_by("person_id", maintain_order=True)
                    .agg(
                        pl.col("eintritt").filter(pl.col("eintritt") >= jan1).first(),
                        pl.col("spell").filter(pl.col("eintritt") >= jan1).first(),
                        pl.col("end").filter(pl.col("eintritt") >= jan1).first(),
                        pl.col("eintritt").filter(pl.col("eintritt") < jan1).max().alias("earlier"),
                    )
                    .filter(pl.col("eintritt").is_between(jan1, dec31))
                )
                if entries.is_empty():
                    continue
                person_integ = integ.filter(pl.col("datum") <= self.T1).join(
                    spells.select(pl.int_range(pl.len()).alias("spell"), "person_id"), on="spell"
                )
                hits = entries.join(
                    person_integ.select("person_id", "datum"), on="person_id", how="left"
                ).with_columns(
                    pl.col("datum")
                    .is_between(pl.col("eintritt"), pl.col("eintritt") + 183)
                    .fill_null(False)
                    .alias("hit")
                )
                per_person = hits.group_by("person_id", "spell", "eintritt", "end", maintain_order=True).agg(
                    pl.col("hit").any()
                )
                want = int(np.floor(jc.wak_quote * per_person.height + 0.5))
                have = int(per_person["hit"].sum())
                if have > want:
                    drop = per_person.filter(pl.col("hit")).sample(
                        have - want, seed=int(rng.integers(1 << 31))
                    )
                    window = drop.select("person_id", "eintritt")
                    marked = person_integ.join(window, on="person_id", how="left").with_columns(
                        pl.col("datum")
                        .is_between(pl.col("eintritt"), pl.col("eintritt") + 183)
                        .fill_null(False)
                        .alias("in_window")
                    )
                    removed = (
                        marked.filter(pl.col("in_window")).select("spell", "datum", "employer_id").unique()
                    )
                    integ = integ.join(removed, on=["spell", "datum", "employer_id"], how="anti")
                elif want > have:
                    candidates = per_person.filter(
                        ~pl.col("hit")
                        & (pl.col("end") >= pl.col("eintritt") + 14)
                        & (pl.col("eintritt") + 14 <= self.T1)
                    )
                    add = candidates.sample(
                        min(want - have, candidates.height), seed=int(rng.integers(1 << 31))
                    )
                    hi = np.minimum.reduce(
                        [
                            add["eintritt"].to_numpy() + 183,
                            add["end"].to_numpy(),
                            np.full(add.height, self.T1),
                        ]
                    )
                    lo = add["eintritt"].to_numpy() + 14
                    datum = lo + (rng.random(add.height) * (hi - lo + 1)).astype(np.int64)
                    emp = self.employers_near(jc.kreis, add.height)
                    integ = pl.concat(
                        [
                            integ,
                            pl.DataFrame(
                                {"spell": add["spell"].to_numpy(), "datum": datum, "employer_id": emp}
                            ).cast(pl.Int64),
                        ]
                    )
        self._integrations = integ

    def jc_leavers(self, kreis: str) -> pl.DataFrame:
        """Disabled customers of the Kreis' Jobcenter whose spell ends: candidates for a workshop."""
        spells = self._spells.with_columns(pl.int_range(pl.len()).alias("spell"))
        return spells.filter(
            (pl.col("jobcenter") == kreis)
            & pl.col("category").is_in(["SB", "RE"])
            & (pl.col("end") < self.T1)
        ).select("person_id", "end")

    # --- workshops ------------------------------------------------------------------------------

    def build_workshop(self, ws: WorkshopSpec, index: int) -> None:
        rng, T0, T1 = self.rng, self.T0, self.T1
        first = ws.targets.get(self.first_year)
        n_ab = first[0] if first else int(ws.places * rng.uniform(0.82, 0.9))
        n_bbb = round(n_ab * rng.uniform(0.09, 0.13))
        n_ev = round(n_ab * rng.uniform(0.01, 0.03))
        n_years = self.last_year - self.first_year + 1
        n_arr = int(rng.poisson(ws.places * 0.075 * n_years))
        n = n_ab + n_bbb + n_ev + n_arr
        ev_len = rng.integers(28, 93, n)
        bbb_len = rng.integers(330, 731, n)
        eintritt = np.empty(n, dtype=np.int64)
        ev_end = np.empty(n, dtype=np.int64)
        bbb_end = np.empty(n, dtype=np.int64)
        a, b, c = n_ab, n_ab + n_bbb, n_ab + n_bbb + n_ev
        ab_start = T0 - rng.integers(30, int(25 * YEAR), n_ab)
        bbb_end[:a] = ab_start - 1
        ev_end[:a] = bbb_end[:a] - bbb_len[:a]
        eintritt[:a] = ev_end[:a] - ev_len[:a] + 1
        into = (rng.random(n_bbb) * bbb_len[a:b]).astype(np.int64)
        ev_end[a:b] = T0 - into - 1
        eintritt[a:b] = ev_end[a:b] - ev_len[a:b] + 1
        bbb_end[a:b] = ev_end[a:b] + bbb_len[a:b]
        into = (rng.random(n_ev) * ev_len[b:c]).astype(np.int64)
        eintritt[b:c] = T0 - into
        eintritt[c:] = rng.integers(T0, T1 + 1, n_arr)
        ev_end[b:] = eintritt[b:] + ev_len[b:] - 1
        bbb_end[b:] = ev_end[b:] + bbb_len[b:]
        # Who they are: stock and arrivals are new people, except that some arrivals come from the
        # Jobcenter of the same Kreis (cross-agency pathway, K11).
        age_at_entry = (18 + np.minimum(rng.gamma(1.6, 5.0, n), 32)) * YEAR
        dob = (eintritt - age_at_entry).astype(np.int64)
        dob = np.maximum(dob, T0 - int(63 * YEAR))  # nobody past retirement age at the start
        person = np.full(n, -1, dtype=np.int64)
        if ws.kreis in self.jobcenters and n_arr:
            leavers = self.jc_leavers(ws.kreis).filter(~pl.col("person_id").is_in(list(self._used_leavers)))
            ends = leavers["end"].to_numpy()
            for i in range(c, n):
                if rng.random() >= 0.15:
                    continue
                ok = np.flatnonzero((ends < eintritt[i]) & (ends >= eintritt[i] - 365))
                if len(ok):
                    pick = int(leavers["person_id"][int(rng.choice(ok))])
                    if pick not in self._used_leavers:
                        self._used_leavers.add(pick)
                        person[i] = pick
        fresh = person == -1
        person[fresh] = self.people.new(dob[fresh])
        personennummer = np.array([f"{index:02d}-{k:05d}" for k in range(1, n + 1)])
        wohnort = self.residence(ws.kreis, n)
        spells = {
            "person_id": person,
            "personennummer": personennummer,
            "eintritt": eintritt,
            "ev_end": ev_end,
            "bbb_end": bbb_end,
            "wohnort_kreis": wohnort,
        }
        members = self._exits(ws, spells)
        members = self._returns(ws, members)
        members = self._calibrate_ab(ws, members, index)
        self._attach_attributes(ws, members)

    def _exits(self, ws: WorkshopSpec, m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rng, n = self.rng, len(m["eintritt"])
        other = 0.05
        total = other + ws.transition_rate
        clock = np.maximum(m["eintritt"], self.T0)
        exit_day = clock + _exp_days(rng, YEAR / total, n)
        reason = np.where(
            rng.random(n) < ws.transition_rate / total,
            "UEB",
            rng.choice(EXIT_REASONS_OTHER, n, p=EXIT_REASONS_OTHER_P),
        )
        reason = np.where((reason == "UEB") & (exit_day <= m["ev_end"]), "SON", reason)
        m["austritt"] = np.where(exit_day <= self.T1, exit_day, NEVER)
        m["grund"] = np.where(exit_day <= self.T1, reason, "")
        m["rueckkehr"] = np.full(n, NEVER, dtype=np.int64)
        return m

    def _returns(self, ws: WorkshopSpec, m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Some who left for a job come back (Rueckkehr): a new membership, same Personennummer."""
        rng = self.rng
        todo = np.flatnonzero(m["grund"] == "UEB")
        for _ in range(3):
            back = todo[rng.random(len(todo)) < 0.13]
            back_day = m["austritt"][back] + 1 + rng.integers(30, 600, len(back))
            keep = back_day <= self.T1
            back, back_day = back[keep], back_day[keep]
            if not len(back):
                break
            m["rueckkehr"][back] = back_day
            new = {
                "person_id": m["person_id"][back],
                "personennummer": m["personennummer"][back],
                "eintritt": back_day,
                "ev_end": back_day - 1,
                "bbb_end": back_day - 1,
                "wohnort_kreis": m["wohnort_kreis"][back],
            }
            new = self._exits(ws, new)
            offset = len(m["eintritt"])
            m = {key: np.concatenate([m[key], new[key]]) for key in m}
            todo = offset + np.flatnonzero(new["grund"] == "UEB")
        return m

    def _ab_on(self, m: dict[str, np.ndarray], d: int) -> np.ndarray:
        return (m["eintritt"] <= d) & (m["austritt"] >= d) & (m["bbb_end"] < d)

    def _calibrate_ab(self, ws: WorkshopSpec, m: dict[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
        """Hit the profile's AB headcount on 31.12. exactly, year by year, by earlier exits or extra
        entrants in that year only (earlier years keep their counts)."""
        rng = self.rng
        for year in sorted(y for y in ws.targets if self.first_year <= y <= self.last_year):
            target = ws.targets[year][0]
            d, d_prev = day(dt.date(year, 12, 31)), day(dt.date(year - 1, 12, 31))
            on = self._ab_on(m, d)
            have = int(on.sum())
            if have > target:
                lo = np.maximum.reduce(
                    [m["eintritt"], m["bbb_end"] + 1, np.full_like(m["eintritt"], d_prev + 1)]
                )
                cand = np.flatnonzero(on & (m["grund"] != "UEB") & (lo <= d - 1))
                pick = rng.choice(cand, have - target, replace=False)
                m["austritt"][pick] = lo[pick] + (rng.random(len(pick)) * (d - lo[pick])).astype(np.int64)
                m["grund"][pick] = rng.choice(EXIT_REASONS_OTHER, len(pick), p=EXIT_REASONS_OTHER_P)
            elif target > have:
                k = target - have
                ab_start = rng.integers(d_prev + 1, d + 1, k)
                bbb_end = ab_start - 1
                ev_end = bbb_end - rng.integers(330, 731, k)
                eintritt = ev_end - rng.integers(28, 93, k) + 1
                exit_day = d + 1 + _exp_days(rng, YEAR / 0.05, k)
                dob = (eintritt - (18 + rng.gamma(1.6, 5.0, k)) * YEAR).astype(np.int64)
                start_no = len(m["eintritt"]) + 1
                new = {
                    "person_id": self.people.new(dob),
                    "personennummer": np.array(
                        [f"{index:02d}-{no:05d}" for no in range(start_no, start_no + k)]
                    ),
                    "eintritt": eintritt,
                    "ev_end": ev_end,
                    "bbb_end": bbb_end,
                    "wohnort_kreis": self.residence(ws.kreis, k),
                    "austritt": np.where(exit_day <= self.T1, exit_day, NEVER),
                    "grund": np.where(
                        exit_day <= self.T1, rng.choice(EXIT_REASONS_OTHER, k, p=EXIT_REASONS_OTHER_P), ""
                    ),
                    "rueckkehr": np.full(k, NEVER, dtype=np.int64),
                }
                m = {key: np.concatenate([m[key], new[key]]) for key in m}
            assert int(self._ab_on(m, d).sum()) == target
        return m

    def _attach_attributes(self, ws: WorkshopSpec, m: dict[str, np.ndarray]) -> None:
        rng, n = self.rng, len(m["eintritt"])
        ids = np.arange(self._next_membership, self._next_membership + n)
        self._next_membership += n
        lv = ws.landschaftsverband
        m["membership_id"] = ids
        m["werkstatt_nr"] = np.full(n, ws.werkstatt_nr)
        # Attributes fixed per person within the workshop (the same on every return).
        first_of = {}
        for i, p in enumerate(m["person_id"]):
            first_of.setdefault(int(p), i)
        base = np.array([first_of[int(p)] for p in m["person_id"]])
        behinderung = rng.choice(np.array(list("GPKSMX")), n, p=[0.45, 0.3, 0.08, 0.04, 0.1, 0.03])[base]
        kt_ab = rng.choice(np.array([lv, "DRV", "DGUV", "SON"]), n, p=[0.94, 0.03, 0.02, 0.01])[base]
        kt_bbb = rng.choice(np.array(["BA", "DRV", "DGUV"]), n, p=[0.8, 0.15, 0.05])[base]
        hours = rng.choice(
            np.array([20.0, 25.0, 30.0, 35.0, 38.5, 40.0]), n, p=[0.1, 0.15, 0.25, 0.3, 0.15, 0.05]
        )[base]
        plz = np.array(
            [
                str(plz_base(k) + int(o))
                for k, o in zip(m["wohnort_kreis"], rng.integers(0, 99, n), strict=True)
            ]
        )[base]
        m["wohnort_kreis"] = m["wohnort_kreis"][base]
        self.memberships.add(
            **m,
            behinderungsart=behinderung,
            kostentraeger_ab=kt_ab,
            kostentraeger_bbb=kt_bbb,
            arbeitszeit=hours,
            plz=plz,
        )
        self._build_placements(ws, m)

    def _build_placements(self, ws: WorkshopSpec, m: dict[str, np.ndarray]) -> None:
        """Placements in companies during the AB phase: alternating gaps and placements."""
        rng, T0, T1 = self.rng, self.T0, self.T1
        ab_from = np.maximum(m["bbb_end"] + 1, m["eintritt"])
        ab_to = np.minimum(m["austritt"], T1 + 3000)
        mean_biap_big = 0.55 * 990 + 0.25 * 1280
        mean_cycle = mean_biap_big + 0.2 * 52
        mean_gap = max(mean_biap_big / ws.biap_share - mean_cycle, 60)
        clock = np.maximum(ab_from, T0 - 4000).astype(np.int64)
        rows = []
        idx_all = np.arange(len(ab_from))
        for _ in range(5):
            n = len(idx_all)
            start = clock + _exp_days(rng, mean_gap, n)
            art = rng.choice(np.array(["BIAP", "BIG", "PRA"]), n, p=[0.55, 0.25, 0.2])
            dur = np.select(
                [art == "BIAP", art == "BIG"],
                [rng.integers(180, 1800, n), rng.integers(365, 2200, n)],
                default=rng.integers(14, 91, n),
            )
            end = np.minimum(start + dur - 1, ab_to)
            ok = (start <= ab_to) & (start <= T1) & (end >= T0)
            rows.append((idx_all[ok], art[ok], start[ok], end[ok]))
            clock = start + dur
        self._add_placements(ws, m, rows)

    def _add_placements(self, ws: WorkshopSpec, m, rows) -> None:
        rng = self.rng
        idx = np.concatenate([r[0] for r in rows])
        art = np.concatenate([r[1] for r in rows])
        beginn = np.concatenate([r[2] for r in rows])
        ende = np.concatenate([r[3] for r in rows])
        n = len(idx)
        coaches = max(3, ws.places // 60)
        jobcoach = np.array([f"JC{k:02d}" for k in rng.integers(1, coaches + 1, n)])
        jobcoach = np.where((art == "PRA") & (rng.random(n) < 0.6), "", jobcoach)
        hours = np.select(
            [art == "BIAP", art == "BIG"],
            [rng.choice([15.0, 20.0, 25.0, 30.0], n), rng.choice([25.0, 28.0, 30.0], n)],
            default=rng.choice([20.0, 25.0, 30.0, 35.0], n),
        )
        self._pending_placements.append(
            {
                "membership_id": m["membership_id"][idx],
                "werkstatt_nr": m["werkstatt_nr"][idx],
                "person_id": m["person_id"][idx],
                "personennummer": m["personennummer"][idx],
                "art": art,
                "employer_id": self.employers_near(ws.kreis, n),
                "beginn": beginn,
                "ende": ende,
                "std_woche": hours,
                "jobcoach": jobcoach,
            }
        )

    def finish_workshops(self) -> None:
        """BiAp targets, then transitions and Budget für Arbeit cases from the final memberships."""
        memberships = self.memberships.frame(_MEMBERSHIP_SCHEMA)
        placements = pl.concat([pl.DataFrame(p) for p in self._pending_placements]).cast(_PLACEMENT_CAST)
        for ws in self.profile.workshops:
            placements = self._calibrate_biap(ws, memberships, placements)
        self._memberships = memberships
        self._placements = placements
        self._build_transitions()

    def _calibrate_biap(
        self, ws: WorkshopSpec, members: pl.DataFrame, placements: pl.DataFrame
    ) -> pl.DataFrame:
        """Hit the profile's BiAp count on 31.12. exactly: end placements early or add new ones,
        always inside that year so that earlier years keep their counts."""
        rng = self.rng
        years = sorted(y for y in ws.targets if self.first_year <= y <= self.last_year)
        if not years:
            return placements
        own = placements.filter(pl.col("werkstatt_nr") == ws.werkstatt_nr)
        rest = placements.filter(pl.col("werkstatt_nr") != ws.werkstatt_nr)
        mem = members.filter(pl.col("werkstatt_nr") == ws.werkstatt_nr)
        for year in years:
            target = ws.targets[year][1]
            d, d_prev = day(dt.date(year, 12, 31)), day(dt.date(year - 1, 12, 31))
            ab = mem.filter((pl.col("eintritt") <= d) & (pl.col("austritt") >= d) & (pl.col("bbb_end") < d))
            active = own.join(
                ab.select("membership_id", "austritt", "bbb_end", "eintritt"), on="membership_id"
            ).filter((pl.col("beginn") <= d) & (pl.col("ende") >= d))
            biap = active.filter(pl.col("art").is_in(["BIAP", "BIG"]))
            have = biap["membership_id"].n_unique()
            if have > target:
                cand = biap.filter(pl.max_horizontal("beginn", pl.lit(d_prev + 1)) <= d - 1)
                pick = rng.choice(
                    cand["membership_id"].unique().sort().to_numpy(), have - target, replace=False
                )
                lo = pl.max_horizontal("beginn", pl.lit(d_prev + 1))
                own = own.with_columns(
                    pl.when(
                        pl.col("membership_id").is_in(pick.tolist())
                        & pl.col("art").is_in(["BIAP", "BIG"])
                        & (pl.col("beginn") <= d)
                        & (pl.col("ende") >= d)
                    )
                    .then(lo + ((d - lo) * pl.lit(rng.random())).cast(pl.Int64))
                    .otherwise("ende")
                    .alias("ende")
                )
            elif target > have:
                busy = set(active["membership_id"].to_list())
                free = ab.filter(~pl.col("membership_id").is_in(list(busy))).sort("membership_id")
                pick = rng.choice(free.height, target - have, replace=False)
                new_rows = []
                for row in free[pick.tolist()].iter_rows(named=True):
                    mid = row["membership_id"]
                    mine = own.filter(pl.col("membership_id") == mid)
                    before = mine.filter(pl.col("ende") < d)["ende"].max()
                    after = mine.filter(pl.col("beginn") > d)["beginn"].min()
                    lo = max(row["bbb_end"] + 1, row["eintritt"], d_prev + 1, (before or -NEVER) + 1)
                    lo = min(lo, d)
                    beginn = int(rng.integers(lo, d + 1))
                    hi = min((after or NEVER) - 1, row["austritt"])
                    ende = max(min(beginn + int(rng.integers(365, 1800)), hi), d)
                    new_rows.append(
                        {
                            "membership_id": mid,
                            "werkstatt_nr": ws.werkstatt_nr,
                            "person_id": row["person_id"],
                            "personennummer": row["personennummer"],
                            "art": "BIAP",
                            "employer_id": int(self.employers_near(ws.kreis, 1)[0]),
                            "beginn": beginn,
                            "ende": ende,
                            "std_woche": 20.0,
                            "jobcoach": f"JC{int(rng.integers(1, 4)):02d}",
                        }
                    )
                own = pl.concat([own, pl.DataFrame(new_rows).cast(_PLACEMENT_CAST)])
            check = own.join(ab.select("membership_id"), on="membership_id").filter(
                pl.col("art").is_in(["BIAP", "BIG"]) & (pl.col("beginn") <= d) & (pl.col("ende") >= d)
            )
            assert check["membership_id"].n_unique() == target, (ws.werkstatt_nr, year)
        return pl.concat([rest, own])

    def _build_transitions(self) -> None:
        rng = self.rng
        m = self._memberships.filter(pl.col("grund") == "UEB")
        n = m.height
        datum = m["austritt"].to_numpy() + 1
        from_bbb = m["austritt"].to_numpy() <= m["bbb_end"].to_numpy()
        art = np.where(
            from_bbb,
            rng.choice(np.array(["AUS", "BFAUS", "SVB", "INK"]), n, p=[0.35, 0.35, 0.2, 0.1]),
            rng.choice(np.array(["SVB", "BFA", "INK", "AUS", "BFAUS"]), n, p=[0.35, 0.35, 0.15, 0.05, 0.1]),
        )
        kreis_of = dict(
            zip(
                [w.werkstatt_nr for w in self.profile.workshops],
                [w.kreis for w in self.profile.workshops],
                strict=True,
            )
        )
        # The employer: often the company of the last placement (BiAp as a bridge), for INK the
        # Kreis' Inklusionsbetrieb, otherwise any employer nearby.
        last_place = (
            self._placements.join(m.select("membership_id", "austritt"), on="membership_id")
            .filter(pl.col("ende") >= pl.col("austritt") - 90)
            .sort("beginn")
            .group_by("membership_id")
            .agg(pl.col("employer_id").last())
        )
        bridge = dict(last_place.iter_rows())
        employer = np.empty(n, dtype=np.int64)
        for i, (mid, nr) in enumerate(zip(m["membership_id"], m["werkstatt_nr"], strict=True)):
            if art[i] == "INK":
                employer[i] = self._inclusion_employer[kreis_of[nr]]
            elif mid in bridge and rng.random() < 0.7:
                employer[i] = bridge[mid]
            else:
                employer[i] = self.employers_near(kreis_of[nr], 1)[0]
        self._transitions = pl.DataFrame(
            {
                "werkstatt_nr": m["werkstatt_nr"],
                "membership_id": m["membership_id"],
                "person_id": m["person_id"],
                "personennummer": m["personennummer"],
                "datum": datum,
                "art": art,
                "employer_id": employer,
                "rueckkehr": m["rueckkehr"],
                "wohnort_kreis": m["wohnort_kreis"],
            }
        )

    def unemployed_after_transition(self) -> None:
        """Some who left for a job turn up unemployed at their Jobcenter later (K10)."""
        rng = self.rng
        t = self._transitions.filter(
            pl.col("art").is_in(["SVB", "INK", "BFA"])
            & (pl.col("rueckkehr") == NEVER)
            & pl.col("wohnort_kreis").is_in(list(self.jobcenters))
        )
        pick = t.filter(pl.Series(rng.random(t.height) < 0.3))
        start = pick["datum"].to_numpy() + rng.integers(60, 500, pick.height)
        pick = pick.with_columns(pl.Series("jc_start", start)).filter(pl.col("jc_start") <= self.T1)
        self._job_end = dict(zip(pick["membership_id"], pick["jc_start"] - 1, strict=True))
        sexes = dict(self.people.frame().select("person_id", "geschlecht").iter_rows())
        for (kreis,), group in pick.group_by("wohnort_kreis", maintain_order=True):
            k = group.height
            start = group["jc_start"].to_numpy()
            self._add_jc_spells(
                self.jobcenters[kreis],
                group["person_id"].to_numpy(),
                start,
                start + _exp_days(rng, 24 * 30.4, k),
                np.array([sexes[p] for p in group["person_id"]]),
                category="TR",
            )

    def build_bfa_cases(self) -> None:
        """Budget für Arbeit at the Landschaftsverband: one case per BFA transition, plus rejected
        applications and cases of people who came from elsewhere (no origin workshop)."""
        rng = self.rng
        t = self._transitions.filter(pl.col("art") == "BFA")
        lv_of = {w.werkstatt_nr: w.landschaftsverband for w in self.profile.workshops}
        kreis_of = {w.werkstatt_nr: w.kreis for w in self.profile.workshops}
        ende = []
        for mid, rueck in zip(t["membership_id"], t["rueckkehr"], strict=True):
            if rueck != NEVER:
                ende.append(rueck - 1)
            elif mid in self._job_end:
                ende.append(self._job_end[mid])
            else:
                ende.append(NEVER)
        n = t.height
        cases = pl.DataFrame(
            {
                "lv": [lv_of[w] for w in t["werkstatt_nr"]],
                "person_id": t["person_id"],
                "herkunft": t["werkstatt_nr"],
                "employer_id": t["employer_id"],
                "beginn": t["datum"],
                "ende": np.array(ende, dtype=np.int64),
                "subsidy_cents": rng.integers(80_000, 240_000, n),
                "abgelehnt": np.zeros(n, dtype=bool),
            }
        )
        extra = []
        for ws in self.profile.workshops:
            years = self.last_year - self.first_year + 1
            k_rej = rng.poisson(0.4 * years)
            k_other = rng.poisson(0.5 * years) if ws.targets or rng.random() < 0.5 else 0
            k = k_rej + k_other
            if not k:
                continue
            beginn = rng.integers(self.T0, self.T1 + 1, k)
            dob = beginn - rng.integers(int(22 * YEAR), int(55 * YEAR), k)
            rejected = np.arange(k) < k_rej
            extra.append(
                pl.DataFrame(
                    {
                        "lv": np.full(k, ws.landschaftsverband),
                        "person_id": self.people.new(dob),
                        "herkunft": np.where(rejected & (rng.random(k) < 0.7), ws.werkstatt_nr, ""),
                        "employer_id": self.employers_near(kreis_of[ws.werkstatt_nr], k),
                        "beginn": beginn,
                        "ende": np.where(
                            rejected,
                            NEVER,
                            np.where(rng.random(k) < 0.2, beginn + rng.integers(100, 700, k), NEVER),
                        ),
                        "subsidy_cents": rng.integers(80_000, 240_000, k),
                        "abgelehnt": rejected,
                    }
                )
            )
        cases = pl.concat([cases.cast(_BFA_CAST), *[e.cast(_BFA_CAST) for e in extra]]).sort(
            "lv", "beginn", "person_id"
        )
        cases = cases.with_columns(
            (
                pl.col("lv")
                + "-BfA-"
                + pl.col("beginn").cast(pl.Date).dt.year().cast(pl.String)
                + "-"
                + (pl.int_range(pl.len()).over("lv", pl.col("beginn").cast(pl.Date).dt.year()) + 1)
                .cast(pl.String)
                .str.zfill(4)
            ).alias("aktenzeichen")
        )
        self._bfa = cases

    # --- Jobcenter monthly state ---------------------------------------------------------------

    def customer_months(self) -> pl.DataFrame:
        """Each customer on each Stichtag in the window, with status, arbeitslos and target group."""
        rng = self.rng
        spells = self._spells.with_columns(pl.int_range(pl.len()).alias("spell"))
        first_m, last_m = int(self.months[0]), int(self.months[-1])
        to_month = (
            (pl.col("start").cast(pl.Date).dt.year() - 1970) * 12
            + pl.col("start").cast(pl.Date).dt.month()
            - 1
        )
        cm = (
            spells.filter((pl.col("end") >= self.T0) & (pl.col("start") <= self.T1))
            .with_columns(
                pl.int_ranges(
                    pl.max_horizontal(to_month, pl.lit(first_m)).cast(pl.Int64),
                    pl.lit(last_m + 1, pl.Int64),
                ).alias("month")
            )
            .explode("month")
        )
        stichtag = pl.DataFrame({"month": self.months, "stichtag": month_last_day(self.months)}).cast(
            pl.Int64
        )
        cm = cm.join(stichtag, on="month").filter(
            pl.col("stichtag").is_between(pl.col("start"), pl.col("end"))
        )
        changed = pl.col("stichtag") >= pl.col("change_day")
        cm = cm.with_columns(
            pl.when(changed).then("gdb_after").otherwise("gdb").alias("gdb"),
            pl.when(changed).then("gleichstellung_after").otherwise("gleichstellung").alias("gleichstellung"),
        )
        # Unemployed or not: a per-spell propensity, and not in the 12 months after a job start.
        jobs = self._integrations.select("spell", pl.col("datum").alias("job")).sort("job")
        cm = cm.sort("stichtag").join_asof(
            jobs, left_on="stichtag", right_on="job", by="spell", strategy="backward", check_sortedness=False
        )
        working = pl.col("job").is_not_null() & (pl.col("stichtag") - pl.col("job") <= 365)
        cm = cm.with_columns(pl.Series("_u", rng.random(cm.height)))
        cm = cm.with_columns(
            pl.when(~working & (pl.col("_u") < pl.col("arbeitslos_p")))
            .then(pl.lit("J"))
            .otherwise(pl.lit("N"))
            .alias("arbeitslos")
        )
        in_measure = (
            self._measures.select("spell", "eintritt", "austritt")
            .join(cm.select("spell", "month", "stichtag"), on="spell")
            .filter(pl.col("stichtag").is_between("eintritt", "austritt"))
            .select("spell", "month")
            .unique()
            .with_columns(pl.lit(True).alias("in_measure"))
        )
        cm = cm.join(in_measure, on=["spell", "month"], how="left").with_columns(
            pl.col("in_measure").fill_null(False)
        )
        cm = cm.with_columns(
            ((pl.col("gdb") >= 30) | (pl.col("rehabilitand") == "J") | pl.col("in_measure")).alias(
                "in_target_group"
            )
        )
        return cm.select(
            "jobcenter",
            "kundennummer",
            "person_id",
            "spell",
            "month",
            "stichtag",
            "gdb",
            "gleichstellung",
            "rehabilitand",
            "arbeitslos",
            "in_target_group",
            "start",
            "geschlecht",
            "plz",
        ).sort("jobcenter", "month", "kundennummer")

    def bestand(self) -> pl.DataFrame:
        rng = self.rng
        rows = []
        for jc in self.profile.jobcenters:
            trend = (
                1 + 0.01 * np.sin(np.arange(len(self.months)) / 2) + rng.normal(0, 0.004, len(self.months))
            )
            elb = jc.elb * trend
            for sex, share in (("M", 0.503), ("W", 0.496), ("D", 0.001)):
                count = np.maximum(np.round(elb * share).astype(int), 1)
                rows.append(
                    pl.DataFrame(
                        {
                            "jobcenter": jc.kreis,
                            "month": self.months,
                            "geschlecht": sex,
                            "elb": count,
                            "arbeitslose": np.round(count * rng.uniform(0.36, 0.4)).astype(int),
                        }
                    )
                )
        return pl.concat(rows).cast({"month": pl.Int64, "elb": pl.Int64, "arbeitslose": pl.Int64})

    # --- all together ---------------------------------------------------------------------------

    def build(self) -> World:
        self._pending_placements: list[dict] = []
        self._used_leavers: set[int] = set()
        self._job_end: dict[int, int] = {}
        self.build_employers()
        for jc in self.profile.jobcenters:
            self.build_jobcenter(jc)
        self.finish_jc_spells()
        self.calibrate_wak()
        for index, ws in enumerate(self.profile.workshops, start=1):
            self.build_workshop(ws, index)
        self.finish_workshops()
        self.unemployed_after_transition()
        self._append_new_spells()
        self.build_bfa_cases()
        workshops = pl.DataFrame(
            [
                (
                    w.werkstatt_nr,
                    w.name,
                    w.traeger,
                    w.ort,
                    w.plz,
                    w.kreis,
                    w.landschaftsverband,
                    w.places,
                    w.vendor,
                )
                for w in self.profile.workshops
            ],
            schema=[
                "werkstatt_nr",
                "name",
                "traeger",
                "ort",
                "plz",
                "kreis",
                "landschaftsverband",
                "places",
                "vendor",
            ],
            orient="row",
        )
        spells = self._spells.with_columns(pl.int_range(pl.len()).alias("spell"))
        key = spells.select("spell", "jobcenter", "kundennummer", "person_id")
        measures = self._measures.join(key, on="spell")
        integrations = self._integrations.join(key, on="spell").sort("jobcenter", "datum", "kundennummer")
        rng, n = self.rng, integrations.height
        art = rng.choice(np.array(["SVB", "AUSB", "SELB"]), n, p=[0.82, 0.1, 0.08])
        foerderung = np.where(
            art == "SELB",
            rng.choice(np.array(["ESG", "KEINE"]), n, p=[0.6, 0.4]),
            rng.choice(np.array(["EGZ", "16I", "KEINE"]), n, p=[0.22, 0.05, 0.73]),
        )
        integrations = integrations.with_columns(
            pl.Series("art", art),
            pl.Series("befristet", np.where(rng.random(n) < 0.4, "J", "N")),
            pl.Series("foerderung", foerderung),
        )
        return World(
            profile=self.profile,
            first_year=self.first_year,
            last_year=self.last_year,
            persons=self.people.frame(),
            employers=self.employers,
            workshops=workshops,
            memberships=self._memberships,
            placements=self._placements,
            transitions=self._transitions,
            bfa_cases=self._bfa,
            jc_spells=spells,
            jc_measures=measures,
            jc_integrations=integrations,
            jc_customer_months=self.customer_months(),
            jc_bestand=self.bestand(),
            decoys=self.people.decoy_frame(),
        )

    def _append_new_spells(self) -> None:
        """Spells added after the first Jobcenter pass (people who became unemployed after a
        transition) get their Kundennummer like all others; they have no measures."""
        if len(self.jc_spells.parts) == len(self.profile.jobcenters):
            return
        extra = Table(self.jc_spells.parts[len(self.profile.jobcenters) :]).frame(_JC_SPELL_SCHEMA)
        taken = set(self._spells["kundennummer"].to_list())
        numbers = iter(self.rng.permutation(1_000_000))
        kunden = []
        for kreis in extra["jobcenter"]:
            while (k := f"{kreis[2:]}D{next(numbers):06d}") in taken:
                pass
            taken.add(k)
            kunden.append(k)
        extra = extra.with_columns(pl.Series("kundennummer", kunden))
        self._spells = pl.concat([self._spells, extra.select(self._spells.columns)])


_JC_SPELL_SCHEMA = {
    "jobcenter": pl.String,
    "person_id": pl.Int64,
    "start": pl.Int64,
    "end": pl.Int64,
    "geschlecht": pl.String,
    "plz": pl.String,
    "gdb": pl.Int64,
    "gleichstellung": pl.String,
    "rehabilitand": pl.String,
    "change_day": pl.Int64,
    "gdb_after": pl.Int64,
    "gleichstellung_after": pl.String,
    "category": pl.String,
    "arbeitslos_p": pl.Float64,
}
_MEMBERSHIP_SCHEMA = {
    "membership_id": pl.Int64,
    "werkstatt_nr": pl.String,
    "person_id": pl.Int64,
    "personennummer": pl.String,
    "eintritt": pl.Int64,
    "ev_end": pl.Int64,
    "bbb_end": pl.Int64,
    "austritt": pl.Int64,
    "grund": pl.String,
    "rueckkehr": pl.Int64,
    "wohnort_kreis": pl.String,
    "plz": pl.String,
    "behinderungsart": pl.String,
    "kostentraeger_ab": pl.String,
    "kostentraeger_bbb": pl.String,
    "arbeitszeit": pl.Float64,
}
_PLACEMENT_CAST = {
    "membership_id": pl.Int64,
    "werkstatt_nr": pl.String,
    "person_id": pl.Int64,
    "personennummer": pl.String,
    "art": pl.String,
    "employer_id": pl.Int64,
    "beginn": pl.Int64,
    "ende": pl.Int64,
    "std_woche": pl.Float64,
    "jobcoach": pl.String,
}
_BFA_CAST = {
    "lv": pl.String,
    "person_id": pl.Int64,
    "herkunft": pl.String,
    "employer_id": pl.Int64,
    "beginn": pl.Int64,
    "ende": pl.Int64,
    "subsidy_cents": pl.Int64,
    "abgelehnt": pl.Boolean,
}


def build_world(
    profile: Profile, first_year: int, last_year: int, seed: int, decoy_share: float = 0.0
) -> World:
    return WorldBuilder(profile, first_year, last_year, seed, decoy_share).build()
