-- A person appears once per workshop snapshot (the contract quarantines a second version).
-- Grouped by one hash first (as in unique_combination): five years of snapshots are millions of rows.
with repeated_hashes as (
    select hash(werkstatt_nr, month, person_local_key) as row_hash
    from {{ ref('stg_wfbm__persons') }}
    group by row_hash
    having count(*) > 1
)

select
    werkstatt_nr,
    month,
    person_local_key,
    count(*) as rows_
from {{ ref('stg_wfbm__persons') }}
where hash(werkstatt_nr, month, person_local_key) in (select repeated_hashes.row_hash from repeated_hashes)
group by werkstatt_nr, month, person_local_key
having count(*) > 1
