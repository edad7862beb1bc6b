-- One row per employer under the same-employer rule (kpis.md): every employer a fact table names
-- (a workshop's placements and transitions, Budget für Arbeit cases, Jobcenter integrations and
-- measures), so that each fact's employer_key finds its name here. Before, only the employers K13
-- counts were here (int_employer_contacts), and an inner join lost the others' facts.
with contacts as (
    select
        employer_key,
        employer_name,
        industry_wz,
        'placement' as contact,
        start_date as seen_on
    from {{ ref('fct_placement_spells') }}
    union all
    select
        employer_key,
        employer_name,
        industry_wz,
        'transition' as contact,
        transition_date as seen_on
    from {{ ref('fct_transitions') }}
    union all
    select
        employer_key,
        employer_name,
        cast(null as varchar) as industry_wz,
        'budget_fuer_arbeit' as contact,
        start_date as seen_on
    from {{ ref('fct_budget_fuer_arbeit_cases') }}
    union all
    select
        employer_key,
        employer_name,
        industry_wz,
        'integration' as contact,
        integration_date as seen_on
    from {{ ref('fct_integrations') }}
    union all
    select
        employer_key,
        employer_name,
        cast(null as varchar) as industry_wz,
        'measure' as contact,
        start_date as seen_on
    from {{ ref('fct_measure_spells') }}
)

-- the latest spelling and WZ, the greater on one day: the same on every build
select
    employer_key,
    arg_max(employer_name, (seen_on, employer_name)) as employer_name,
    arg_max(industry_wz, (seen_on, industry_wz)) filter (where industry_wz is not null) as industry_wz,
    bool_or(industry_wz like '84.%') as is_public_administration,
    count(distinct employer_name) as spellings,
    list(distinct contact order by contact) as contacts,
    cast(year(min(seen_on)) as integer) as first_year,
    cast(year(max(seen_on)) as integer) as last_year
from contacts
where employer_key != ''
group by employer_key
