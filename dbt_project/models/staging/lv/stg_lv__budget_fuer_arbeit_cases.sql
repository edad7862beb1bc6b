-- Budget für Arbeit cases as listed in each yearly file (a running case is listed every year it
-- touches; fct_budget_fuer_arbeit_cases keeps one row per case).
select
    delivery_id,
    sender as landschaftsverband,
    cast(period as integer) as file_year,
    case_key,
    person_key,
    birth_year,
    herkunft_werkstatt_nr as origin_werkstatt_nr,
    arbeitgeber as employer_name,
    arbeitgeber_plz as employer_postcode,
    beginn as start_date,
    ende as end_date,
    cast(lohnkostenzuschuss_eur_monat as decimal(12, 2)) as monthly_subsidy_eur,
    status
from {{ source('landing', 'lv_budget_fuer_arbeit') }}
