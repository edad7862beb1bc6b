-- Per workshop and delivered monthly snapshot: distinct persons in AB and on BiAp on the Stichtag.
with snapshots as (
    select distinct
        werkstatt_nr,
        month,
        stichtag
    from {{ ref('stg_wfbm__persons') }}
),

in_work_area as (
    select distinct
        werkstatt_nr,
        month,
        person_local_key
    from {{ ref('stg_wfbm__persons') }}
    where
        area = 'work_area'
        and entry_date <= stichtag
        and (exit_date is null or exit_date >= stichtag)
),

on_biap as (
    select distinct
        placements.werkstatt_nr,
        placements.month,
        placements.person_local_key
    from {{ ref('stg_wfbm__placements') }} as placements
    inner join in_work_area
        on
            placements.werkstatt_nr = in_work_area.werkstatt_nr
            and placements.month = in_work_area.month
            and placements.person_local_key = in_work_area.person_local_key
    where
        placements.is_biap
        and placements.start_date <= placements.stichtag
        and (placements.end_date is null or placements.end_date >= placements.stichtag)
),

ab_counts as (
    select
        werkstatt_nr,
        month,
        count(*) as ab_persons
    from in_work_area
    group by werkstatt_nr, month
),

biap_counts as (
    select
        werkstatt_nr,
        month,
        count(*) as biap_persons
    from on_biap
    group by werkstatt_nr, month
)

select
    snapshots.werkstatt_nr,
    snapshots.month,
    snapshots.stichtag,
    coalesce(ab_counts.ab_persons, 0) as ab_persons,
    coalesce(biap_counts.biap_persons, 0) as biap_persons
from snapshots
left join ab_counts on snapshots.werkstatt_nr = ab_counts.werkstatt_nr and snapshots.month = ab_counts.month
left join
    biap_counts
    on snapshots.werkstatt_nr = biap_counts.werkstatt_nr and snapshots.month = biap_counts.month
