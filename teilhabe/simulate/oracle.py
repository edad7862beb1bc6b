"""The expected KPI values, computed from the simulator's own event model (not from the files, and
not by the warehouse SQL), following spec/kpis.md including its "Precise rules".

Conventions shared with the KPI tables of the warehouse: rates are percentages with exact
numerator and denominator; ``value`` is rounded half away from zero to 2 decimals; ranks are on
the exact rate (1 = highest, ties share a rank, 1-2-2-4); ``missing_reason`` says why a value is
missing; ``is_provisional`` marks a follow-up window not yet covered by the loaded data, which is
the case while the last loaded Stichtag lies before 31.12.Y + the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import polars as pl

from teilhabe.reference import nrw_kreise
from teilhabe.simulate.calendar import NEVER, day, month_label, month_last_day, month_of
from teilhabe.simulate.world import World


def round_half_away(value: Fraction, places: int = 2) -> Decimal:
    """0.625 -> 0.63; -0.625 -> -0.63 (Python's round() would give 0.62)."""
    sign = -1 if value < 0 else 1
    scaled = abs(value) * 10**places
    whole = int(scaled)
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return (Decimal(sign * whole) / Decimal(10**places)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def rate(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(100 * numerator, denominator) if denominator else None


def competition_ranks(values: dict[str, Fraction | None]) -> dict[str, int | None]:
    """1 = highest; ties share a rank and the next rank skips (1-2-2-4)."""
    present = [v for v in values.values() if v is not None]
    return {k: (None if v is None else 1 + sum(1 for o in present if o > v)) for k, v in values.items()}


@dataclass(frozen=True)
class Delivered:
    """What the inbox holds, as far as the KPIs care: months without a personen snapshot, and the
    Landschaftsverband's reported figures."""

    missing_snapshots: frozenset[tuple[str, int]]  # (werkstatt_nr, month)
    silent_workshops: frozenset[str] = frozenset()  # registered, never sent a file


class Oracle:
    def __init__(self, world: World, delivered: Delivered) -> None:
        self.w = world
        self.delivered = delivered
        self.first_month, self.last_month = world.first_month, world.last_month
        self.last_day = int(month_last_day(self.last_month))
        self.first_day = day(dt.date(world.first_year, 1, 1))
        self.lv_of = dict(world.workshops.select("werkstatt_nr", "landschaftsverband").iter_rows())
        self.kreis_of = dict(world.workshops.select("werkstatt_nr", "kreis").iter_rows())
        recognised = dict.fromkeys(world.workshops["werkstatt_nr"], "01.01.1998")
        if "recognised" in world.workshops.columns:
            recognised.update(world.workshops.select("werkstatt_nr", "recognised").iter_rows())
        # the day each workshop was recognised (anerkannt seit)
        self.recognised = {
            nr: dt.datetime.strptime(text, "%d.%m.%Y").date() for nr, text in recognised.items()
        }
        self.years = range(world.first_year, world.last_year + 1)

    # --- workshops ----------------------------------------------------------------------------

    def _recognised_by(self, year: int) -> list[str]:
        """The workshops of a year's KPI rows: those recognised by its 31 December (a workshop
        recognised later has no figures for it, and no total waits for them)."""
        end = dt.date(year, 12, 31)
        return [nr for nr in self.w.workshops["werkstatt_nr"] if self.recognised[nr] <= end]

    def _has_snapshot(self, nr: str, d: int) -> bool:
        month = month_of(*_year_month(d))
        return (
            self.first_month <= month <= self.last_month
            and (nr, month) not in self.delivered.missing_snapshots
            and nr not in self.delivered.silent_workshops
        )

    def in_ab_on_december_31(self, year: int) -> pl.DataFrame:
        """The memberships in AB on 31.12.year, each with whether its person is on BiAp then."""
        return self.in_ab_on(day(dt.date(year, 12, 31)))

    def in_ab_on(self, d: int) -> pl.DataFrame:
        """The memberships in AB on day d, each with whether its person is on BiAp then."""
        m = self.w.memberships
        ab = m.filter((pl.col("eintritt") <= d) & (pl.col("austritt") >= d) & (pl.col("bbb_end") < d))
        on_biap = self.w.placements.filter(
            pl.col("art").is_in(["BIAP", "BIG"]) & (pl.col("beginn") <= d) & (pl.col("ende") >= d)
        )
        return ab.with_columns(
            pl.col("membership_id").is_in(on_biap["membership_id"].implode()).alias("on_biap")
        )

    def ab_and_biap(self, year: int) -> dict[str, tuple[int, int] | None]:
        """Persons in AB and persons on BiAp on 31.12.year per workshop (None: no snapshot)."""
        d = day(dt.date(year, 12, 31))
        ab = self.in_ab_on_december_31(year)
        on_biap = (
            ab.filter("on_biap")
            .group_by("werkstatt_nr")
            .agg(pl.col("personennummer").n_unique().alias("biap"))
        )
        ab_count = ab.group_by("werkstatt_nr").agg(pl.col("personennummer").n_unique().alias("ab"))
        counts = {nr: (a, 0) for nr, a in ab_count.iter_rows()}
        for nr, b in on_biap.iter_rows():
            counts[nr] = (counts[nr][0], b)
        return {
            nr: (counts.get(nr, (0, 0)) if self._has_snapshot(nr, d) else None)
            for nr in self._recognised_by(year)
        }

    def _overdue_december(self, nr: str, year: int) -> str:
        """A workshop recognised by 31.12. is expected to send its December personen file by the
        15th of January (every simulated register lists every workshop from the start); overdue
        from the day after (ops.expected_deliveries)."""
        due = dt.date(year + 1, 1, 15)
        if self.recognised[nr] > dt.date(year, 12, 31) or dt.date.today() <= due:
            return ""
        return f": the personen file of {nr} for {year}-12 is overdue since {due}"

    def _sent_transitions(self, nr: str) -> bool:
        """Every workshop sends its uebergaenge file every month (a quiet one header-only), but the
        silent one: its transitions are missing, not 0."""
        return nr not in self.delivered.silent_workshops

    def _no_transitions_file(self, nr: str, year: int) -> str:
        """Why a workshop's transitions of a year are missing, with the months overdue (files are
        expected from the month of recognition, due on the 15th of the next month)."""
        overdue = []
        for month in range(max(month_of(year, 1), month_of(self.recognised[nr].year, self.recognised[nr].month)),
                           min(month_of(year, 12), self.last_month) + 1):  # fmt: skip
            y, m = map(int, month_label(month).split("-"))
            due = dt.date(y + m // 12, m % 12 + 1, 15)
            if dt.date.today() > due:
                overdue.append(month_label(month))
        text = f"no uebergaenge file for {year}"
        if len(overdue) == 1:
            text += f": the uebergaenge file of {nr} for {overdue[0]} is overdue"
        elif overdue:
            text += f": the uebergaenge files of {nr} for {', '.join(overdue)} are overdue"
        return text

    def transitions_in(self, year: int) -> pl.DataFrame:
        """Transitions whose Datum lies in the year and that some delivered file carried."""
        lo, hi = day(dt.date(year, 1, 1)), day(dt.date(year, 12, 31))
        return self.w.transitions.filter(pl.col("datum").is_between(lo, min(hi, self.last_day)))

    def k01(self) -> pl.DataFrame:
        rows, by_year = [], {}
        for year in self.years:
            counts = self.ab_and_biap(year)
            rates = {nr: (rate(c[1], c[0]) if c else None) for nr, c in counts.items()}
            ranks = {}
            for lv in ("LWL", "LVR"):
                ranks.update(competition_ranks({nr: r for nr, r in rates.items() if self.lv_of[nr] == lv}))
            by_year[year] = (counts, rates, ranks)

        def reason(nr: str, year: int) -> str | None:
            return None if by_year[year][0][nr] else _no_snapshot(year) + self._overdue_december(nr, year)

        for year in self.years:
            counts, rates, ranks = by_year[year]
            prev = by_year.get(year - 1)
            for nr, c in counts.items():
                value = rates[nr]
                # why last year's value is missing, after this year's reason
                if not prev:
                    before = f"previous year: no workshop deliveries for {year - 1}"
                elif nr not in prev[0]:
                    before = f"previous year: recognised as a workshop only in {year}"
                else:
                    before = None if prev[1][nr] is not None else f"previous year: {reason(nr, year - 1)}"
                rows.append(
                    {
                        "werkstatt_nr": nr,
                        "landschaftsverband": self.lv_of[nr],
                        "year": year,
                        "numerator": c[1] if c else None,
                        "denominator": c[0] if c else None,
                        "value": _fmt(value),
                        "rank": ranks[nr],
                        "value_prev_year": _fmt(prev[1].get(nr)) if prev else None,
                        "rank_prev_year": prev[2].get(nr) if prev else None,
                        "missing_reason": "; ".join(filter(None, (reason(nr, year), before))) or None,
                    }
                )
        return pl.DataFrame(rows, schema=_K01_SCHEMA)

    def k02(self) -> pl.DataFrame:
        rows = []
        for year in self.years:
            base = self.ab_and_biap(year - 1) if year - 1 >= self.w.first_year else {}
            counted = self.transitions_in(year).group_by("werkstatt_nr").len()
            counts = dict(counted.iter_rows())
            for nr in self._recognised_by(year):
                ab = base.get(nr)
                n = counts.get(nr, 0) if self._sent_transitions(nr) else None
                value = rate(n, ab[0]) if ab and n is not None else None
                # the calendar starts with the first month delivered: no December before it is due
                overdue = self._overdue_december(nr, year - 1) if year - 1 >= self.w.first_year else ""
                reason = None if ab else _no_snapshot(year - 1) + overdue
                # the first year loaded: nobody sent the year before
                if not ab and year - 1 < self.w.first_year:
                    reason = f"no workshop deliveries for {year - 1}"
                if not ab and self.recognised[nr] > dt.date(year - 1, 12, 31):
                    reason = f"recognised only on {self.recognised[nr]:%Y-%m-%d}: no December before"
                if ab and ab[0] == 0:
                    reason = "no persons in AB on 31.12. of the previous year"
                if n is None:
                    reason = "; ".join(filter(None, (reason, self._no_transitions_file(nr, year))))
                rows.append(
                    {
                        "werkstatt_nr": nr,
                        "landschaftsverband": self.lv_of[nr],
                        "year": year,
                        "numerator": n,
                        "denominator": ab[0] if ab else None,
                        "value": _fmt(value),
                        "missing_reason": reason,
                    }
                )
        return pl.DataFrame(rows, schema=_RATE_SCHEMA_WS)

    def k04(self) -> pl.DataFrame:
        rows = []
        for year in self.years:
            t = self.transitions_in(year).with_columns(
                (
                    (pl.col("rueckkehr") != NEVER)
                    & (pl.col("rueckkehr") <= self.last_day)
                    & (pl.col("rueckkehr") <= pl.col("datum") + 365)
                ).alias("back")
            )
            counts = {
                nr: (n, b)
                for nr, n, b in t.group_by("werkstatt_nr").agg(pl.len(), pl.col("back").sum()).iter_rows()
            }
            provisional = self.last_month < month_of(year + 1, 12)
            for nr in self._recognised_by(year):
                n, b = counts.get(nr, (0, 0)) if self._sent_transitions(nr) else (None, None)
                reason = None
                if n is None:
                    reason = self._no_transitions_file(nr, year)
                elif n == 0:
                    reason = "no transitions in the year"
                rows.append(
                    {
                        "werkstatt_nr": nr,
                        "landschaftsverband": self.lv_of[nr],
                        "year": year,
                        "numerator": b,
                        "denominator": n,
                        "value": _fmt(rate(b, n)) if n else None,
                        # until the workshop's December Y+1 is loaded: never, from one that never sent
                        "is_provisional": provisional or nr in self.delivered.silent_workshops,
                        "missing_reason": reason,
                    }
                )
        return pl.DataFrame(rows, schema={**_RATE_SCHEMA_WS, "is_provisional": pl.Boolean})

    # --- Jobcenters ---------------------------------------------------------------------------

    def kunden(self) -> pl.DataFrame:
        """The kunden snapshots: customer-months in the target group, with SB/GL/Reha flags."""
        return self.w.jc_customer_months.filter(pl.col("in_target_group")).with_columns(
            (pl.col("gdb") >= 50).alias("sb"),
            (pl.col("gdb").is_between(30, 40) & (pl.col("gleichstellung") == "J")).alias("gl"),
            (pl.col("rehabilitand") == "J").alias("reha"),
        )

    def k06(self) -> pl.DataFrame:
        k = self.kunden()
        out = k.group_by("jobcenter", "month").agg(
            pl.col("sb").sum().alias("sb"),
            pl.col("gl").sum().alias("gl"),
            pl.col("reha").sum().alias("rehabilitanden"),
            (pl.col("sb") | pl.col("gl") | pl.col("reha")).sum().alias("any_target"),
        )
        return out.with_columns(pl.col("month").map_elements(month_label, return_dtype=pl.String)).sort(
            "jobcenter", "month"
        )

    def integration_months(self) -> pl.DataFrame:
        """(Jobcenter, customer, month) with at least one integration, and whether the customer was
        SB or GL in that month's kunden snapshot, or in the previous month's if absent from it."""
        integ = (
            self.w.jc_integrations.with_columns(
                (
                    (pl.col("datum").cast(pl.Date).dt.year() - 1970) * 12
                    + pl.col("datum").cast(pl.Date).dt.month()
                    - 1
                )
                .cast(pl.Int64)
                .alias("month")
            )
            .select("jobcenter", "kundennummer", "month")
            .unique()
        )
        status = self.kunden().select(
            "jobcenter", "kundennummer", "month", (pl.col("sb") | pl.col("gl")).alias("sbgl")
        )
        same = integ.join(status, on=["jobcenter", "kundennummer", "month"], how="left")
        prev = status.with_columns((pl.col("month") + 1).alias("month")).rename({"sbgl": "sbgl_prev"})
        same = same.join(prev, on=["jobcenter", "kundennummer", "month"], how="left")
        return same.with_columns(pl.coalesce("sbgl", "sbgl_prev").fill_null(False).alias("counts"))

    def k07(self) -> pl.DataFrame:
        sbgl = (
            self.kunden()
            .group_by("jobcenter", "month")
            .agg((pl.col("sb") | pl.col("gl")).sum().alias("sbgl"))
        )
        stock = {(jc, m): n for jc, m, n in sbgl.iter_rows()}
        im = self.integration_months().filter(pl.col("counts"))
        per_month = {(jc, m): n for jc, m, n in im.group_by("jobcenter", "month").len().iter_rows()}
        rows = []
        for jc in (j.kreis for j in self.w.profile.jobcenters):
            for t in range(self.first_month, self.last_month + 1):
                loaded = t - 12 >= self.first_month
                num = sum(per_month.get((jc, m), 0) for m in range(t - 11, t + 1)) if loaded else None
                total = sum(stock.get((jc, m), 0) for m in range(t - 12, t)) if loaded else None
                value = Fraction(100 * num * 12, total) if loaded and total else None
                rows.append(
                    {
                        "jobcenter": jc,
                        "month": month_label(t),
                        "numerator": num,
                        "denominator": _fmt(Fraction(total, 12)) if total is not None else None,
                        "value": _fmt(value),
                        # every Jobcenter's data begin with the world's first month: no file would
                        # fill a window that reaches before it
                        "missing_reason": None
                        if loaded
                        else "needs 13 loaded months (t-12 ... t): kunden data of "
                        f"{jc} only from {month_label(self.first_month)}",
                    }
                )
        return pl.DataFrame(rows, schema=_K07_SCHEMA)

    def k08(self) -> pl.DataFrame:
        m = self.w.jc_measures.filter(pl.col("massnahme") == "WAK")
        delivered = self.w.jc_integrations.filter(pl.col("datum") <= self.last_day)
        integ = delivered.select("jobcenter", "person_id", "datum")
        rows = []
        for year in self.years:
            lo, hi = day(dt.date(year, 1, 1)), day(dt.date(year, 12, 31))
            first = (
                m.filter(pl.col("eintritt").is_between(lo, hi))
                .group_by("jobcenter", "person_id")
                .agg(pl.col("eintritt").min())
            )
            hit = (
                first.join(integ, on=["jobcenter", "person_id"], how="left")
                .with_columns(
                    pl.col("datum")
                    .is_between(pl.col("eintritt"), pl.col("eintritt") + 183)
                    .fill_null(False)
                    .alias("hit")
                )
                .group_by("jobcenter", "person_id")
                .agg(pl.col("hit").any())
            )
            counts = _hits(hit, "jobcenter")
            provisional = self.last_day < hi + 183
            for jc in (j.kreis for j in self.w.profile.jobcenters):
                n, h = counts.get(jc, (0, 0))
                rows.append(
                    {
                        "jobcenter": jc,
                        "year": year,
                        "numerator": h,
                        "denominator": n,
                        "value": _fmt(rate(h, n)),
                        "is_provisional": provisional,
                        "missing_reason": None if n else "no Werkakademie entries in the year",
                    }
                )
        return pl.DataFrame(rows, schema=_RATE_SCHEMA_JC)

    def k09(self) -> pl.DataFrame:
        mag = self.w.jc_measures.filter(
            (pl.col("massnahme") == "MAG") & (pl.col("austritt") <= self.last_day)
        )
        delivered = self.w.jc_integrations.filter(pl.col("datum") <= self.last_day)
        integ = delivered.select("jobcenter", "person_id", "datum", pl.col("employer_id").alias("emp"))
        rows = []
        for year in self.years:
            lo, hi = day(dt.date(year, 1, 1)), day(dt.date(year, 12, 31))
            spells = mag.filter(pl.col("austritt").is_between(lo, hi)).with_row_index("spell_no")
            hit = (
                spells.join(integ, on=["jobcenter", "person_id"], how="left")
                .with_columns(
                    (
                        pl.col("datum").is_between(pl.col("austritt"), pl.col("austritt") + 92)
                        & (pl.col("emp") == pl.col("employer_id"))
                    )
                    .fill_null(False)
                    .alias("hit")
                )
                .group_by("jobcenter", "spell_no")
                .agg(pl.col("hit").any())
            )
            counts = _hits(hit, "jobcenter")
            provisional = self.last_day < hi + 92
            for jc in (j.kreis for j in self.w.profile.jobcenters):
                n, h = counts.get(jc, (0, 0))
                rows.append(
                    {
                        "jobcenter": jc,
                        "year": year,
                        "numerator": h,
                        "denominator": n,
                        "value": _fmt(rate(h, n)),
                        "is_provisional": provisional,
                        "missing_reason": None if n else "no MAG spells ending in the year",
                    }
                )
        return pl.DataFrame(rows, schema=_RATE_SCHEMA_JC)

    # --- across agencies ----------------------------------------------------------------------

    def k10(self) -> pl.DataFrame:
        unemployed = self.kunden().filter(pl.col("arbeitslos") == "J").select("person_id", "stichtag")
        rows = []
        for year in self.years:
            t = (
                self.transitions_in(year)
                .with_row_index("t_no")
                .with_columns(pl.col("werkstatt_nr").replace_strict(self.lv_of).alias("lv"))
            )
            hit = (
                t.join(unemployed, on="person_id", how="left")
                .with_columns(
                    pl.col("stichtag")
                    .is_between(pl.col("datum"), pl.col("datum") + 365)
                    .fill_null(False)
                    .alias("hit")
                )
                .group_by("lv", "t_no")
                .agg(pl.col("hit").any())
            )
            counts = _hits(hit, "lv")
            provisional = self.last_day < day(dt.date(year, 12, 31)) + 365
            for lv in ("LWL", "LVR"):
                n, h = counts.get(lv, (0, 0))
                # a workshop that sent no uebergaenge file for the year leaves the rate unknown
                workshops = [nr for nr in self._recognised_by(year) if self.lv_of[nr] == lv]
                silent = [nr for nr in workshops if not self._sent_transitions(nr)]
                reason = (
                    f"{len(silent)} of {len(workshops)} workshops sent no uebergaenge file for {year}"
                    if silent
                    else None
                    if n
                    else "no transitions in the year"
                )
                rows.append(
                    {
                        "landschaftsverband": lv,
                        "year": year,
                        "numerator": h,
                        "denominator": n,
                        "value": None if silent else _fmt(rate(h, n)),
                        "is_provisional": provisional,
                        "missing_reason": reason,
                    }
                )
        return pl.DataFrame(rows, schema=_K10_SCHEMA)

    def k11(self) -> pl.DataFrame:
        customer_days = self.kunden().select("person_id", "stichtag")
        rows = []
        for year in self.years:
            lo, hi = day(dt.date(year, 1, 1)), day(dt.date(year, 12, 31))
            entries = (
                self.w.memberships.filter(pl.col("eintritt").is_between(lo, hi))
                .with_columns(pl.col("werkstatt_nr").replace_strict(self.kreis_of).alias("kreisschluessel"))
                .select("kreisschluessel", "person_id", "eintritt")
            )
            flagged = (
                entries.join(customer_days, on="person_id", how="left")
                .with_columns(
                    pl.col("stichtag")
                    .is_between(pl.col("eintritt") - 730, pl.col("eintritt"))
                    .fill_null(False)
                    .alias("hit")
                )
                .group_by("kreisschluessel", "person_id")
                .agg(pl.col("hit").any())
            )
            counts = _hits(flagged, "kreisschluessel")
            provisional = lo - 730 < self.first_day
            for kreis in sorted(set(self.kreis_of.values())):
                n, h = counts.get(kreis, (0, 0))
                rows.append(
                    {
                        "kreisschluessel": kreis,
                        "year": year,
                        "entrants": n,
                        "from_jobcenter": h,
                        "is_provisional": provisional,
                    }
                )
        return pl.DataFrame(rows, schema=_K11_SCHEMA)

    def k14(self) -> pl.DataFrame:
        """The regional overview per Kreis and year (kpis.md K14): persons in AB and on BiAp on
        31.12. by Kreis of residence, each person once even if two workshops report them (the one
        figure here that rests on linking people), transitions by the Kreis of the workshop's seat
        (kpis.md "Which Kreis": K14 says "by Kreis of residence" of the persons only), the
        Jobcenter's SB+GL customers in December, its SB/GL integration months and K07 for December.
        The Budget für Arbeit column (K05) has no oracle yet and is not compared."""
        k06 = self.k06()
        k07 = self.k07()
        integration_months = (
            self.integration_months()
            .filter(pl.col("counts") & (pl.col("month") <= self.last_month))
            .with_columns((pl.col("month") // 12 + 1970).alias("year"))
            .group_by("jobcenter", "year")
            .len()
        )
        delivering = {j.kreis for j in self.w.profile.jobcenters}
        rows = []
        for year in self.years:
            d = day(dt.date(year, 12, 31))
            reported = [nr for nr in self.w.workshops["werkstatt_nr"] if self._has_snapshot(nr, d)]
            persons = self.in_ab_on_december_31(year).filter(pl.col("werkstatt_nr").is_in(reported))
            ab = dict(persons.group_by("wohnort_kreis").agg(pl.col("person_id").n_unique()).iter_rows())
            biap = dict(
                persons.filter("on_biap")
                .group_by("wohnort_kreis")
                .agg(pl.col("person_id").n_unique())
                .iter_rows()
            )
            seats = self.transitions_in(year).with_columns(
                pl.col("werkstatt_nr").replace_strict(self.kreis_of).alias("seat")
            )
            transitions = dict(seats.group_by("seat").len().iter_rows())
            gaps = self._december_gaps(year)
            december = month_label(month_of(year, 12))
            customers = {
                jc: sb + gl
                for jc, sb, gl in k06.filter(pl.col("month") == december)
                .select("jobcenter", "sb", "gl")
                .iter_rows()
            }
            k07_december = dict(
                k07.filter(pl.col("month") == december).select("jobcenter", "value").iter_rows()
            )
            months = dict(
                integration_months.filter(pl.col("year") == year).select("jobcenter", "len").iter_rows()
            )
            for kreis in sorted(nrw_kreise()["kreisschluessel"]):
                rows.append(
                    {
                        "kreisschluessel": kreis,
                        "year": year,
                        "ab_persons": ab.get(kreis, 0) if reported and kreis not in gaps else None,
                        "biap_persons": biap.get(kreis, 0) if reported and kreis not in gaps else None,
                        "transitions": transitions.get(kreis, 0),
                        "sb_gl_customers_december": customers.get(kreis),
                        "sb_gl_integration_months": months.get(kreis, 0) if kreis in delivering else None,
                        "k07_december": k07_december.get(kreis),
                    }
                )
        return pl.DataFrame(rows, schema=_K14_SCHEMA)

    def _december_gaps(self, year: int) -> set[str]:
        """The Kreise where a workshop without its December snapshot of the year had persons in AB
        in its latest snapshot of the year: their December counts would lack them. A workshop of
        the year's register that sent no snapshot of it at all: its seat's Kreis."""
        kreise: set[str] = set()
        recognised = set(self._recognised_by(year))
        for nr in self.w.workshops["werkstatt_nr"]:
            stichtage = [int(month_last_day(month_of(year, m))) for m in range(1, 13)]
            delivered = [d for d in stichtage if self._has_snapshot(nr, d)]
            if not delivered and nr in recognised:
                kreise.add(self.kreis_of[nr])
            if not delivered or delivered[-1] == stichtage[-1]:
                continue
            persons = self.in_ab_on(delivered[-1])
            kreise |= set(persons.filter(pl.col("werkstatt_nr") == nr)["wohnort_kreis"])
        return kreise

    def computed_ld(self) -> pl.DataFrame:
        """What the Leistungsdokumentation figures are when computed from person-level data."""
        rows = []
        for year in self.years:
            counts = self.ab_and_biap(year)
            t = self.transitions_in(year)
            n_t = dict(t.group_by("werkstatt_nr").len().iter_rows())
            n_bfa = dict(t.filter(pl.col("art") == "BFA").group_by("werkstatt_nr").len().iter_rows())
            for nr, c in counts.items():
                rows.append(
                    {
                        "werkstatt_nr": nr,
                        "landschaftsverband": self.lv_of[nr],
                        "year": year,
                        "ab": c[0] if c else None,
                        "biap": c[1] if c else None,
                        "transitions": n_t.get(nr, 0) if self._sent_transitions(nr) else None,
                        "bfa": n_bfa.get(nr, 0) if self._sent_transitions(nr) else None,
                    }
                )
        return pl.DataFrame(rows, schema=_LD_SCHEMA)

    def k12(self, reported: pl.DataFrame) -> pl.DataFrame:
        computed = self.computed_ld()
        both = computed.join(
            reported,
            on=["werkstatt_nr", "landschaftsverband", "year"],
            how="full",
            suffix="_reported",
            coalesce=True,
        )
        rows = []
        for r in both.iter_rows(named=True):
            for measure in ("ab", "biap", "transitions", "bfa"):
                comp, rep = r[measure], r[f"{measure}_reported"]
                status = "fehlt" if comp is None or rep is None else ("ok" if comp == rep else "abweichung")
                rows.append(
                    {
                        "werkstatt_nr": r["werkstatt_nr"],
                        "year": r["year"],
                        "measure": measure,
                        "reported": rep,
                        "computed": comp,
                        "difference": None if status == "fehlt" else comp - rep,
                        "status": status,
                    }
                )
        return pl.DataFrame(rows, schema=_K12_SCHEMA).sort("werkstatt_nr", "year", "measure")


def _hits(frame: pl.DataFrame, key: str) -> dict[str, tuple[int, int]]:
    """Per key: how many rows, and how many of them with ``hit``."""
    return {k: (n, h) for k, n, h in frame.group_by(key).agg(pl.len(), pl.col("hit").sum()).iter_rows()}


def _year_month(d: int) -> tuple[int, int]:
    date = dt.date(1970, 1, 1) + dt.timedelta(days=d)
    return date.year, date.month


def _no_snapshot(year: int) -> str:
    return f"no personen snapshot for December {year}"


def _fmt(value: Fraction | None) -> str | None:
    return None if value is None else str(round_half_away(value))


_K01_SCHEMA = {
    "werkstatt_nr": pl.String,
    "landschaftsverband": pl.String,
    "year": pl.Int64,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.String,
    "rank": pl.Int64,
    "value_prev_year": pl.String,
    "rank_prev_year": pl.Int64,
    "missing_reason": pl.String,
}
_RATE_SCHEMA_WS = {
    "werkstatt_nr": pl.String,
    "landschaftsverband": pl.String,
    "year": pl.Int64,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.String,
    "missing_reason": pl.String,
}
_RATE_SCHEMA_JC = {
    "jobcenter": pl.String,
    "year": pl.Int64,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.String,
    "is_provisional": pl.Boolean,
    "missing_reason": pl.String,
}
_K07_SCHEMA = {
    "jobcenter": pl.String,
    "month": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.String,
    "value": pl.String,
    "missing_reason": pl.String,
}
_K10_SCHEMA = {
    "landschaftsverband": pl.String,
    "year": pl.Int64,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.String,
    "is_provisional": pl.Boolean,
    "missing_reason": pl.String,
}
_K11_SCHEMA = {
    "kreisschluessel": pl.String,
    "year": pl.Int64,
    "entrants": pl.Int64,
    "from_jobcenter": pl.Int64,
    "is_provisional": pl.Boolean,
}
_LD_SCHEMA = {
    "werkstatt_nr": pl.String,
    "landschaftsverband": pl.String,
    "year": pl.Int64,
    "ab": pl.Int64,
    "biap": pl.Int64,
    "transitions": pl.Int64,
    "bfa": pl.Int64,
}
_K12_SCHEMA = {
    "werkstatt_nr": pl.String,
    "year": pl.Int64,
    "measure": pl.String,
    "reported": pl.Int64,
    "computed": pl.Int64,
    "difference": pl.Int64,
    "status": pl.String,
}

_K14_SCHEMA = {
    "kreisschluessel": pl.String,
    "year": pl.Int64,
    "ab_persons": pl.Int64,
    "biap_persons": pl.Int64,
    "transitions": pl.Int64,
    "sb_gl_customers_december": pl.Int64,
    "sb_gl_integration_months": pl.Int64,
    "k07_december": pl.String,
}

KPI_FILES = {
    "k01_biap_quote": Oracle.k01,
    "k02_uebergangsquote": Oracle.k02,
    "k04_rueckkehrquote": Oracle.k04,
    "k06_zielgruppenbestand": Oracle.k06,
    "k07_integrationsquote_sb": Oracle.k07,
    "k08_werkakademie_integrationsquote": Oracle.k08,
    "k09_uebernahmequote_praktikum": Oracle.k09,
    "k10_uebergang_dann_arbeitslos": Oracle.k10,
    "k11_jobcenter_in_werkstatt": Oracle.k11,
    "k14_regionaluebersicht": Oracle.k14,
}
