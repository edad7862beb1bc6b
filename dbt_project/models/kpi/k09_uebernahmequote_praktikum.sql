-- K09 Übernahmequote Praktikum: MAG spells ending in Y followed within 92 days by an integration at
-- the same employer (kpis.md rule) / MAG spells ending in Y * 100. Grain: Jobcenter, year.
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
    coalesce(counted.taken_on, 0) as numerator,
    coalesce(counted.spells, 0) as denominator,
    {{ percent('counted.taken_on', 'counted.spells') }} as value,
    grain.loaded_until < make_date(grain.year, 12, 31) + 92 as is_provisional,
    case when coalesce(counted.spells, 0) = 0 then 'no MAG spells ending in the year' end as missing_reason
from {{ ref('int_jobcenter_years') }} as grain
left join counted on grain.jobcenter = counted.jobcenter and grain.year = counted.year
