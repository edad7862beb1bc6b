-- One transition per (workshop, person, Datum): the row received last wins (kpis.md), so a later
-- month's re-send with a Rueckkehr updates the transition; its period is its Datum.
select
    werkstatt_nr,
    person_local_key,
    transition_date,
    cast(extract(year from transition_date) as integer) as transition_year,
    transition_kind,
    employer_name,
    employer_postcode,
    industry_wz,
    return_date,
    delivery_id
from {{ ref('stg_wfbm__transitions') }}
qualify row_number() over (
    partition by werkstatt_nr, person_local_key, transition_date order by delivery_id desc
) = 1
