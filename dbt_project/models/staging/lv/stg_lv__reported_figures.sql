-- The Leistungsdokumentation: what each workshop reported to its Landschaftsverband for a year.
select
    delivery_id,
    sender as landschaftsverband,
    cast(period as integer) as year,
    werkstatt_nr,
    werkstatt as workshop_name,
    beschaeftigte_ab_31_12 as ab_persons_reported,
    biap_31_12 as biap_persons_reported,
    uebergaenge as transitions_reported,
    davon_budget_fuer_arbeit as bfa_transitions_reported,
    plaetze as places_reported
from {{ source('landing', 'lv_leistungsdokumentation') }}
