-- One row per measure spell (a customer's measure from its start), as last delivered: the monthly
-- files repeat a running spell, and its end appears once it has ended.
select
    jobcenter,
    kunde_key,
    measure,
    start_date,
    end_date,
    employer_name,
    {{ employer_key('employer_name') }} as employer_key,
    employer_postcode,
    is_dropout
from {{ ref('stg_jc__measures') }}
qualify
    row_number() over (partition by jobcenter, kunde_key, measure, start_date order by delivery_id desc) = 1
