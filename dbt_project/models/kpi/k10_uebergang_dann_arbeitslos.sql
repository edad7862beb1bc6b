-- K10 Übergang, dann arbeitslos: transitions in Y whose person is a Jobcenter customer registered
-- unemployed in any month whose Stichtag lies within 365 days after the Datum / transitions in Y
-- * 100; provisional until the Jobcenter data reaches 31.12.Y + 365 days. Grain: Landschaftsverband, year.
-- Where a transition's person has a record pair with a Jobcenter customer waiting for the
-- operator's review, a note says the numerator may be higher (as K11's note: whatever it counts).
-- A workshop's overdue uebergaenge files of the year are noted too: its transitions are missing.
-- Where a workshop of the Landschaftsverband sent no uebergaenge file for the year at all, the
-- rate is missing, not computed without it (kpis.md; as K02's total of the Landschaftsverband).
-- Only customers of Jobcenters that deliver can count: where workshops of the Landschaftsverband
-- lie in Kreise whose Jobcenter sent nothing for Y or Y+1, a note says how many (workshops, not
-- persons: a count of persons could be a small cell), as K11 notes it per Kreis. A Jobcenter's
-- kunden file overdue for a month within 365 days after the year's transitions is noted too: the
-- unemployed customers of that month are not seen.
with transitions as (
    select
        landschaftsverband,
        transition_year as year,
        transition_date,
        person_id
    from {{ ref('fct_transitions') }}
    where landschaftsverband is not null
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
        transitions.*,
        exists(
            select 1
            from customer_months as customers
            where
                customers.person_id = transitions.person_id
                and customers.is_unemployed
                and customers.stichtag between transitions.transition_date and transitions.transition_date
                + 365
        ) as unemployed_after
    from transitions
),

in_review as (
    select person_id
    from {{ ref('dim_persons') }}
    where in_review_with_jobcenters
),

counted as (
    select
        landschaftsverband,
        year,
        count(*) as transitions,
        count(*) filter (where unemployed_after) as unemployed_after,
        count(*) filter (where person_id in (select in_review.person_id from in_review)) as waiting_for_review
    from flagged
    group by landschaftsverband, year
),

years as (
    select distinct year
    from {{ ref('int_workshop_years') }}
),

grain as (
    select distinct
        workshops.landschaftsverband,
        years.year
    from {{ ref('dim_workshops') }} as workshops
    cross join years
),

overdue_transition_notes as (
    select
        landschaftsverband,
        year,
        string_agg(note, '; ' order by note) as notes
    from {{ ref('int_workshop_overdue_transitions') }}
    group by landschaftsverband, year
),

-- per Landschaftsverband and year: its workshops, those that sent no uebergaenge file for the
-- year, and those in a Kreis whose own Jobcenter sent no data for the year or the next
workshop_coverage as (
    select
        workshops.landschaftsverband,
        workshops.year,
        count(*) as workshops,
        count(*) filter (where delivered.werkstatt_nr is null) as without_transitions,
        count(*) filter (
            where not exists (
                select 1
                from {{ ref('fct_monthly_deliveries') }} as jobcenter
                where
                    jobcenter.source_system = 'jc'
                    and jobcenter.kreisschluessel = workshops.kreisschluessel
                    and cast(left(jobcenter.month, 4) as integer)
                    between workshops.year and workshops.year + 1
            )
        ) as without_own_jobcenter
    from {{ ref('int_workshop_years') }} as workshops
    left join {{ ref('int_workshop_transition_counts') }} as delivered
        on workshops.werkstatt_nr = delivered.werkstatt_nr and workshops.year = delivered.year
    group by workshops.landschaftsverband, workshops.year
),

-- overdue kunden months whose Stichtag lies between the year's first transition and 365 days
-- after its last, before the Jobcenter's newest kunden file: a gap in what it sent. (Its months
-- after that are the digest's to name: the calendar expects a month of every Jobcenter once one
-- sent it, and a lone new file of one must not put a note on every other's published K10.)
transition_spans as (
    select
        landschaftsverband,
        year,
        min(transition_date) as first_date,
        max(transition_date) + 365 as last_date
    from transitions
    group by landschaftsverband, year
),

newest_kunden as (
    select
        jobcenter,
        max(month) as newest_month
    from {{ ref('int_jobcenter_months') }}
    group by jobcenter
),

overdue_kunden as (
    select
        spans.landschaftsverband,
        spans.year,
        {{ overdue_files_note('expected', 'its unemployed customers may be missing') }} as note
    from transition_spans as spans
    inner join {{ ref('expected_deliveries') }} as expected
        on
            expected.part = 'kunden'
            and expected.status = 'overdue'
            and last_day(cast(expected.period || '-01' as date)) between spans.first_date and spans.last_date
    inner join newest_kunden as newest
        on expected.sender = newest.jobcenter and expected.period < newest.newest_month
    group by spans.landschaftsverband, spans.year, expected.sender
),

overdue_kunden_notes as (
    select
        landschaftsverband,
        year,
        string_agg(note, '; ' order by note) as notes
    from overdue_kunden
    group by landschaftsverband, year
),

jobcenter_data as (
    select last_day(cast(max(month) || '-01' as date)) as loaded_until
    from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'jc'
)

select
    grain.landschaftsverband,
    grain.year,
    coalesce(counted.unemployed_after, 0) as numerator,
    coalesce(counted.transitions, 0) as denominator,
    case
        when coalesce(coverage.without_transitions, 0) = 0
            then {{ percent('counted.unemployed_after', 'counted.transitions') }}
    end as value,
    coalesce(jobcenter_data.loaded_until < make_date(grain.year, 12, 31) + 365, true) as is_provisional,
    case
        when coverage.without_transitions > 0
            then
                coverage.without_transitions || ' of ' || coverage.workshops
                || ' workshops sent no uebergaenge file for ' || grain.year
        when coalesce(counted.transitions, 0) = 0 then 'no transitions in the year'
    end as missing_reason,
    nullif(concat_ws(
        '; ',
        overdue_transition_notes.notes,
        overdue_kunden_notes.notes,
        case
            when coverage.without_own_jobcenter > 0
                then
                    coverage.without_own_jobcenter || ' of ' || coverage.workshops
                    || ' workshops lie in a Kreis whose Jobcenter sent no data: only customers of'
                    || ' delivering Jobcenters count'
        end,
        case
            when counted.waiting_for_review > 0
                then 'record pairs with Jobcenter customers await review: numerator may be higher'
        end
    ), '') as note
from grain
cross join jobcenter_data
left join counted on grain.landschaftsverband = counted.landschaftsverband and grain.year = counted.year
left join workshop_coverage as coverage
    on grain.landschaftsverband = coverage.landschaftsverband and grain.year = coverage.year
left join overdue_transition_notes
    on
        grain.landschaftsverband = overdue_transition_notes.landschaftsverband
        and grain.year = overdue_transition_notes.year
left join overdue_kunden_notes
    on
        grain.landschaftsverband = overdue_kunden_notes.landschaftsverband
        and grain.year = overdue_kunden_notes.year
