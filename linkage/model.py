"""The linkage model: how two person records are compared, which pairs are compared at all, and how
the model learns its m and u probabilities without labels (linkage.md §3).

Comparisons work on the encodings only: the Dice similarity of the names' Bloom filters (computed in
SQL on DuckDB's BIT type), agreement levels of the birth date's keyed hashes (exact; day and month
swapped; one digit mistyped; two of three parts), sex and Kreis. Blocking uses the keyed phonetic codes and birth-date
hashes, so only plausible pairs are scored.
"""

from __future__ import annotations

import logging
import math
import re
import uuid

import polars as pl
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator
from splink.internals.exceptions import SplinkException

LOG = logging.getLogger(__name__)

UPPER_THRESHOLD = 0.95  # a pair at or above is a link
# Random pairs to estimate u from: enough for the rarest level's u to a few percent (its share of
# random pairs is ~1e-4), and a few seconds' work once per training.
U_SAMPLE_PAIRS = 500_000
LOWER_THRESHOLD = 0.50  # a pair below is no link; between the two: clerical review


def _dice(column: str, other: str | None = None) -> str:
    """The Dice coefficient of two filters; their bit counts are columns (``prepared``)."""
    left, right = f'"{column}_l"', f'"{other or column}_r"'
    return f'2.0 * bit_count({left} & {right}) / ("{column}_bits_l" + "{other or column}_bits_r")'


def prepared(relation: str) -> str:
    """The SQL that makes a model's input from encoded records (Bloom filters as text or as their
    bytes): the filters as DuckDB BITs and their bit counts, counted once per record instead of
    once per pair."""
    return f"""
        select * replace (surname_bloom::bit as surname_bloom, first_name_bloom::bit as first_name_bloom),
            bit_count(surname_bloom::bit) as surname_bloom_bits,
            bit_count(first_name_bloom::bit) as first_name_bloom_bits
        from {relation}"""


# Starting m probabilities (the share of true matches at each level, most agreeing first), from
# the literature's error rates of registers; EM re-estimates them where the data allows, and they
# stand where it does not (few true matches, e.g. a small data home's first deliveries).
NAME_M = (0.93, 0.025, 0.015, 0.01, 0.006, 0.004, 0.003)  # + else: the rest
BIRTH_DATE_M = (0.95, 0.01, 0.03)

# The supporting evidence: the share of matches that agree (m) and of random pairs (u; estimated
# from random pairs where they hold both values, which for the workshop is rare). Sex is recorded
# alike in nearly every register; a Kreis of residence differs between agencies after a move; a
# Budget für Arbeit case's Herkunft-Werkstatt is the workshop that reported the person, unless the
# person changed workshops, and one of ~100 workshops in a random pair.
SUPPORTING = {"sex": (0.98, 0.5), "kreisschluessel": (0.85, 1 / 53), "werkstatt_nr": (0.9, 0.01)}


# Which sources a pair of records comes from changes how likely it is a match: nearly every Budget
# für Arbeit case worked in a workshop, while most Jobcenter customers never did. The share of
# matches of each kind (m) is learned from the exact links (``source_pair_m``), the share of random
# pairs (u) from random pairs. The rest: one kind of source from two senders (a move, a change of
# workshop).
SOURCE_PAIRS = {
    "workshop and Budget für Arbeit": ("wfbm_personen", "lv_budget_fuer_arbeit"),
    "Jobcenter and workshop": ("jc_kunden", "wfbm_personen"),
    "Jobcenter and Budget für Arbeit": ("jc_kunden", "lv_budget_fuer_arbeit"),
}


def _source_pair_sql(tables: tuple[str, str]) -> str:
    left, right = (f"split_part(\"dataset_{side}\", '|', 1)" for side in ("l", "r"))
    a, b = tables
    return f"(({left} = '{a}' and {right} = '{b}') or ({left} = '{b}' and {right} = '{a}'))"


def source_pair_m(pairs: pl.DataFrame) -> list[float]:
    """The share of exact links (``pairs``: the two source tables of each, columns ``table_l``,
    ``table_r``) per kind of source pair, the rest last; one link added to each kind, so that a kind
    without an exact link yet keeps a chance."""
    counts = []
    for a, b in SOURCE_PAIRS.values():
        pair = ((pl.col("table_l") == a) & (pl.col("table_r") == b)) | (
            (pl.col("table_l") == b) & (pl.col("table_r") == a)
        )
        counts.append(pairs.filter(pair).height + 1)
    counts.append(pairs.height - sum(counts) + len(counts) + 1)
    return [count / sum(counts) for count in counts]


def source_pair_comparison(m: list[float]) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="source_pair",
        comparison_description="which kinds of source the two records come from",
        comparison_levels=[
            cll.NullLevel("dataset"),  # never null: keeps Splink's check quiet
            *(
                cll.CustomLevel(_source_pair_sql(tables), label_for_charts=label).configure(
                    m_probability=p, fix_m_probability=True
                )
                for (label, tables), p in zip(SOURCE_PAIRS.items(), m, strict=False)
            ),
            cll.ElseLevel().configure(m_probability=m[-1], fix_m_probability=True),
        ],
    )


def name_levels(column: str, other: str) -> list[tuple[str, str]]:
    """(SQL condition, words) of each agreement level of a name, strictest first: identical
    filters, Dice similarity at falling thresholds, then surname and first name swapped on a form:
    each name like the other record's other name (one of them may carry a typo). One name shared
    crosswise is no swap: many surnames are first names too (Werner, Otto, Peters/Peter), and at
    NRW scale such strangers born on one day made 9 of 25 wrong links, and EM took them for 17 %
    of all matches."""
    across, back = _dice(column, other), _dice(other, column)
    crossed = f"(({across} >= 0.8 and {back} >= 0.6) or ({back} >= 0.8 and {across} >= 0.6))"
    return [
        (f'"{column}_l" = "{column}_r"', "identical"),
        *((f"{_dice(column)} >= {t}", f"Dice >= {t}") for t in (0.9, 0.8, 0.7, 0.6, 0.5)),
        (crossed, "swapped with the other name"),
    ]


def birth_date_levels() -> list[tuple[str, str]]:
    """Agreement levels of the birth date's keyed hashes: exact; day and month swapped; two of the
    three parts agree (one part mistyped). (A level "one digit mistyped", from hashes of each date's
    one-digit variants, let a reader of the linkage schema recover every birth date: see
    ingest/encodings.py.)"""
    same = {part: f'"birth_{part}_hash_l" = "birth_{part}_hash_r"' for part in ("day", "month", "year")}
    two_of_three = " + ".join(f"cast({condition} as integer)" for condition in same.values()) + " >= 2"
    return [
        ('"birth_date_hash_l" = "birth_date_hash_r"', "exact"),
        ('"birth_swapped_hash_l" = "birth_date_hash_r"', "day and month swapped"),
        (two_of_three, "two of three parts agree"),
    ]


def _comparison(name: str, description: str, null_column: str, levels, m) -> cl.CustomComparison:
    """A comparison of the levels, each with its starting m probability; the else level the rest."""
    return cl.CustomComparison(
        output_column_name=name,
        comparison_description=description,
        comparison_levels=[
            cll.NullLevel(null_column),
            *(
                cll.CustomLevel(sql, label_for_charts=label).configure(m_probability=p)
                for (sql, label), p in zip(levels, m, strict=True)
            ),
            cll.ElseLevel().configure(m_probability=max(1e-4, 1 - sum(m))),
        ],
    )


def name_comparison(column: str, label: str, other: str) -> cl.CustomComparison:
    description = f"{label}: Dice similarity of the keyed Bloom filters"
    return _comparison(column, description, column, name_levels(column, other), NAME_M)


def birth_date_comparison() -> cl.CustomComparison:
    description = "birth date: keyed hashes of the date and of its parts"
    return _comparison("birth_date", description, "birth_date_hash", birth_date_levels(), BIRTH_DATE_M)


def agreement_sql() -> dict[str, str]:
    """For the review list: how each field of a pair agrees, in words (never a value), as SQL over
    a join of two records whose columns carry the suffixes ``_l`` and ``_r``."""
    levels = {
        "surname": ("surname_bloom", name_levels("surname_bloom", "first_name_bloom")),
        "first_name": ("first_name_bloom", name_levels("first_name_bloom", "surname_bloom")),
        "birth_date": ("birth_date_hash", birth_date_levels()),
        "sex": ("sex", [('"sex_l" = "sex_r"', "same")]),
        "kreis": ("kreisschluessel", [('"kreisschluessel_l" = "kreisschluessel_r"', "same")]),
        "werkstatt": ("werkstatt_nr", [('"werkstatt_nr_l" = "werkstatt_nr_r"', "same")]),
    }
    return {
        name: f'case when "{column}_l" is null or "{column}_r" is null then \'missing\' '
        + " ".join(f"when {sql} then '{label}'" for sql, label in conditions)
        + " else 'differs' end"
        for name, (column, conditions) in levels.items()
    }


# Which pairs are scored at all: each rule tolerates a different error. A birth date and one name's
# phonetic code (a typo or a married name in the other name); both names' codes and the birth year,
# or the day and month (a mistyped or swapped date); names swapped between the fields. Two errors in
# one record (a new surname and a mistyped date) are not found. Blocking on the birth date alone
# would score every pair born on one day: millions at NRW scale, almost all of them no match.
BLOCKING_RULES = (
    "l.birth_date_hash = r.birth_date_hash and l.surname_phonetic = r.surname_phonetic",
    "l.birth_date_hash = r.birth_date_hash and l.first_name_phonetic = r.first_name_phonetic",
    "l.surname_phonetic = r.surname_phonetic and l.first_name_phonetic = r.first_name_phonetic "
    "and l.birth_year_hash = r.birth_year_hash",
    "l.surname_phonetic = r.surname_phonetic and l.first_name_phonetic = r.first_name_phonetic "
    "and l.birth_month_hash = r.birth_month_hash and l.birth_day_hash = r.birth_day_hash",
    "l.surname_phonetic = r.first_name_phonetic and l.first_name_phonetic = r.surname_phonetic "
    "and l.birth_year_hash = r.birth_year_hash",
)


# For a benchmark whose every duplicate carries several errors (FEBRL4: often both names, or a name
# and the date): the birth date alone, both names' codes alone, one name's code with part of the date.
# At NRW scale they would add millions of pairs of common names and shared birthdays per year.
BROAD_RULES = (
    "l.birth_date_hash = r.birth_date_hash",
    "l.surname_phonetic = r.surname_phonetic and l.first_name_phonetic = r.first_name_phonetic",
    "l.surname_phonetic = r.surname_phonetic and l.birth_year_hash = r.birth_year_hash",
    "l.first_name_phonetic = r.first_name_phonetic and l.birth_year_hash = r.birth_year_hash "
    "and l.birth_month_hash = r.birth_month_hash",
)


def sharing_a_block(others: str) -> str:
    """SQL true of a record that some record of the relation ``others`` meets in a block of
    BLOCKING_RULES, on either side of the pair: the only records a new month's must be scored
    against (NRW 5 years + 1 month: 7,127 of 288,335 records with the new ones; "the same birth
    date, or the same two name codes" took 125,959). Each rule must be a conjunction of
    ``l.a = r.b``: anything else could not be read this way and is refused."""
    conditions = []
    for rule in BLOCKING_RULES:
        sides = re.findall(r"l\.(\w+) = r\.(\w+)", rule)
        if " and ".join(f"l.{a} = r.{b}" for a, b in sides) != rule:
            raise ValueError(f"a blocking rule that is no conjunction of equalities: {rule}")
        left, right = (", ".join(names) for names in zip(*sides, strict=True))
        conditions.append(f"({left}) in (select ({right}) from {others})")
        if left != right:
            conditions.append(f"({right}) in (select ({left}) from {others})")
    return "\n    or ".join(conditions)


def blocking_rules(condition: str = "", broad: bool = False) -> list[str]:
    """The blocking rules (``broad``: with BROAD_RULES), each narrowed by ``condition`` (e.g. only
    pairs across sources)."""
    rules = BLOCKING_RULES + (BROAD_RULES if broad else ())
    return [f"({rule}) and ({condition})" if condition else rule for rule in rules]


def settings(
    link_type: str = "link_only",
    with_sex_and_kreis: bool = True,
    condition: str = "",
    broad: bool = False,
    source_pairs_m: list[float] | None = None,
) -> SettingsCreator:
    comparisons = [
        name_comparison("surname_bloom", "surname", "first_name_bloom"),
        name_comparison("first_name_bloom", "first name", "surname_bloom"),
        birth_date_comparison(),
    ]
    if with_sex_and_kreis:
        comparisons += [
            cl.ExactMatch(column).configure(m_probabilities=[m, 1 - m], u_probabilities=[u, 1 - u])
            for column, (m, u) in SUPPORTING.items()
        ]
    if source_pairs_m:
        comparisons.append(source_pair_comparison(source_pairs_m))
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking_rules(condition, broad),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


# EM learns m from the pairs born on one day: the names and the supporting evidence. The birth
# date's own m is not learned: in a block on the names it is nearly the only evidence left, and
# EM then takes strangers of one name for matches with a wrong date (FEBRL4: 26 % of matches with
# another date, in truth 4 %); its starting values stand. At scale the block is taken over a share
# of the birth dates (their keyed hashes are random), enough for ~EM_RECORDS records: every
# pair born on one of those days, so the share teaches what the whole would (NRW 5 years: 5 s
# instead of 23 s).
EM_RECORDS = 100_000


# EM drives the m of a level that its pairs never show towards zero (NRW 5 years, simulated: sex
# differing 1e-40, another Herkunft-Werkstatt 1e-26), and one such difference then vetoes every link
# (-132 bits). Registers do disagree on sex or workshop now and then: no level's share of matches
# is taken below M_FLOOR, so such a pair of otherwise agreeing records goes to review instead of
# splitting a person silently.
M_FLOOR = 1e-3


def with_m_floor(model: dict) -> dict:
    """The model with every level's m at least M_FLOOR, each comparison's m summing to 1 again."""
    for comparison in model["comparisons"]:
        levels = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and level.get("m_probability") is not None
        ]
        if levels and min(level["m_probability"] for level in levels) < M_FLOOR:
            raised = [max(level["m_probability"], M_FLOOR) for level in levels]
            total = sum(raised)
            for level, m in zip(levels, raised, strict=True):
                level["m_probability"] = m / total
    return model


# Comparisons whose levels run from full agreement down (the else level last).
GRADED = ("surname_bloom", "first_name_bloom", "birth_date")


def with_agreement_bound(model: dict) -> dict:
    """No partial agreement counts for more than full agreement: a level's Bayes factor (m / u) at
    most that of its comparison's first level. Estimated apart, a near-identical first name
    (Jonas / Jona) weighed 8.8 bits against 6.4 for an identical one (random pairs rarely have
    names that close), so twins of one surname and birth date in two agencies linked more surely
    than one person spelled alike (a linkage review); and the names swapped between the fields,
    a level no random pair showed, got either no u (its pairs unscored) or one of 2·10⁻⁶ (+10.6
    bits, in both name comparisons at once). Such a level's u is raised to meet the bound."""
    for comparison in model["comparisons"]:
        if comparison.get("output_column_name") not in GRADED:
            continue
        full, *partial, _ = [
            level for level in comparison["comparison_levels"] if not level.get("is_null_level")
        ]
        if not isinstance(full.get("u_probability"), float | int) or not full["u_probability"]:
            continue
        bound = full["m_probability"] / full["u_probability"]
        for level in partial:
            u = level.get("u_probability")
            if not isinstance(u, float | int) or not u or level["m_probability"] / u > bound:
                level["u_probability"] = level["m_probability"] / bound
    return model


def usable(model: dict) -> dict:
    """A model as it scores pairs: no level's m below M_FLOOR, no partial agreement above full."""
    return with_agreement_bound(with_m_floor(model))


def em_block(records: int) -> str:
    sixteenths = min(16, math.ceil(16 * EM_RECORDS / max(records, 1)))
    same_day = "l.birth_date_hash = r.birth_date_hash"
    return same_day if sixteenths == 16 else f"{same_day} and l.birth_date_hash < '{sixteenths:x}'"


def trained_linker(
    db_api: DuckDBAPI,
    tables: list[str],
    link_settings: SettingsCreator,
    exact_share: float = 0.7,
    condition: str = "",
    expectation_maximisation: bool = True,
    records: int = 0,
) -> Linker:
    """A linker over registered DuckDB tables, its parameters estimated without labels: the prior
    from the pairs that agree on everything (``exact_share``: the share of true matches expected to
    agree exactly: most in registers, few in a benchmark whose every duplicate is corrupted), u from
    random pairs, m by expectation maximisation on pairs born on one day (``em_block``: of the
    ``records``), no level's m below M_FLOOR. ``condition`` narrows every training block as the
    blocking rules are narrowed."""
    # a name of its own per linker: a second training on the same connection must not collide
    run = uuid.uuid4().hex[:8]
    # each dataset under its own name: Splink samples u's random pairs by a hash of dataset and id,
    # so a name that changed from run to run gave another sample, and another model, every time
    frames = [
        db_api.register(table, table_name=f"linkage_input_{run}_{i}", dataset_display_name=table)
        for i, table in enumerate(tables)
    ]
    linker = Linker(frames, link_settings, log_level="WARNING")

    def rule(sql: str) -> str:
        return f"({sql}) and ({condition})" if condition else sql

    linker.training.estimate_probability_two_random_records_match(
        [
            rule(
                "l.surname_phonetic = r.surname_phonetic and l.first_name_phonetic = r.first_name_phonetic "
                "and l.birth_date_hash = r.birth_date_hash"
            )
        ],
        recall=exact_share,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=1)
    model = linker.misc.save_model_to_json()
    if expectation_maximisation:
        block = em_block(records)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule(block))
            model = linker.misc.save_model_to_json()
        except (ValueError, SplinkException) as error:  # too few matches in the block to estimate m
            # Splink's EM takes the comparisons its block uses out of the linker's settings and puts
            # them back only when it succeeds: the model from before it, not the linker's state
            # (which lacked the birth date comparison, and the stage failed on it).
            LOG.warning("EM blocked on %s did not converge (%s): the starting m values stand", block, error)
    return Linker(frames, usable(model), log_level="WARNING")
