-- One row per transition row as delivered; the same transition may be re-sent in later months
-- (when its Rueckkehr changes): int_transitions keeps the row received last.
select
    delivery_id,
    sender as werkstatt_nr,
    period as file_month,
    person_local_key,
    datum as transition_date,
    case art
        when 'SVB' then 'employment'
        when 'BFA' then 'budget_fuer_arbeit'
        when 'BFAUS' then 'budget_fuer_ausbildung'
        when 'INK' then 'inclusion_company'
        when 'AUS' then 'apprenticeship'
    end as transition_kind,
    arbeitgeber as employer_name,
    arbeitgeber_plz as employer_postcode,
    branche_wz as industry_wz,
    rueckkehr as return_date
from {{ source('landing', 'wfbm_uebergaenge') }}
