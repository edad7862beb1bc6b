-- The Kreis of residence of each transition's person as of the month they left: from the last
-- workshop snapshot whose Stichtag lies before the Datum + 31 days. A transition without such a
-- snapshot has no row. Grain: transition.
select
    transitions.werkstatt_nr,
    transitions.person_local_key,
    transitions.transition_date,
    transitions.transition_year,
    persons.residence_kreisschluessel
from {{ ref('int_transitions_deduplicated') }} as transitions
inner join {{ ref('stg_wfbm__persons') }} as persons
    on
        transitions.werkstatt_nr = persons.werkstatt_nr
        and transitions.person_local_key = persons.person_local_key
        and persons.stichtag < transitions.transition_date + 31
qualify row_number() over (
    partition by transitions.werkstatt_nr, transitions.person_local_key, transitions.transition_date
    order by persons.stichtag desc
) = 1
