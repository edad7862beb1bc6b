-- One row per employer under the same-employer rule (kpis.md): every employer a fact table names
-- (a workshop's placements and transitions, Budget für Arbeit cases, Jobcenter integrations and
-- measures), so that each fact's employer_key finds its name here. Before, only the employers K13
-- counts were here (int_employer_contacts), and an inner join lost the others' facts.
{#- each fact that names an employer: (model, kind of contact, its WZ column or none, its date) -#}
{%- set facts = [
    ('fct_placement_spells', 'placement', 'industry_wz', 'start_date'),
    ('fct_transitions', 'transition', 'industry_wz', 'transition_date'),
    ('fct_budget_fuer_arbeit_cases', 'budget_fuer_arbeit', none, 'start_date'),
    ('fct_integrations', 'integration', 'industry_wz', 'integration_date'),
    ('fct_measure_spells', 'measure', none, 'start_date'),
] %}

with contacts as (
    {%- for model, contact, industry, seen_on in facts %}
        select
            employer_key,
            employer_name,
            {{ industry or 'cast(null as varchar)' }} as industry_wz,
            '{{ contact }}' as contact,
            {{ seen_on }} as seen_on
        from {{ ref(model) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- the latest spelling and WZ, the greater on one day: the same on every build
employers as (
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
)

select
    employers.employer_key,
    employers.employer_name,
    employers.industry_wz,
    divisions.section as industry_section,
    employers.is_public_administration,
    employers.spellings,
    employers.contacts,
    employers.first_year,
    employers.last_year
from employers
left join {{ ref('dim_industry_divisions') }} as divisions
    on left(employers.industry_wz, 2) = divisions.division
