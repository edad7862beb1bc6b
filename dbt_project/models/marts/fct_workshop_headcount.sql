-- Workshop headcount per Stichtag and area: distinct persons in the workshop on the last day of each
-- delivered month (kpis.md "In the workshop on day d"). Grain: workshop, month, area.
-- Incremental by delivered month.
{{ config(
    materialized='incremental',
    unique_key=['werkstatt_nr', 'month'],
    incremental_strategy='delete+insert',
    post_hook="{{ delete_emptied_partitions('wfbm', 'werkstatt_nr', 'month') }}",
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

select
    werkstatt_nr,
    month,
    stichtag,
    area,
    count(distinct person_local_key) as persons,
    {{ delivered_through() }} as delivered_through
from {{ ref('stg_wfbm__persons') }}
where
    entry_date <= stichtag and (exit_date is null or exit_date >= stichtag)
    {{ changed_partitions('wfbm', 'werkstatt_nr', 'month') }}  -- noqa: LT02, LT05
group by werkstatt_nr, month, stichtag, area
