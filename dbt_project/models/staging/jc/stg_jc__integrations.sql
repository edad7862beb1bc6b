-- Job starts of Jobcenter customers (integrationen). Grain: Jobcenter, customer, job start.
select
    delivery_id,
    sender as jobcenter,
    period as file_month,
    kunde_key,
    datum as integration_date,
    strftime(datum, '%Y-%m') as integration_month,
    case art
        when 'SVB' then 'employment' when 'AUSB' then 'apprenticeship' when 'SELB' then 'self_employment'
    end
        as integration_kind,
    arbeitgeber as employer_name,
    arbeitgeber_plz as employer_postcode,
    branche_wz as industry_wz,
    befristet = 'J' as is_fixed_term,
    case foerderung
        when 'EGZ' then 'eingliederungszuschuss'
        when 'ESG' then 'einstiegsgeld'
        when '16I' then 'teilhabe_am_arbeitsmarkt_16i'
        when 'KEINE' then 'none'
    end as subsidy
from {{ source('landing', 'jc_integrationen') }}
