-- The cross-agency person key of every workshop-local person id (from the workshops' snapshots).
select distinct
    werkstatt_nr,
    person_local_key,
    person_key
from {{ ref('stg_wfbm__persons') }}
