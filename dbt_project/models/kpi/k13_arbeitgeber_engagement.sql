-- K13 Arbeitgeber-Engagement: distinct employers (same-employer rule) with a placement of a
-- workshop in the Kreis, a transition or Budget für Arbeit case from it, or an SB/GL integration by
-- its Jobcenter in Y; and the share of them in public administration (WZ 84.*). Grain: Kreis, year.
-- Public administration is the employer's, from the WZ any source gives it (dim_employers): a
-- Budget für Arbeit case carries no WZ, and a town's administration known as 84.11 from a
-- transition was not counted where its only contact in the Kreis and year was such a case.
-- A note names each overdue file of the year that would have brought employers: the count is then
-- a lower bound.
with employers as (
    select distinct
        kreisschluessel,
        year,
        employer_key
    from {{ ref('int_employer_contacts') }}
    where employer_key != ''
),

-- who sends what K13 counts, by Kreis: its workshops (placements, transitions), its Jobcenter
-- (integrations) and its Landschaftsverband (Budget für Arbeit cases)
kreis_senders as (
    select
        workshops.werkstatt_nr as sender,
        workshops.kreisschluessel,
        parts.part
    from {{ ref('dim_workshops') }} as workshops
    cross join (values ('aussenarbeitsplaetze'), ('uebergaenge')) as parts (part)
    where workshops.is_current
    union all
    select
        kreisschluessel as sender,
        kreisschluessel,
        'integrationen' as part
    from {{ ref('dim_regions') }}
    union all
    select
        landschaftsverband as sender,
        kreisschluessel,
        'budget_fuer_arbeit' as part
    from {{ ref('dim_regions') }}
),

overdue_files as (
    select
        kreis_senders.kreisschluessel,
        cast(left(expected.period, 4) as integer) as year,
        {{ overdue_files_note('expected', 'its employers may be missing') }} as note
    from kreis_senders
    inner join {{ ref('expected_deliveries') }} as expected
        on
            kreis_senders.sender = expected.sender
            and kreis_senders.part = expected.part
            and expected.status = 'overdue'
    group by
        kreis_senders.kreisschluessel,
        cast(left(expected.period, 4) as integer),
        expected.sender,
        expected.part
),

notes as (
    select
        kreisschluessel,
        year,
        string_agg(note, '; ' order by note) as note
    from overdue_files
    group by kreisschluessel, year
),

counted as (
    select
        employers.kreisschluessel,
        cast(employers.year as integer) as year,
        count(*) as employers,
        count(*) filter (where known.is_public_administration) as public_administration
    from employers
    left join {{ ref('dim_employers') }} as known on employers.employer_key = known.employer_key
    group by employers.kreisschluessel, employers.year
)

select
    counted.kreisschluessel,
    counted.year,
    counted.employers,
    counted.public_administration as numerator,
    counted.employers as denominator,
    {{ percent('counted.public_administration', 'counted.employers') }} as value,
    false as is_provisional,
    cast(null as varchar) as missing_reason,
    notes.note
from counted
left join notes on counted.kreisschluessel = notes.kreisschluessel and counted.year = notes.year
