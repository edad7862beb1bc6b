-- K04 Rückkehrquote: transitions in Y with a Rueckkehr within 365 days after the Datum /
-- transitions in Y * 100; provisional until the workshop's December Y+1 is loaded; missing where
-- the workshop sent no transitions for Y (int_workshop_transition_counts).
with returns as (
    select
        werkstatt_nr,
        transition_year as year,
        count(*) filter (where return_date between transition_date and transition_date + 365) as returns
    from {{ ref('int_transitions_deduplicated') }}
    group by werkstatt_nr, transition_year
),

loaded_until as (
    select
        sender as werkstatt_nr,
        max(month) as last_month
    from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'wfbm'
    group by sender
)

select
    grain.werkstatt_nr,
    grain.landschaftsverband,
    grain.kreisschluessel,
    grain.year,
    case when counted.werkstatt_nr is not null then coalesce(returns.returns, 0) end as numerator,
    counted.transitions as denominator,
    {{ percent('coalesce(returns.returns, 0)', 'counted.transitions') }} as value,
    coalesce(loaded_until.last_month < (grain.year + 1) || '-12', true) as is_provisional,
    case
        when counted.werkstatt_nr is null then {{ no_transitions_file('grain.werkstatt_nr', 'grain.year') }}
        when counted.transitions = 0 then 'no transitions in the year'
    end as missing_reason,
    -- overdue uebergaenge files: their transitions, and their returns, are missing (as K02's)
    case when counted.werkstatt_nr is not null then overdue_transitions.note end as note
from {{ ref('int_workshop_years') }} as grain
left join {{ ref('int_workshop_transition_counts') }} as counted
    on grain.werkstatt_nr = counted.werkstatt_nr and grain.year = counted.year
left join returns on grain.werkstatt_nr = returns.werkstatt_nr and grain.year = returns.year
left join loaded_until on grain.werkstatt_nr = loaded_until.werkstatt_nr
left join {{ ref('int_workshop_overdue_transitions') }} as overdue_transitions
    on grain.werkstatt_nr = overdue_transitions.werkstatt_nr and grain.year = overdue_transitions.year
