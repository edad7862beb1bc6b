-- What the Landschaftsverbände published from the workshops' Leistungsdokumentation.
select
    landschaftsverband,
    year,
    werkstatt_nr,
    workshop_name,
    ab_persons_reported,
    biap_persons_reported,
    transitions_reported,
    bfa_transitions_reported,
    places_reported
from {{ ref('stg_lv__reported_figures') }}
