-- Per workshop and delivered monthly snapshot: distinct persons in AB and on BiAp on the Stichtag.
-- On BiAp is missing, not 0, where the month's Außenarbeitsplätze did not arrive (no file, or it was
-- rejected): a partners' review found a workshop's December placements file rejected and its K01
-- published as 0 % and ranked last (a header-only file is a month without placements: 0).
-- Incremental by delivered month, as int_work_area_persons that it counts (a table built before it
-- was incremental gets its bookkeeping column on the next build: macros/incremental_months.sql).
{{ config(
    materialized='incremental',
    unique_key=['werkstatt_nr', 'month'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_emptied_partitions('wfbm', 'werkstatt_nr', 'month') }}",
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

with snapshots as (
    select distinct
        werkstatt_nr,
        month,
        stichtag
    from {{ ref('stg_wfbm__persons') }}
    where true {{ changed_partitions('wfbm', 'werkstatt_nr', 'month') }}
),

counts as (
    select
        werkstatt_nr,
        month,
        count(distinct person_local_key) as ab_persons,
        count(distinct person_local_key) filter (where is_on_biap) as biap_persons
    from {{ ref('int_work_area_persons') }}
    where true {{ changed_partitions('wfbm', 'werkstatt_nr', 'month') }}
    group by werkstatt_nr, month
),

placement_files as (  -- a month's Außenarbeitsplätze loaded: their file, or the workbook's sheet
    select distinct
        sender as werkstatt_nr,
        period as month
    from {{ ref('stg_ops__deliveries') }}
    where source_system = 'wfbm' and (part = 'aussenarbeitsplaetze' or format = 'wfbm_xlsx')
)

select
    snapshots.werkstatt_nr,
    snapshots.month,
    snapshots.stichtag,
    coalesce(counts.ab_persons, 0) as ab_persons,
    case when placement_files.month is not null then coalesce(counts.biap_persons, 0) end as biap_persons,
    {{ delivered_through() }} as delivered_through
from snapshots
left join counts on snapshots.werkstatt_nr = counts.werkstatt_nr and snapshots.month = counts.month
left join placement_files
    on snapshots.werkstatt_nr = placement_files.werkstatt_nr and snapshots.month = placement_files.month
