-- K02 Übergangsquote: transitions in Y / persons in AB on 31.12.(Y-1) * 100, per workshop. A year
-- some of whose uebergaenge files are overdue counts the transitions of the others, and its note
-- says which are missing (as K10's and K14's): the figure may be higher (a partners' review).
with previous_december as (
    select
        werkstatt_nr,
        cast(left(month, 4) as integer) + 1 as year,
        ab_persons
    from {{ ref('int_workshop_stichtag_counts') }}
    where right(month, 2) = '12'
)

select
    grain.werkstatt_nr,
    grain.landschaftsverband,
    grain.kreisschluessel,
    grain.year,
    transitions.transitions as numerator,
    previous_december.ab_persons as denominator,
    {{ percent('transitions.transitions', 'previous_december.ab_persons') }} as value,
    false as is_provisional,
    nullif(concat_ws(
        '; ',
        case
            -- a workshop recognised during the year had no December before it (a partners' review read
            -- "no personen snapshot for December" as a file it owed)
            when
                previous_december.ab_persons is null
                and workshops.recognised_since > make_date(grain.year - 1, 12, 31)
                then
                    'recognised only on ' || strftime(workshops.recognised_since, '%Y-%m-%d')
                    || ': no December before'
            -- the first year loaded: no workshop sent for the year before (an analysts' review read
            -- "no personen snapshot for December" as a file each workshop owed; K01 says it so too)
            when
                previous_december.ab_persons is null
                and grain.year - 1 not in (select years.year from {{ ref('int_workshop_years') }} as years)
                then 'no workshop deliveries for ' || (grain.year - 1)
            when previous_december.ab_persons is null
                then
                    'no personen snapshot for December ' || (grain.year - 1)
                    || {{ overdue('grain.werkstatt_nr', 'personen', "(grain.year - 1) || '-12'") }}
            when previous_december.ab_persons = 0 then 'no persons in AB on 31.12. of the previous year'
        end,
        case
            when transitions.transitions is null
                then {{ no_transitions_file('grain.werkstatt_nr', 'grain.year') }}
        end
    ), '') as missing_reason,
    case when transitions.transitions is not null then overdue_transitions.note end as note
from {{ ref('int_workshop_years') }} as grain
inner join {{ ref('dim_workshops') }} as workshops
    on grain.werkstatt_nr = workshops.werkstatt_nr and workshops.is_current
left join {{ ref('int_workshop_transition_counts') }} as transitions
    on grain.werkstatt_nr = transitions.werkstatt_nr and grain.year = transitions.year
left join previous_december
    on grain.werkstatt_nr = previous_december.werkstatt_nr and grain.year = previous_december.year
left join {{ ref('int_workshop_overdue_transitions') }} as overdue_transitions
    on grain.werkstatt_nr = overdue_transitions.werkstatt_nr and grain.year = overdue_transitions.year
