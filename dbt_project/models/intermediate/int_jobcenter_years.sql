-- The grain of the yearly Jobcenter KPIs, and how far each Jobcenter's loaded data reaches.
with loaded as (
    select
        sender as jobcenter,
        period as month
    from {{ ref('stg_ops__deliveries') }}
    where source_system = 'jc'
),

jobcenters as (
    select
        jobcenter,
        last_day(cast(max(month) || '-01' as date)) as loaded_until
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
    jobcenters.loaded_until
from jobcenters
cross join years
