-- K01 BiAp-Quote: persons on BiAp on 31.12.Y / persons in AB on 31.12.Y * 100, ranked within the
-- Landschaftsverband on the exact rate (1 = highest, ties share a rank), with last year's value.
with december as (
    select
        werkstatt_nr,
        cast(left(month, 4) as integer) as year,
        ab_persons,
        biap_persons
    from {{ ref('int_workshop_stichtag_counts') }}
    where right(month, 2) = '12'
),

rated as (
    select
        grain.werkstatt_nr,
        grain.landschaftsverband,
        grain.kreisschluessel,
        grain.year,
        december.biap_persons as numerator,
        december.ab_persons as denominator,
        {{ percent('december.biap_persons', 'december.ab_persons') }} as value,
        case
            when december.ab_persons is null
                then
                    'no personen snapshot for December ' || grain.year
                    || {{ overdue('grain.werkstatt_nr', 'personen', "grain.year || '-12'") }}
            when december.ab_persons = 0 then 'no persons in AB on 31.12.' || grain.year
            when december.biap_persons is null
                then {{ no_placements_file('grain.werkstatt_nr', 'grain.year') }}
        end as missing_reason
    from {{ ref('int_workshop_years') }} as grain
    left join december on grain.werkstatt_nr = december.werkstatt_nr and grain.year = december.year
),

ranked as (
    select
        *,
        case
            when value is not null
                then rank() over (
                    partition by landschaftsverband, year, value is not null
                    order by cast(numerator as double) / denominator desc
                )
        end as rank
    from rated
)

select
    this_year.werkstatt_nr,
    this_year.landschaftsverband,
    this_year.kreisschluessel,
    this_year.year,
    this_year.numerator,
    this_year.denominator,
    this_year.value,
    this_year.rank,
    last_year.value as value_prev_year,
    last_year.rank as rank_prev_year,
    false as is_provisional,
    {{ with_previous_year_reason(
        'this_year', 'last_year', 'werkstatt_nr', years='ranked', per_workshop=true
    ) }} as missing_reason
from ranked as this_year
left join ranked as last_year
    on this_year.werkstatt_nr = last_year.werkstatt_nr and this_year.year = last_year.year + 1
