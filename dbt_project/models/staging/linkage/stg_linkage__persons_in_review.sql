-- The persons one of whose record pairs waits for the operator's review (ops.linkage_review), with
-- the source of the record across: a figure that counts them may change when the pair is decided.
select
    person_id,
    source_table_across
from {{ source('linkage', 'persons_in_review') }}
