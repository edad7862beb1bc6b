-- The delivery calendar (issue 17): which sender should have sent which part for which period by
-- when, and whether it did. Grain: sender, part, period.
--
-- Who is expected: a workshop in every month in which it is in its Landschaftsverband's register
-- in force on the Stichtag (the first register also before it arrived) and recognised by then; a
-- Jobcenter from the first month it delivered (it joined the exchange) on; each Landschaftsverband
-- its yearly files. The calendar runs from the first month a file of the kind with data rows came
-- to the newest month any sender of the kind delivered, so a month nobody has sent yet is not 150
-- overdue files, nor one sender's stray quiet month 24 years of them; a year once its December
-- is in. Due dates come from the seed delivery_due_dates.
{% set as_of = "date '" ~ var('as_of') ~ "'" if var('as_of') else 'current_date' %}

with rules as (
    select * from {{ ref('delivery_due_dates') }}
),

deliveries as (
    -- a workshop's workbook delivers all three of its parts
    select
        source_system,
        sender,
        {{ calendar_parts() }} as part,
        period,
        received_at,
        rows_in,
        file_name
    from {{ ref('stg_ops__deliveries') }}
    where format != 'lv_register'
),

first_received as (
    select
        source_system,
        sender,
        part,
        period,
        min(received_at) as received_at,
        arg_min(file_name, received_at) as file_name
    from deliveries
    group by all
),

-- files that came and were rejected (a workbook for each of its parts): an overdue file that was
-- sent is not one the sender forgot (a partners' review: "Wir haben geliefert")
rejected as (
    select
        sender,
        part,
        period,
        max(received_on) as rejected_on
    from (
        select
            sender,
            {{ calendar_parts() }} as part,
            period,
            cast(received_at as date) as received_on
        from {{ source('ops', 'delivery_log') }}
        where status = 'rejected' and sender is not null and period is not null
    )
    group by all
),

month_spans as (
    -- from the first month a file with data rows came (a quiet month of 2000, dated so by its
    -- modification time, made 9,609 files overdue), to the newest month any sender delivered
    select
        source_system,
        cast(coalesce(min(period) filter (where rows_in > 0), min(period)) || '-01' as date) as first_month,
        cast(max(period) || '-01' as date) as last_month
    from deliveries
    where length(period) = 7
    group by all
),

months as (
    select
        source_system,
        strftime(month_start, '%Y-%m') as period,
        last_day(month_start) as stichtag
    from (
        select
            source_system,
            cast(unnest(generate_series(first_month, last_month, interval 1 month)) as date) as month_start
        from month_spans
    ) as month_starts
),

register_versions as (
    select distinct
        landschaftsverband,
        register_received_on
    from {{ ref('stg_lv__workshops') }}
),

registers as (
    -- each register version of a Landschaftsverband: in force from its arrival to the next one's
    select
        landschaftsverband,
        register_received_on,
        coalesce(
            lead(register_received_on) over (partition by landschaftsverband order by register_received_on)
            - 1,
            date '9999-12-31'
        ) as in_force_to,
        row_number() over (partition by landschaftsverband order by register_received_on) = 1 as is_first
    from register_versions
),

listed as (
    select
        workshops.werkstatt_nr,
        workshops.landschaftsverband,
        workshops.recognised_since,
        case when registers.is_first then date '0001-01-01' else registers.register_received_on end
            as in_force_from,
        registers.in_force_to
    from {{ ref('stg_lv__workshops') }} as workshops
    inner join registers
        on
            workshops.landschaftsverband = registers.landschaftsverband
            and workshops.register_received_on = registers.register_received_on
),

registered_workshops as (
    select distinct
        werkstatt_nr,
        landschaftsverband
    from listed
),

workshop_months as (
    select
        'wfbm' as source_system,
        'werkstatt' as sender_kind,
        workshops.werkstatt_nr as sender,
        workshops.landschaftsverband,
        months.period,
        bool_or(
            in_force.werkstatt_nr is not null
            and coalesce(in_force.recognised_since, date '0001-01-01') <= months.stichtag
        ) as is_expected
    from registered_workshops as workshops
    inner join months on months.source_system = 'wfbm'
    left join listed as in_force
        on
            workshops.werkstatt_nr = in_force.werkstatt_nr
            and months.stichtag between in_force.in_force_from and in_force.in_force_to
    group by all
),

joined_jobcenters as (
    select
        sender,
        min(period) as first_period
    from deliveries
    where source_system = 'jc'
    group by all
),

jobcenter_months as (
    select
        'jc' as source_system,
        'jobcenter' as sender_kind,
        joined.sender,
        regions.landschaftsverband,
        months.period,
        months.period >= joined.first_period as is_expected
    from joined_jobcenters as joined
    inner join months on months.source_system = 'jc'
    left join {{ ref('dim_regions') }} as regions on joined.sender = regions.kreisschluessel
),

landschaftsverband_years as (
    -- a year's files once its December is in the calendar of workshop months
    select distinct
        'lv' as source_system,
        'landschaftsverband' as sender_kind,
        registers.landschaftsverband as sender,
        registers.landschaftsverband,
        left(months.period, 4) as period,
        true as is_expected
    from registers
    inner join months on months.source_system = 'wfbm' and right(months.period, 2) = '12'
),

senders as (
    select * from workshop_months
    union all
    select * from jobcenter_months
    union all
    select * from landschaftsverband_years
),

calendar as (
    select
        senders.*,
        rules.part,
        rules.period_kind,
        -- the due month: the period's last month plus months_after; the day clamped to its length
        last_day(
            cast(
                (case when rules.period_kind = 'year' then senders.period || '-12' else senders.period end)
                || '-01' as date
            )
            + to_months(rules.months_after)
        ) as due_month_end,
        rules.due_day
    from senders
    inner join rules on senders.source_system = rules.source_system
),

dated as (
    select
        *,
        make_date(year(due_month_end), month(due_month_end), least(due_day, day(due_month_end))) as due_on
    from calendar
)

select
    dated.sender,
    dated.sender_kind,
    dated.landschaftsverband,
    dated.part,
    dated.period,
    dated.period_kind,
    dated.due_on,
    received.received_at,
    received.file_name,
    case
        when not dated.is_expected then 'not_expected'
        when received.received_at is not null
            then case when cast(received.received_at as date) <= dated.due_on then 'on_time' else 'late' end
        when {{ as_of }} > dated.due_on then 'overdue'
        else 'pending'
    end as status,
    case
        when not dated.is_expected then null
        when received.received_at is not null
            then greatest(cast(received.received_at as date) - dated.due_on, 0)
        when {{ as_of }} > dated.due_on then {{ as_of }} - dated.due_on
    end as days_late,
    case when received.received_at is null then rejected.rejected_on end as rejected_on,
    {{ as_of }} as as_of
from dated
left join first_received as received
    on
        dated.source_system = received.source_system
        and dated.sender = received.sender
        and dated.part = received.part
        and dated.period = received.period
left join rejected
    on dated.sender = rejected.sender and dated.part = rejected.part and dated.period = rejected.period
