-- K05 Budget für Arbeit: cases active on 31.12.Y (status not abgelehnt, Beginn <= d, Ende empty or
-- >= d), new cases (Beginn in Y), and the mean monthly subsidy of the active cases.
-- Grain: Landschaftsverband, Kreis of the origin workshop ('unbekannt' if none), year.
with years as (
    select distinct year from {{ ref('int_workshop_years') }}
),

grain as (
    select distinct
        cases.landschaftsverband,
        cases.origin_kreisschluessel as kreisschluessel,
        years.year
    from {{ ref('fct_budget_fuer_arbeit_cases') }} as cases
    cross join years
),

figures as (
    select
        grain.landschaftsverband,
        grain.kreisschluessel,
        grain.year,
        count(cases.case_key) filter (
            where cases.start_date <= make_date(grain.year, 12, 31)
            and (cases.end_date is null or cases.end_date >= make_date(grain.year, 12, 31))
        ) as active_cases,
        count(cases.case_key) filter (where extract(year from cases.start_date) = grain.year) as new_cases,
        sum(cast(cases.monthly_subsidy_eur * 100 as bigint)) filter (
            where cases.start_date <= make_date(grain.year, 12, 31)
            and (cases.end_date is null or cases.end_date >= make_date(grain.year, 12, 31))
        ) as subsidy_cents
    from grain
    left join {{ ref('fct_budget_fuer_arbeit_cases') }} as cases
        on
            grain.landschaftsverband = cases.landschaftsverband
            and grain.kreisschluessel = cases.origin_kreisschluessel
            and cases.status != 'abgelehnt'
    group by grain.landschaftsverband, grain.kreisschluessel, grain.year
)

select
    landschaftsverband,
    kreisschluessel,
    year,
    active_cases,
    new_cases,
    {{ rounded_ratio('subsidy_cents', 'active_cases * 100') }} as mean_monthly_subsidy_eur,
    coalesce(subsidy_cents, 0) / 100.0 as subsidy_sum_eur,
    false as is_provisional,
    case when active_cases = 0 then 'no active cases on 31.12.' end as missing_reason
from figures
