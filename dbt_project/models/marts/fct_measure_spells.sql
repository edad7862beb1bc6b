-- Jobcenter measure spells (WAK, MAG, AGH, FBW, REHA), one per customer, measure and start.
select
    jobcenter,
    kunde_key,
    measure,
    start_date,
    end_date,
    employer_name,
    employer_postcode,
    is_dropout
from {{ ref('int_measure_spells') }}
