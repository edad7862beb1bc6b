-- Every contact of an employer with the system, by Kreis and year, keyed by the same-employer
-- rule: placements of a workshop in the Kreis (in a monthly file of Y), transitions from it (Datum
-- in Y), Budget für Arbeit cases from it (active in Y), and SB/GL integrations by the Kreis'
-- Jobcenter (in Y). An employer's industry is dim_employers' (from every fact), not a contact's.
with years as (
    select distinct year from {{ ref('int_workshop_years') }}
),

workshops as (
    select
        werkstatt_nr,
        kreisschluessel
    from {{ ref('dim_workshops') }}
    where is_current
),

placements as (
    select distinct
        workshops.kreisschluessel,
        years.year,
        'placement' as contact,
        placements.employer_name
    from {{ ref('stg_wfbm__placements') }} as placements
    inner join workshops on placements.werkstatt_nr = workshops.werkstatt_nr
    inner join years on left(placements.month, 4) = cast(years.year as varchar)
),

transitions as (
    select
        workshops.kreisschluessel,
        transitions.transition_year as year,
        'transition' as contact,
        transitions.employer_name
    from {{ ref('int_transitions_deduplicated') }} as transitions
    inner join workshops on transitions.werkstatt_nr = workshops.werkstatt_nr
),

budget_cases as (
    select
        cases.origin_kreisschluessel as kreisschluessel,
        years.year,
        'budget_fuer_arbeit' as contact,
        cases.employer_name
    from {{ ref('fct_budget_fuer_arbeit_cases') }} as cases
    inner join years
        on
            cases.start_date <= make_date(years.year, 12, 31)
            and (cases.end_date is null or cases.end_date >= make_date(years.year, 1, 1))
    where cases.status != 'abgelehnt' and cases.origin_kreisschluessel != 'unbekannt'
),

integrations as (
    select
        integrations.jobcenter as kreisschluessel,
        extract(year from integrations.integration_date) as year,
        'integration' as contact,
        integrations.employer_name
    from {{ ref('stg_jc__integrations') }} as integrations
    inner join {{ ref('fct_integration_months') }} as months
        on
            integrations.jobcenter = months.jobcenter
            and integrations.kunde_key = months.kunde_key
            and integrations.integration_month = months.month
    where months.counts_for_k07
),

contacts as (
    select * from placements
    union all
    select * from transitions
    union all
    select * from budget_cases
    union all
    select * from integrations
)

select
    kreisschluessel,
    year,
    contact,
    {{ employer_key('employer_name') }} as employer_key,
    employer_name
from contacts
