"""The linkage model: how two person records are compared, which pairs are compared at all, and how
the model learns its m and u probabilities without labels (linkage.md §3).

Comparisons work on the encodings only: the Dice similarity of the names' Bloom filters (computed in
SQL on DuckDB's BIT type), agreement levels of the birth date's keyed hashes (exact; day and month
swapped; two of three parts), sex and Kreis. Blocking uses the keyed phonetic codes and birth-date
hashes, so only plausible pairs are scored.
"""

from __future__ import annotations

import polars as pl
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

UPPER_THRESHOLD = 0.95  # a pair at or above is a link
LOWER_THRESHOLD = 0.50  # a pair below is no link; between the two: clerical review

ENCODED_COLUMNS = (
    "surname_bloom", "first_name_bloom", "surname_phonetic", "first_name_phonetic",
    "birth_date_hash", "birth_day_hash", "birth_month_hash", "birth_year_hash", "sex", "kreisschluessel",
)  # fmt: skip


def _dice(column: str, other: str | None = None) -> str:
    left, right = f'"{column}_l"', f'"{other or column}_r"'
    return f"2.0 * bit_count({left} & {right}) / (bit_count({left}) + bit_count({right}))"


def name_comparison(column: str, label: str, other: str) -> cl.CustomComparison:
    """Dice similarity of two Bloom filters at falling thresholds; below them, whether the name
    is the other record's ``other`` name (surname and first name swapped on a form)."""
    crossed = f"({_dice(column, other)} >= 0.8 or {_dice(other, column)} >= 0.8)"
    return cl.CustomComparison(
        output_column_name=column,
        comparison_description=f"{label}: Dice similarity of the keyed Bloom filters",
        comparison_levels=[
            cll.NullLevel(column),
            cll.CustomLevel(f'"{column}_l" = "{column}_r"', label_for_charts="identical"),
            *(
                cll.CustomLevel(f"{_dice(column)} >= {threshold}", label_for_charts=f"Dice >= {threshold}")
                for threshold in (0.9, 0.8, 0.7, 0.6, 0.5)
            ),
            cll.CustomLevel(crossed, label_for_charts="swapped with the other name"),
            cll.ElseLevel(),
        ],
    )


def birth_date_comparison() -> cl.CustomComparison:
    same = {part: f'"birth_{part}_hash_l" = "birth_{part}_hash_r"' for part in ("day", "month", "year")}
    swapped = (
        '"birth_day_hash_l" = "birth_month_hash_r" and "birth_month_hash_l" = "birth_day_hash_r" '
        f"and {same['year']}"
    )
    two_of_three = " + ".join(f"cast({condition} as integer)" for condition in same.values()) + " >= 2"
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description="birth date: keyed hashes of the date and of its parts",
        comparison_levels=[
            cll.NullLevel("birth_date_hash"),
            cll.CustomLevel('"birth_date_hash_l" = "birth_date_hash_r"', label_for_charts="exact"),
            cll.CustomLevel(swapped, label_for_charts="day and month swapped"),
            cll.CustomLevel(two_of_three, label_for_charts="two of three parts agree"),
            cll.ElseLevel(),
        ],
    )


def settings(link_type: str = "link_only", with_sex_and_kreis: bool = True) -> SettingsCreator:
    comparisons = [
        name_comparison("surname_bloom", "surname", "first_name_bloom"),
        name_comparison("first_name_bloom", "first name", "surname_bloom"),
        birth_date_comparison(),
    ]
    if with_sex_and_kreis:
        comparisons += [cl.ExactMatch("sex"), cl.ExactMatch("kreisschluessel")]
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            block_on("birth_date_hash"),
            block_on("surname_phonetic", "first_name_phonetic"),
            block_on("surname_phonetic", "birth_year_hash"),
            block_on("first_name_phonetic", "birth_year_hash", "birth_month_hash"),
            # surname and first name swapped on one of the forms
            "l.surname_phonetic = r.first_name_phonetic and l.first_name_phonetic = r.surname_phonetic",
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def trained_linker(
    db_api: DuckDBAPI, tables: list[str], link_settings: SettingsCreator, exact_share: float = 0.7
) -> Linker:
    """A linker over registered DuckDB tables, its parameters estimated without labels: the prior
    from the pairs that agree on everything (``exact_share``: the share of true matches expected to
    agree exactly: most in registers, few in a benchmark whose every duplicate is corrupted), u from
    random pairs, m by expectation maximisation (blocked on the birth date to learn the names, on
    the names to learn the birth date)."""
    frames = [db_api.register(table, table_name=f"linkage_input_{i}") for i, table in enumerate(tables)]
    linker = Linker(frames, link_settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("surname_phonetic", "first_name_phonetic", "birth_date_hash")], recall=exact_share
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date_hash"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname_phonetic", "first_name_phonetic")
    )
    return linker


def one_to_one(pairs: pl.DataFrame) -> pl.DataFrame:
    """Each record linked to at most one record of the other source: the pairs taken greedily by
    falling match probability (a person appears once in each register)."""
    ranked = pairs.sort(["match_probability", "unique_id_l", "unique_id_r"], descending=[True, False, False])
    return ranked.unique("unique_id_l", keep="first", maintain_order=True).unique(
        "unique_id_r", keep="first", maintain_order=True
    )
