-- Workshop headcount per Stichtag and area: distinct persons in the workshop on the last day of each
-- delivered month (kpis.md "In the workshop on day d"). Grain: workshop, month, area.
select
    werkstatt_nr,
    month,
    stichtag,
    area,
    count(distinct person_local_key) as persons
from {{ ref('stg_wfbm__persons') }}
where entry_date <= stichtag and (exit_date is null or exit_date >= stichtag)
group by werkstatt_nr, month, stichtag, area
