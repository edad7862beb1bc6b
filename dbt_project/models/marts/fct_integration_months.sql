-- Integration months: a customer with at least one job start in a month, once (as in §48a SGB II),
-- with whether it counts for K07 (SB or GL then).
select
    jobcenter,
    kunde_key,
    month,
    counts_for_k07
from {{ ref('int_integration_months') }}
