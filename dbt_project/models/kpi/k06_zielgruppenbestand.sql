-- K06 Zielgruppenbestand: SB, GL, Rehabilitanden and distinct persons in any of them on the
-- Stichtag. Grain: Jobcenter, month.
select
    jobcenter,
    month,
    sb,
    gl,
    rehabilitanden,
    any_target,
    false as is_provisional,
    cast(null as varchar) as missing_reason
from {{ ref('int_jobcenter_months') }}
