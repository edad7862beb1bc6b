-- Budget für Arbeit cases of the Landschaftsverbände, one per case as last delivered.
select
    landschaftsverband,
    case_key,
    person_key,
    origin_werkstatt_nr,
    origin_kreisschluessel,
    employer_name,
    employer_postcode,
    start_date,
    end_date,
    monthly_subsidy_eur,
    status
from {{ ref('int_budget_fuer_arbeit_cases') }}
