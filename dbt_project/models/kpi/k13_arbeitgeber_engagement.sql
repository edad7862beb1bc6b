-- K13 Arbeitgeber-Engagement: distinct employers (same-employer rule) with a placement of a
-- workshop in the Kreis, a transition or Budget für Arbeit case from it, or an SB/GL integration by
-- its Jobcenter in Y; and the share of them in public administration (WZ 84.*). Grain: Kreis, year.
-- Public administration is the employer's, from the WZ any source gives it (dim_employers): a
-- Budget für Arbeit case carries no WZ, and a town's administration known as 84.11 from a
-- transition was not counted where its only contact in the Kreis and year was such a case.
with employers as (
    select distinct
        kreisschluessel,
        year,
        employer_key
    from {{ ref('int_employer_contacts') }}
    where employer_key != ''
)

select
    employers.kreisschluessel,
    cast(employers.year as integer) as year,
    count(*) as employers,
    count(*) filter (where known.is_public_administration) as numerator,
    count(*) as denominator,
    {{ percent('count(*) filter (where known.is_public_administration)', 'count(*)') }} as value,
    false as is_provisional,
    cast(null as varchar) as missing_reason
from employers
left join {{ ref('dim_employers') }} as known on employers.employer_key = known.employer_key
group by employers.kreisschluessel, employers.year
