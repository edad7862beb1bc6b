-- Integration months (kpis.md): a customer with at least one job start in a month, once, with the
-- SB/GL status of that month's kunden snapshot, or the previous month's if absent from it.
with months as (
    select distinct
        jobcenter,
        kunde_key,
        integration_month as month
    from {{ ref('stg_jc__integrations') }}
),

status as (
    select
        jobcenter,
        kunde_key,
        month,
        is_severely_disabled or is_gleichgestellt as is_sb_or_gl
    from {{ ref('stg_jc__customers') }}
)

select
    months.jobcenter,
    months.kunde_key,
    months.month,
    cast(left(months.month, 4) as integer) * 12 + cast(right(months.month, 2) as integer) - 1 as month_index,
    coalesce(same_month.is_sb_or_gl, previous_month.is_sb_or_gl, false) as counts_for_k07
from months
left join status as same_month
    on
        months.jobcenter = same_month.jobcenter
        and months.kunde_key = same_month.kunde_key
        and months.month = same_month.month
left join status as previous_month
    on
        months.jobcenter = previous_month.jobcenter
        and months.kunde_key = previous_month.kunde_key
        -- the month computed on the small side: the snapshots are joined on their plain column
        and strftime(cast(months.month || '-01' as date) - interval 1 month, '%Y-%m') = previous_month.month
