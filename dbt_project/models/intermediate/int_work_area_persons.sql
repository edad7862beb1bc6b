-- Persons in the work area (AB) on each delivered snapshot's Stichtag (kpis.md "In AB on d"), and
-- whether they are on BiAp then ("BiAp on d": a BIAP or BIG placement running on d, from the
-- placement file of the same month). Grain: workshop, month, person. Incremental by delivered month.
{{ config(
    materialized='incremental',
    unique_key=['werkstatt_nr', 'month'],
    incremental_strategy='delete+insert',
    post_hook="{{ delete_emptied_partitions('wfbm', 'werkstatt_nr', 'month') }}",
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

with in_work_area as (  -- a person once per snapshot (the contract, and the staging model's test)
    select
        werkstatt_nr,
        month,
        stichtag,
        person_local_key,
        person_key,
        residence_kreisschluessel
    from {{ ref('stg_wfbm__persons') }}
    where
        area = 'work_area'
        and entry_date <= stichtag
        and (exit_date is null or exit_date >= stichtag)
        {{ changed_partitions('wfbm', 'werkstatt_nr', 'month') }}  -- noqa: LT02, LT05
),

on_biap as (
    select distinct
        werkstatt_nr,
        month,
        person_local_key
    from {{ ref('stg_wfbm__placements') }}
    where
        is_biap and start_date <= stichtag and (end_date is null or end_date >= stichtag)
        {{ changed_partitions('wfbm', 'werkstatt_nr', 'month') }}  -- noqa: LT02, LT05
)

select
    in_work_area.*,
    on_biap.person_local_key is not null as is_on_biap,
    {{ delivered_through() }} as delivered_through
from in_work_area
left join on_biap
    on
        in_work_area.werkstatt_nr = on_biap.werkstatt_nr
        and in_work_area.month = on_biap.month
        and in_work_area.person_local_key = on_biap.person_local_key
