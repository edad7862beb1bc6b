-- K06 Zielgruppenbestand: SB, GL, Rehabilitanden and distinct persons in any of them on the
-- Stichtag; a month whose kunden file is overdue is missing, with the reason. Grain: Jobcenter, month.
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
union all
select
    jobcenter,
    month,
    cast(null as bigint) as sb,
    cast(null as bigint) as gl,
    cast(null as bigint) as rehabilitanden,
    cast(null as bigint) as any_target,
    false as is_provisional,
    missing_reason
from {{ ref('int_jobcenter_overdue_months') }}
