-- K09 Übernahmequote Praktikum: MAG spells ending in Y followed within 92 days by an integration at
-- the same employer (kpis.md rule) / MAG spells ending in Y * 100; missing where an integrationen
-- file of a month within a spell's 92 days is overdue. Grain: Jobcenter, year.
-- depends_on: {{ ref('fct_monthly_deliveries') }} (the macro newest_jobcenter_month reads it)
with spells as (
    select
        jobcenter,
        kunde_key,
        start_date,
        end_date,
        extract(year from end_date) as year,
        employer_key as employer
    from {{ ref('fct_measure_spells') }}
    where measure = 'employer_measure' and end_date is not null
),

spells_with_job as (
    select
        spells.*,
        exists(
            select 1
            from {{ ref('fct_integrations') }} as integrations
            where
                integrations.jobcenter = spells.jobcenter
                and integrations.kunde_key = spells.kunde_key
                and integrations.integration_date between spells.end_date and spells.end_date + 92
                and integrations.employer_key = spells.employer
        ) as taken_on
    from spells
),

overdue_measures as (
    {{ overdue_measures_in_year() }}
),

overdue_integrations as (
    {{ overdue_integrations_in('spells', 'end_date', 92) }}
),

counted as (
    select
        jobcenter,
        year,
        count(*) as spells,
        count(*) filter (where taken_on) as taken_on
    from spells_with_job
    group by jobcenter, year
)

select
    grain.jobcenter,
    grain.year,
    case
        when overdue_measures.jobcenter is null and overdue_integrations.jobcenter is null
            then coalesce(counted.taken_on, 0)
    end as numerator,
    case when overdue_measures.jobcenter is null then coalesce(counted.spells, 0) end as denominator,
    case
        when overdue_measures.jobcenter is null and overdue_integrations.jobcenter is null
            then {{ percent('counted.taken_on', 'counted.spells') }}
    end as value,
    -- the year's measures, or the integrations of their windows, not all loaded yet
    coalesce(grain.measures_until < make_date(grain.year, 12, 31), true)
    or coalesce(grain.integrations_until < make_date(grain.year, 12, 31) + 92, true) as is_provisional,
    case
        when overdue_measures.jobcenter is not null or overdue_integrations.jobcenter is not null
            then concat_ws('; ', overdue_measures.missing_reason, overdue_integrations.missing_reason)
        when coalesce(counted.spells, 0) = 0 then 'no MAG spells ending in the year'
    end as missing_reason
from {{ ref('int_jobcenter_years') }} as grain
left join counted on grain.jobcenter = counted.jobcenter and grain.year = counted.year
left join overdue_measures
    on grain.jobcenter = overdue_measures.jobcenter and grain.year = overdue_measures.year
left join overdue_integrations
    on grain.jobcenter = overdue_integrations.jobcenter and grain.year = overdue_integrations.year
