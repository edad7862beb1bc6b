-- K10 Übergang, dann arbeitslos: transitions in Y whose person is a Jobcenter customer registered
-- unemployed in any month whose Stichtag lies within 365 days after the Datum / transitions in Y
-- * 100; provisional until the Jobcenter data reaches 31.12.Y + 365 days. Grain: Landschaftsverband, year.
-- Where a transition's person has a record pair with a Jobcenter customer waiting for the
-- operator's review, a note says the numerator may be higher (as K11's note: whatever it counts).
-- A workshop's overdue uebergaenge files of the year are noted too: its transitions are missing.
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
    {{ percent('counted.unemployed_after', 'counted.transitions') }} as value,
    coalesce(jobcenter_data.loaded_until < make_date(grain.year, 12, 31) + 365, true) as is_provisional,
    case when coalesce(counted.transitions, 0) = 0 then 'no transitions in the year' end as missing_reason,
    nullif(concat_ws(
        '; ',
        overdue_transition_notes.notes,
        case
            when counted.waiting_for_review > 0
                then 'record pairs with Jobcenter customers await review: numerator may be higher'
        end
    ), '') as note
from grain
cross join jobcenter_data
left join counted on grain.landschaftsverband = counted.landschaftsverband and grain.year = counted.year
left join overdue_transition_notes
    on
        grain.landschaftsverband = overdue_transition_notes.landschaftsverband
        and grain.year = overdue_transition_notes.year
