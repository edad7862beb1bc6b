-- K13 Arbeitgeber-Engagement: distinct employers (same-employer rule) with a placement of a
-- workshop in the Kreis, a transition or Budget für Arbeit case from it, or an SB/GL integration by
-- its Jobcenter in Y; and the share of them in public administration (WZ 84.*). Grain: Kreis, year.
with employers as (
    select
        kreisschluessel,
        year,
        employer_key,
        bool_or(industry_wz like '84.%') as is_public_administration
    from {{ ref('int_employer_contacts') }}
    where employer_key != ''
    group by kreisschluessel, year, employer_key
)

select
    kreisschluessel,
    cast(year as integer) as year,
    count(*) as employers,
    count(*) filter (where is_public_administration) as numerator,
    count(*) as denominator,
    {{ percent('count(*) filter (where is_public_administration)', 'count(*)') }} as value,
    false as is_provisional,
    cast(null as varchar) as missing_reason
from employers
group by kreisschluessel, year
