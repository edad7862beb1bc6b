-- A person appears once per workshop snapshot (the contract quarantines a second version).
select
    werkstatt_nr,
    month,
    person_local_key,
    count(*) as rows_
from {{ ref('stg_wfbm__persons') }}
group by werkstatt_nr, month, person_local_key
having count(*) > 1
