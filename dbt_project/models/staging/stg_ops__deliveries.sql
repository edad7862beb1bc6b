-- Deliveries whose rows are in the landing tables or were replaced by a correction: what "loaded"
-- means for a month (a header-only file is a loaded quiet month, though it adds no rows).
select
    delivery_id,
    file_name,
    format,
    sender,
    part,
    period,
    status,
    received_at,
    rows_in,
    case
        when format in ('wfbm_csv', 'wfbm_xlsx') then 'wfbm'
        when format = 'jc_csv' then 'jc'
        else 'lv'
    end as source_system
from {{ source('ops', 'delivery_log') }}
where status in ('loaded', 'superseded')
