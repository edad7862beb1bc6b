-- Jobcenter customers in the target group per Stichtag. Grain: Jobcenter, month, customer.
select
    jobcenter,
    month,
    stichtag,
    kunde_key,
    person_key,
    birth_year,
    sex,
    degree_of_disability,
    has_gleichstellung,
    is_severely_disabled,
    is_gleichgestellt,
    is_rehabilitand,
    is_unemployed,
    benefit_since
from {{ ref('stg_jc__customers') }}
