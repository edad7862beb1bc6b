-- K08 Werkakademie-Integrationsquote: persons entering WAK in Y (their first entry in Y) with an
-- integration within 183 days after it / persons entering WAK in Y * 100. Grain: Jobcenter, year.
with entries as (
    select
        jobcenter,
        kunde_key,
        extract(year from start_date) as year,
        min(start_date) as entry_date
    from {{ ref('fct_measure_spells') }}
    where measure = 'werkakademie'
    group by jobcenter, kunde_key, extract(year from start_date)
),

entries_with_job as (
    select
        entries.*,
        exists(
            select 1
            from {{ ref('fct_integrations') }} as integrations
            where
                integrations.jobcenter = entries.jobcenter
                and integrations.kunde_key = entries.kunde_key
                and integrations.integration_date between entries.entry_date and entries.entry_date + 183
        ) as has_job
    from entries
),

counted as (
    select
        jobcenter,
        year,
        count(*) as entrants,
        count(*) filter (where has_job) as with_job
    from entries_with_job
    group by jobcenter, year
)

select
    grain.jobcenter,
    grain.year,
    coalesce(counted.with_job, 0) as numerator,
    coalesce(counted.entrants, 0) as denominator,
    {{ percent('counted.with_job', 'counted.entrants') }} as value,
    grain.loaded_until < make_date(grain.year, 12, 31) + 183 as is_provisional,
    case when coalesce(counted.entrants, 0) = 0 then 'no Werkakademie entries in the year' end
        as missing_reason
from {{ ref('int_jobcenter_years') }} as grain
left join counted on grain.jobcenter = counted.jobcenter and grain.year = counted.year
