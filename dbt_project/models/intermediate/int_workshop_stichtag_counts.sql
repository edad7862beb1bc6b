-- Per workshop and delivered monthly snapshot: distinct persons in AB and on BiAp on the Stichtag.
with snapshots as (
    select distinct
        werkstatt_nr,
        month,
        stichtag
    from {{ ref('stg_wfbm__persons') }}
),

counts as (
    select
        werkstatt_nr,
        month,
        count(distinct person_local_key) as ab_persons,
        count(distinct person_local_key) filter (where is_on_biap) as biap_persons
    from {{ ref('int_work_area_persons') }}
    group by werkstatt_nr, month
)

select
    snapshots.werkstatt_nr,
    snapshots.month,
    snapshots.stichtag,
    coalesce(counts.ab_persons, 0) as ab_persons,
    coalesce(counts.biap_persons, 0) as biap_persons
from snapshots
left join counts on snapshots.werkstatt_nr = counts.werkstatt_nr and snapshots.month = counts.month
