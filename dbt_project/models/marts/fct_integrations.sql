-- Job starts of Jobcenter customers (integrationen): one row per job start as delivered, with the
-- employer under the same-employer rule. Grain: Jobcenter, customer, job start.
select
    jobcenter,
    kunde_key,
    integration_date,
    integration_kind,
    employer_name,
    {{ employer_key('employer_name') }} as employer_key,
    employer_postcode,
    industry_wz,
    is_fixed_term,
    subsidy
from {{ ref('stg_jc__integrations') }}
