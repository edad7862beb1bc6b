-- K11 Vom Jobcenter in die Werkstatt: persons entering a workshop in Y (Eintritt in Y) who were a
-- Jobcenter customer in any snapshot whose Stichtag lies in the 730 days before the Eintritt;
-- provisional where the loaded Jobcenter data does not reach that far back. Grain: Kreis of the
-- workshop, year. Only customers of Jobcenters that deliver can count: where the Kreis's own
-- Jobcenter sent nothing for Y and the two years before, a note says so (else "0 from the
-- Jobcenter" reads as a finding about it). Where an entrant has a record pair with a Jobcenter
-- customer waiting for the operator's review, a note says the count may be higher (linkage.md §4:
-- quality is part of every figure); whether the entrant counts already, it does not say: a note
-- that depended on the counts would tell a reader about suppressed ones. A workshop whose personen
-- files of the year are overdue is named in the note: its entrants are missing from the count.
with entries as (
    select distinct
        workshops.kreisschluessel,
        extract(year from memberships.entry_date) as year,
        memberships.person_id,
        memberships.entry_date
    from {{ ref('fct_workshop_memberships') }} as memberships
    inner join {{ ref('dim_workshops') }} as workshops
        on memberships.werkstatt_nr = workshops.werkstatt_nr and workshops.is_current
),

customer_months as (
    select
        records.person_id,
        months.stichtag,
        months.is_unemployed
    from {{ ref('fct_jobcenter_customer_months') }} as months
    inner join {{ ref('dim_person_records') }} as records
        on records.source_table = 'jc_kunden' and months.kunde_key = records.local_key
),

flagged as (
    select
        entries.*,
        exists(
            select 1
            from customer_months as customers
            where
                customers.person_id = entries.person_id
                and customers.stichtag between entries.entry_date - 730 and entries.entry_date
        ) as from_jobcenter
    from entries
),

per_person as (
    select
        kreisschluessel,
        year,
        person_id,
        bool_or(from_jobcenter) as from_jobcenter
    from flagged
    group by kreisschluessel, year, person_id
),

in_review as (
    select person_id
    from {{ ref('dim_persons') }}
    where in_review_with_jobcenters
),

counted as (
    select
        kreisschluessel,
        year,
        count(*) as entrants,
        count(*) filter (where from_jobcenter) as from_jobcenter,
        count(*) filter (where person_id in (select in_review.person_id from in_review)) as waiting_for_review
    from per_person
    group by kreisschluessel, year
),

years as (
    select distinct year
    from {{ ref('int_workshop_years') }}
),

grain as (
    select distinct
        workshops.kreisschluessel,
        years.year
    from {{ ref('dim_workshops') }} as workshops
    cross join years
    where workshops.is_current
),

own_jobcenter_years as (
    select distinct
        kreisschluessel,
        cast(left(month, 4) as integer) as year
    from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'jc'
),

-- the years Y for which the Kreis's own Jobcenter sent data for Y or the two years before
own_jobcenter as (
    select distinct
        grain.kreisschluessel,
        grain.year
    from grain
    inner join own_jobcenter_years as delivered
        on
            grain.kreisschluessel = delivered.kreisschluessel
            and delivered.year between grain.year - 2 and grain.year
),

-- A workshop of the Kreis whose personen files of the year are overdue: its entrants are not in the
-- count, and the note says whose and which months (an audit: a workshop recognised in October that
-- sent nothing left its Kreis' entrants too low without a word, while K02 and K14 said so).
overdue_personen as (
    select
        workshops.kreisschluessel,
        cast(left(expected.period, 4) as integer) as year,
        expected.sender,
        {{ overdue_files_note('expected', 'its entrants are missing') }} as note
    from {{ ref('expected_deliveries') }} as expected
    inner join {{ ref('dim_workshops') }} as workshops
        on expected.sender = workshops.werkstatt_nr and workshops.is_current
    where expected.part = 'personen' and expected.status = 'overdue'
    group by workshops.kreisschluessel, cast(left(expected.period, 4) as integer), expected.sender
),

overdue_entrants as (
    select
        kreisschluessel,
        year,
        string_agg(note, '; ' order by sender) as notes
    from overdue_personen
    group by kreisschluessel, year
),

jobcenter_data as (
    select cast(min(month) || '-01' as date) as loaded_from
    from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'jc'
)

select
    grain.kreisschluessel,
    grain.year,
    coalesce(counted.entrants, 0) as entrants,
    coalesce(counted.from_jobcenter, 0) as from_jobcenter,
    coalesce(make_date(grain.year, 1, 1) - 730 < jobcenter_data.loaded_from, true) as is_provisional,
    cast(null as varchar) as missing_reason,
    nullif(concat_ws(
        '; ',
        case
            when own_jobcenter.kreisschluessel is null  -- also over 0 entrants: never beside some only
                then 'no data from the Kreis''s own Jobcenter: only customers of delivering Jobcenters count'
        end,
        case
            when counted.waiting_for_review > 0
                then 'record pairs with Jobcenter customers await review: from_jobcenter may be higher'
        end,
        overdue_entrants.notes
    ), '') as note
from grain
cross join jobcenter_data
left join counted on grain.kreisschluessel = counted.kreisschluessel and grain.year = counted.year
left join own_jobcenter
    on grain.kreisschluessel = own_jobcenter.kreisschluessel and grain.year = own_jobcenter.year
left join overdue_entrants
    on grain.kreisschluessel = overdue_entrants.kreisschluessel and grain.year = overdue_entrants.year
