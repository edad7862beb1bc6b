-- Transitions to the general labour market: one per workshop, person and Datum (the row received
-- last wins), with the cross-agency person and whether and when the person came back.
select
    transitions.werkstatt_nr,
    workshops.landschaftsverband,
    workshops.kreisschluessel,
    transitions.person_local_key,
    persons.person_key,
    records.person_id,
    transitions.transition_date,
    transitions.transition_year,
    transitions.transition_kind,
    transitions.employer_name,
    {{ employer_key('transitions.employer_name') }} as employer_key,
    transitions.employer_postcode,
    transitions.industry_wz,
    transitions.return_date,
    transitions.return_date is not null as has_returned
from {{ ref('int_transitions_deduplicated') }} as transitions
left join {{ ref('dim_workshops') }} as workshops
    on transitions.werkstatt_nr = workshops.werkstatt_nr and workshops.is_current
left join {{ ref('int_workshop_person_keys') }} as persons
    on
        transitions.werkstatt_nr = persons.werkstatt_nr
        and transitions.person_local_key = persons.person_local_key
left join {{ ref('dim_person_records') }} as records
    on records.source_table = 'wfbm_personen' and transitions.person_local_key = records.local_key
