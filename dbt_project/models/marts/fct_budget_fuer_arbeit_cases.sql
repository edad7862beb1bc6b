-- One row per Budget für Arbeit case, as last delivered (a later year's file knows its end).
select
    cases.landschaftsverband,
    cases.case_key,
    cases.person_key,
    records.person_id,
    cases.origin_werkstatt_nr,
    coalesce(workshops.kreisschluessel, 'unbekannt') as origin_kreisschluessel,
    cases.employer_name,
    {{ employer_key('cases.employer_name') }} as employer_key,
    cases.employer_postcode,
    cases.start_date,
    cases.end_date,
    cases.monthly_subsidy_eur,
    cases.status
from {{ ref('stg_lv__budget_fuer_arbeit_cases') }} as cases
left join {{ ref('dim_workshops') }} as workshops
    on cases.origin_werkstatt_nr = workshops.werkstatt_nr and workshops.is_current
left join {{ ref('dim_person_records') }} as records
    on records.source_table = 'lv_budget_fuer_arbeit' and cases.case_key = records.local_key
qualify
    row_number() over (partition by cases.landschaftsverband, cases.case_key order by cases.delivery_id desc)
    = 1
