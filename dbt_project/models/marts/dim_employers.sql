-- One row per employer under the same-employer rule (kpis.md), with the spellings seen.
select
    employer_key,
    arg_max(employer_name, year) as employer_name,
    arg_max(industry_wz, year) filter (where industry_wz is not null) as industry_wz,
    bool_or(industry_wz like '84.%') as is_public_administration,
    count(distinct employer_name) as spellings,
    list(distinct contact order by contact) as contacts,
    cast(min(year) as integer) as first_year,
    cast(max(year) as integer) as last_year
from {{ ref('int_employer_contacts') }}
where employer_key != ''
group by employer_key
