-- The grain of the yearly Jobcenter KPIs, and how far each Jobcenter's loaded data reaches: any of
-- its files, its massnahmen files (K08 counts the entries, K09 the ends of a year's measures) and
-- its integrationen files (K08 and K09 follow integrations in a window after a date: it is covered
-- only as far as those files reach).
with loaded as (
    select
        sender as jobcenter,
        part,
        period as month
    from {{ ref('stg_ops__deliveries') }}
    where source_system = 'jc'
),

jobcenters as (
    select
        jobcenter,
        last_day(cast(max(month) || '-01' as date)) as loaded_until,
        last_day(cast(max(month) filter (where part = 'integrationen') || '-01' as date))
            as integrations_until,
        last_day(cast(max(month) filter (where part = 'massnahmen') || '-01' as date)) as measures_until
    from loaded
    group by jobcenter
),

years as (
    select distinct cast(left(month, 4) as integer) as year
    from loaded
)

select
    jobcenters.jobcenter,
    years.year,
    jobcenters.loaded_until,
    jobcenters.integrations_until,
    jobcenters.measures_until
from jobcenters
cross join years
