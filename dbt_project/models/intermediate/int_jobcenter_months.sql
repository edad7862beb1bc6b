-- Every Jobcenter month whose kunden snapshot is loaded, with its SB, GL and Reha counts, and
-- whether its integrationen file is loaded too (K07 counts a month's integrations only then).
with loaded as (
    select distinct  -- a corrected month has its superseded delivery too
        sender as jobcenter,
        period as month
    from {{ ref('stg_ops__deliveries') }}
    where format = 'jc_csv' and part = 'kunden'
),

integration_files as (
    select distinct
        sender as jobcenter,
        period as month
    from {{ ref('stg_ops__deliveries') }}
    where format = 'jc_csv' and part = 'integrationen'
),

counts as (
    select
        jobcenter,
        month,
        count(*) filter (where is_severely_disabled) as sb,
        count(*) filter (where is_gleichgestellt) as gl,
        count(*) filter (where is_rehabilitand) as rehabilitanden,
        count(*) filter (where is_severely_disabled or is_gleichgestellt or is_rehabilitand) as any_target
    from {{ ref('stg_jc__customers') }}
    group by jobcenter, month
)

select
    loaded.jobcenter,
    loaded.month,
    cast(left(loaded.month, 4) as integer) * 12 + cast(right(loaded.month, 2) as integer) - 1 as month_index,
    coalesce(counts.sb, 0) as sb,
    coalesce(counts.gl, 0) as gl,
    coalesce(counts.rehabilitanden, 0) as rehabilitanden,
    coalesce(counts.any_target, 0) as any_target,
    integration_files.month is not null as has_integrationen_file
from loaded
left join counts on loaded.jobcenter = counts.jobcenter and loaded.month = counts.month
left join integration_files
    on loaded.jobcenter = integration_files.jobcenter and loaded.month = integration_files.month
