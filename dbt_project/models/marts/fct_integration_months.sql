-- Integration months (kpis.md): a customer with at least one job start in a month, once, with the
-- SB/GL status of that month's kunden snapshot, or the previous month's if absent from it.
with months as (
    select distinct
        jobcenter,
        kunde_key,
        integration_month as month
    from {{ ref('stg_jc__integrations') }}
),

-- Both months looked up in one pass over the snapshots (millions of rows), not one join each.
looked_up as (
    select
        jobcenter,
        kunde_key,
        month,
        unnest([month, strftime(cast(month || '-01' as date) - interval 1 month, '%Y-%m')]) as status_month
    from months
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
    looked_up.jobcenter,
    looked_up.kunde_key,
    looked_up.month,
    cast(left(looked_up.month, 4) as integer) * 12
    + cast(right(looked_up.month, 2) as integer) - 1 as month_index,
    -- the same month's status where the customer is in its snapshot, else the previous month's
    coalesce(arg_max(status.is_sb_or_gl, status.month = looked_up.month), false) as counts_for_k07
from looked_up
left join status
    on
        looked_up.jobcenter = status.jobcenter
        and looked_up.kunde_key = status.kunde_key
        and looked_up.status_month = status.month
group by looked_up.jobcenter, looked_up.kunde_key, looked_up.month
