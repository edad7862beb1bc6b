-- Each source-local person (source table and sender-salted local key) with its person_id: one
-- person across agencies, as the linkage stage decided (spec/linkage.md §3).
select
    source_table,
    local_key,
    person_id
from {{ source('linkage', 'person_ids') }}
