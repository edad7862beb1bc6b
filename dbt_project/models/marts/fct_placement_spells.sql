-- Placement spells in companies (BIAP, BIG, PRA): one row per workshop, person, kind and Beginn,
-- with the end as last delivered. Grain: placement spell.
select
    werkstatt_nr,
    person_local_key,
    placement_kind,
    is_biap,
    start_date,
    max(end_date) as end_date,
    arg_max(employer_name, month) as employer_name,
    {{ employer_key('arg_max(employer_name, month)') }} as employer_key,
    arg_max(employer_postcode, month) as employer_postcode,
    arg_max(industry_wz, month) as industry_wz,
    arg_max(weekly_hours, month) as weekly_hours,
    arg_max(job_coach, month) as job_coach,
    min(month) as first_month_seen,
    max(month) as last_month_seen
from {{ ref('stg_wfbm__placements') }}
group by werkstatt_nr, person_local_key, placement_kind, is_biap, start_date
