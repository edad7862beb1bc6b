-- The bridge from every source's local person to the person across agencies: join a workshop's
-- person_local_key, a Jobcenter's kunde_key or a Budget für Arbeit case_key here to get person_id.
select
    source_table,
    local_key,
    person_id
from {{ ref('stg_linkage__person_ids') }}
