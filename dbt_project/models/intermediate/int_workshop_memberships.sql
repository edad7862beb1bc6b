-- Workshop memberships summarised from the monthly snapshots: one row per workshop, person and
-- Eintritt. Incremental by workshop (macros/incremental_senders.sql): a new month extends the
-- memberships; a correction of an earlier month summarises the workshop anew.
{{ config(
    materialized='incremental',
    unique_key=['werkstatt_nr'],
    incremental_strategy='delete+insert',
    post_hook="{{ delete_unwritten_senders('wfbm', 'werkstatt_nr') }}",
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

with
{%- if extends_summaries() %}

    senders as (
        {{ changed_senders('wfbm') }}
    ),
{%- endif %}

-- Each aggregate can be merged with the one already summarised: the new months are later than
-- every month before, so the latest non-empty exit reason or area is the new one where there is.
new_months as (
    select
        snapshots.werkstatt_nr,
        snapshots.person_local_key,
        any_value(snapshots.person_key) as person_key,
        snapshots.entry_date,
        max(snapshots.exit_date) as exit_date,
        arg_max(snapshots.exit_reason, snapshots.stichtag) as exit_reason,
        arg_max(snapshots.area, snapshots.stichtag) as last_area,
        min(snapshots.month) as first_month_seen,
        max(snapshots.month) as last_month_seen,
        count(*) as snapshots
    from {{ ref('stg_wfbm__persons') }} as snapshots
    {{ only_changed_senders('snapshots', 'werkstatt_nr', 'month') }}
    group by snapshots.werkstatt_nr, snapshots.person_local_key, snapshots.entry_date
),

summaries as (
    select * from new_months
    {%- if extends_summaries() %}
        union all
        select * exclude (delivered_through) from {{ this }}
        where werkstatt_nr in (select sender from senders where appends)
    {%- endif %}
)

select
    werkstatt_nr,
    person_local_key,
    any_value(person_key) as person_key,
    entry_date,
    max(exit_date) as exit_date,
    arg_max(exit_reason, last_month_seen) as exit_reason,
    arg_max(last_area, last_month_seen) as last_area,
    min(first_month_seen) as first_month_seen,
    max(last_month_seen) as last_month_seen,
    cast(sum(snapshots) as bigint) as snapshots,
    {{ delivered_through() }} as delivered_through
from summaries
group by werkstatt_nr, person_local_key, entry_date
