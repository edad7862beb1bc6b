-- K05 Budget für Arbeit: cases active on 31.12.Y (status not abgelehnt, Beginn <= d, Ende empty or
-- >= d), new cases (Beginn in Y, status not abgelehnt either), and the mean monthly subsidy of the
-- active cases.
-- Grain: Landschaftsverband, Kreis of the origin workshop ('unbekannt' if none), year. A year whose
-- Budget für Arbeit file the Landschaftsverband has not delivered is missing, not zero.
with years as (
    select distinct year from {{ ref('int_workshop_years') }}
),

files as (
    select
        landschaftsverband,
        year
    from {{ ref('int_lv_file_years') }}
    where part = 'budget_fuer_arbeit'
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
    figures.landschaftsverband,
    figures.kreisschluessel,
    figures.year,
    case when files.year is not null then figures.active_cases end as active_cases,
    case when files.year is not null then figures.new_cases end as new_cases,
    case
        when files.year is not null
            then {{ rounded_ratio('figures.subsidy_cents', 'figures.active_cases * 100') }}
    end as mean_monthly_subsidy_eur,
    case when files.year is not null then coalesce(figures.subsidy_cents, 0) / 100.0 end as subsidy_sum_eur,
    false as is_provisional,
    case
        when files.year is null
            then
                'the Budget für Arbeit file of ' || figures.landschaftsverband || ' for ' || figures.year
                || ' has not been delivered'
        when figures.active_cases = 0 then 'no active cases on 31.12.'
    end as missing_reason
from figures
left join files on figures.landschaftsverband = files.landschaftsverband and figures.year = files.year
