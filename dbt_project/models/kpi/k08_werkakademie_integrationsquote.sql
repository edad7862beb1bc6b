-- K08 Werkakademie-Integrationsquote: persons entering WAK in Y (their first entry in Y) with an
-- integration within 183 days after it / persons entering WAK in Y * 100; missing where an
-- integrationen file of a month within an entrant's 183 days is overdue. Grain: Jobcenter, year.
-- depends_on: {{ ref('fct_monthly_deliveries') }} (the macro newest_jobcenter_month reads it)
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

overdue_measures as (
    {{ overdue_measures_in_year() }}
),

overdue_integrations as (
    {{ overdue_integrations_in('entries', 'entry_date', 183) }}
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
    case
        when overdue_measures.jobcenter is null and overdue_integrations.jobcenter is null
            then coalesce(counted.with_job, 0)
    end as numerator,
    case when overdue_measures.jobcenter is null then coalesce(counted.entrants, 0) end as denominator,
    case
        when overdue_measures.jobcenter is null and overdue_integrations.jobcenter is null
            then {{ percent('counted.with_job', 'counted.entrants') }}
    end as value,
    -- the year's measures, or the integrations of their windows, not all loaded yet
    coalesce(grain.measures_until < make_date(grain.year, 12, 31), true)
    or coalesce(grain.integrations_until < make_date(grain.year, 12, 31) + 183, true) as is_provisional,
    case
        when overdue_measures.jobcenter is not null or overdue_integrations.jobcenter is not null
            then concat_ws('; ', overdue_measures.missing_reason, overdue_integrations.missing_reason)
        when coalesce(counted.entrants, 0) = 0 then 'no Werkakademie entries in the year'
    end as missing_reason
from {{ ref('int_jobcenter_years') }} as grain
left join counted on grain.jobcenter = counted.jobcenter and grain.year = counted.year
left join overdue_measures
    on grain.jobcenter = overdue_measures.jobcenter and grain.year = overdue_measures.year
left join overdue_integrations
    on grain.jobcenter = overdue_integrations.jobcenter and grain.year = overdue_integrations.year
