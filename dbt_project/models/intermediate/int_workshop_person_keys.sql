-- The cross-agency person key of every workshop-local person id, as the newest snapshot has it. A
-- name or birth date corrected in a later month (or a married name) gives the person another key;
-- one row per person keeps each transition one row (an operator review: a workshop's corrected
-- birth date duplicated that person's transition and failed every build on fct_transitions' key).
select
    werkstatt_nr,
    person_local_key,
    arg_max(person_key, month) as person_key
from {{ ref('stg_wfbm__persons') }}
group by werkstatt_nr, person_local_key
