-- Jobcenter months whose kunden file is overdue (ops.expected_deliveries): K06 and K07 show them
-- as missing with the reason. Left out, a partner's table skipped the month without a word, and
-- the Landschaftsverband and NRW totals of K06 summed one Jobcenter fewer as if complete.
-- Grain: Jobcenter, month.
select
    expected.sender as jobcenter,
    expected.period as month,
    'no kunden file for ' || expected.period || ': overdue since ' || strftime(expected.due_on, '%Y-%m-%d')
    || coalesce(' (a file of ' || strftime(expected.rejected_on, '%Y-%m-%d') || ' was rejected)', '')
        as missing_reason
from {{ ref('expected_deliveries') }} as expected
where
    expected.sender_kind = 'jobcenter'
    and expected.part = 'kunden'
    and expected.status = 'overdue'
