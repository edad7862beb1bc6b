-- K14 Regionalübersicht NRW inklusiv: per Kreis and year, persons in AB and on BiAp on 31.12.Y by
-- Kreis of residence, transitions in Y by the Kreis of the workshop's seat (kpis.md "Which Kreis":
-- residence only where a KPI says "by Kreis of residence", and K14 says it of the persons in AB
-- and on BiAp; the transitions are K02's numerators, summed over the workshops seated there), Budget
-- für Arbeit cases active on 31.12.Y (K05, by Kreis of the origin workshop), SB+GL customers in
-- December (K06), SB/GL integration months in Y and K07 for December (by the Jobcenter's Kreis).
-- A figure whose input has not been delivered (no workshop's December yet, no Budget für Arbeit
-- file, no Jobcenter data) is missing with its reason, never 0; so are the persons in AB and on BiAp
-- of a Kreis where a workshop whose December snapshot is missing had residents in its latest
-- snapshot of the year (they would be left out: Wuppertal's 12 instead of ~270), and the persons
-- on BiAp of a Kreis where persons live of a workshop whose December Außenarbeitsplätze are missing.
-- A year whose December is not in yet is provisional. Where a person counted in AB has a record
-- pair with another workshop's person waiting for the operator's review (accepted, the two would
-- count once), a note says the persons in AB and on BiAp may be lower. A workshop's overdue uebergaenge files
-- are noted at its seat (its transitions are missing), and a workshop of the register that sent
-- nothing all year leaves its seat's persons in AB missing, as a missing December does.
-- depends_on: {{ ref('fct_monthly_deliveries') }} (the macro newest_jobcenter_month reads it)
with years as (
    select distinct year from {{ ref('int_workshop_years') }}
),

workshop_decembers as (
    select distinct cast(left(month, 4) as integer) as year
    from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'wfbm' and right(month, 2) = '12'
),

jobcenter_years as (
    select
        sender as kreisschluessel,
        cast(left(month, 4) as integer) as year,
        bool_or(right(month, 2) = '12') as has_december
    from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'jc'
    group by all
),

budget_files as (
    select
        landschaftsverband,
        year
    from {{ ref('int_lv_file_years') }}
    where part = 'budget_fuer_arbeit'
),

december_persons as (
    select
        persons.residence_kreisschluessel as kreisschluessel,
        cast(left(persons.month, 4) as integer) as year,
        records.person_id,
        persons.is_on_biap
    from {{ ref('int_work_area_persons') }} as persons
    inner join {{ ref('dim_person_records') }} as records
        on records.source_table = 'wfbm_personen' and persons.person_local_key = records.local_key
    where right(persons.month, 2) = '12'
),

latest_without_december as (  -- a workshop's latest snapshot of a year whose December is missing
    select
        counts.werkstatt_nr,
        cast(left(counts.month, 4) as integer) as year,
        max(counts.month) as month
    from {{ ref('int_workshop_stichtag_counts') }} as counts
    inner join {{ ref('int_workshop_years') }} as grain
        on counts.werkstatt_nr = grain.werkstatt_nr and cast(left(counts.month, 4) as integer) = grain.year
    group by all
    having right(max(counts.month), 2) <> '12'
),

-- a workshop of the year's register that sent no personen snapshot of it at all (the simulator's
-- "silent" workshop, recognised in October): where its persons live nobody can tell, so at its seat
silent_in_year as (
    select
        grain.werkstatt_nr,
        grain.year,
        grain.kreisschluessel
    from {{ ref('int_workshop_years') }} as grain
    where not exists (
        select 1
        from {{ ref('fct_monthly_deliveries') }} as delivered
        where
            delivered.source_system = 'wfbm'
            and delivered.sender = grain.werkstatt_nr
            and left(delivered.month, 4) = cast(grain.year as varchar)
            and list_contains(delivered.parts_delivered, 'personen')
    )
),

december_gaps as (  -- the Kreise where its persons live: their December counts would lack them
    select
        kreisschluessel,
        year,
        string_agg(distinct werkstatt_nr, ', ' order by werkstatt_nr) as workshops
    from (
        select
            persons.residence_kreisschluessel as kreisschluessel,
            latest.year,
            latest.werkstatt_nr
        from latest_without_december as latest
        inner join {{ ref('int_work_area_persons') }} as persons
            on latest.werkstatt_nr = persons.werkstatt_nr and latest.month = persons.month
        union all
        select
            kreisschluessel,
            year,
            werkstatt_nr
        from silent_in_year
    )
    group by all
),

-- the Kreise where persons of a workshop live whose December Außenarbeitsplätze did not arrive
-- (no file, or rejected): their persons on BiAp would lack its placements
placement_gaps as (
    select
        persons.residence_kreisschluessel as kreisschluessel,
        cast(left(counts.month, 4) as integer) as year,
        string_agg(distinct counts.werkstatt_nr, ', ' order by counts.werkstatt_nr) as workshops
    from {{ ref('int_workshop_stichtag_counts') }} as counts
    inner join {{ ref('int_work_area_persons') }} as persons
        on counts.werkstatt_nr = persons.werkstatt_nr and counts.month = persons.month
    where right(counts.month, 2) = '12' and counts.biap_persons is null
    group by all
),

-- a workshop's overdue uebergaenge files of the year: its transitions are missing, counted (as
-- far as anyone can tell) where it has its seat
overdue_transition_notes as (
    select
        kreisschluessel,
        year,
        string_agg(note, '; ' order by note) as notes
    from {{ ref('int_workshop_overdue_transitions') }}
    group by kreisschluessel, year
),

in_review as (
    select person_id
    from {{ ref('dim_persons') }}
    where in_review_with_workshops
),

ab_counts as (
    select
        kreisschluessel,
        year,
        count(distinct person_id) as ab_persons,
        count(distinct person_id) filter (
            where person_id in (select in_review.person_id from in_review)
        ) as waiting_for_review
    from december_persons
    group by kreisschluessel, year
),

biap_counts as (
    select
        kreisschluessel,
        year,
        count(distinct person_id) as biap_persons
    from december_persons
    where is_on_biap
    group by kreisschluessel, year
),

transition_counts as (
    select
        grain.kreisschluessel,
        grain.year,
        cast(sum(counts.transitions) as bigint) as transitions
    from {{ ref('int_workshop_years') }} as grain
    inner join {{ ref('int_workshop_transition_counts') }} as counts
        on grain.werkstatt_nr = counts.werkstatt_nr and grain.year = counts.year
    group by grain.kreisschluessel, grain.year
),

workshop_side as (
    select
        regions.kreisschluessel,
        years.year,
        coalesce(ab_counts.ab_persons, 0) as ab_persons,
        coalesce(ab_counts.waiting_for_review, 0) as waiting_for_review,
        coalesce(biap_counts.biap_persons, 0) as biap_persons,
        coalesce(transition_counts.transitions, 0) as transitions
    from {{ ref('dim_regions') }} as regions
    cross join years
    left join ab_counts on regions.kreisschluessel = ab_counts.kreisschluessel and years.year = ab_counts.year
    left join
        biap_counts
        on regions.kreisschluessel = biap_counts.kreisschluessel and years.year = biap_counts.year
    left join transition_counts
        on regions.kreisschluessel = transition_counts.kreisschluessel and years.year = transition_counts.year
),

budget as (
    select
        kreisschluessel,
        year,
        cast(sum(active_cases) as bigint) as budget_fuer_arbeit_active
    from {{ ref('k05_budget_fuer_arbeit') }}
    group by kreisschluessel, year
),

regions as (
    select
        kreisschluessel,
        landschaftsverband
    from {{ ref('dim_regions') }}
),

jobcenter_side as (
    select
        jobcenter as kreisschluessel,
        cast(left(month, 4) as integer) as year,
        sb + gl as sb_gl_customers_december
    from {{ ref('k06_zielgruppenbestand') }}
    where right(month, 2) = '12'
),

integration_months as (
    select
        jobcenter as kreisschluessel,
        cast(left(month, 4) as integer) as year,
        count(*) filter (where counts_for_k07) as sb_gl_integration_months
    from {{ ref('fct_integration_months') }}
    group by jobcenter, cast(left(month, 4) as integer)
),

-- a month whose integrationen file is overdue has unknown integrations, not none: the year's sum
-- is missing
overdue_integrations as (
    select
        expected.sender as kreisschluessel,
        cast(left(expected.period, 4) as integer) as year,
        {{ overdue_files_note('expected', 'its integrations are missing') }} as missing_reason
    from {{ ref('expected_deliveries') }} as expected
    where
        expected.part = 'integrationen'
        and expected.status = 'overdue'
        and expected.period <= ({{ newest_jobcenter_month('integrationen') }})
    group by expected.sender, cast(left(expected.period, 4) as integer)
),

k07_december as (
    select
        jobcenter as kreisschluessel,
        cast(left(month, 4) as integer) as year,
        value as k07_december,
        missing_reason as k07_missing_reason
    from {{ ref('k07_integrationsquote_sb') }}
    where right(month, 2) = '12'
)

select
    workshop_side.kreisschluessel,
    workshop_side.year,
    case
        when workshop_decembers.year is not null and december_gaps.kreisschluessel is null
            then workshop_side.ab_persons
    end as ab_persons,
    case
        when
            workshop_decembers.year is not null and december_gaps.kreisschluessel is null
            and placement_gaps.kreisschluessel is null
            then workshop_side.biap_persons
    end as biap_persons,
    workshop_side.transitions,
    case when budget_files.year is not null then coalesce(budget.budget_fuer_arbeit_active, 0) end
        as budget_fuer_arbeit_active,
    jobcenter_side.sb_gl_customers_december,
    case
        when jobcenter_years.year is not null and overdue_integrations.year is null
            then coalesce(integration_months.sb_gl_integration_months, 0)
    end as sb_gl_integration_months,
    k07_december.k07_december,
    -- December not in from the workshops, or from the Kreis' Jobcenter (its kunden or integrationen)
    workshop_decembers.year is null
    or not coalesce(jobcenter_years.has_december, true)
    or (
        jobcenter_years.year is not null
        and coalesce(jobcenter_coverage.integrations_until < make_date(workshop_side.year, 12, 31), true)
    ) as is_provisional,
    nullif(concat_ws(
        '; ',
        case when workshop_decembers.year is null then 'no workshop has delivered December yet' end,
        case
            when workshop_decembers.year is not null and december_gaps.kreisschluessel is not null
                then
                    'no December personen snapshot of ' || december_gaps.workshops
                    || ', whose persons live here too'
        end,
        case
            when workshop_decembers.year is not null and placement_gaps.kreisschluessel is not null
                then
                    'no aussenarbeitsplaetze file of December ' || workshop_side.year || ' from '
                    || placement_gaps.workshops || ', whose persons live here too'
        end,
        case when budget_files.year is null then 'no Budget für Arbeit file for the year yet' end,
        case
            when jobcenter_years.year is null then 'no Jobcenter data for the Kreis'
            when jobcenter_side.sb_gl_customers_december is null
                then 'the Jobcenter has not delivered December yet'
            when k07_december.k07_december is null
                then 'K07 for December: ' || coalesce(k07_december.k07_missing_reason, 'no value')
        end,
        case when jobcenter_years.year is not null then overdue_integrations.missing_reason end
    ), '') as missing_reason,
    nullif(concat_ws(
        '; ',
        overdue_transition_notes.notes,
        case
            when
                workshop_decembers.year is not null and december_gaps.kreisschluessel is null
                and workshop_side.waiting_for_review > 0
                then
                    'record pairs with workshop persons await review: '
                    || 'ab_persons and biap_persons may be lower'
        end
    ), '') as note
from workshop_side
inner join regions on workshop_side.kreisschluessel = regions.kreisschluessel
left join workshop_decembers on workshop_side.year = workshop_decembers.year
left join december_gaps
    on
        workshop_side.kreisschluessel = december_gaps.kreisschluessel
        and workshop_side.year = december_gaps.year
left join placement_gaps
    on
        workshop_side.kreisschluessel = placement_gaps.kreisschluessel
        and workshop_side.year = placement_gaps.year
left join overdue_transition_notes
    on
        workshop_side.kreisschluessel = overdue_transition_notes.kreisschluessel
        and workshop_side.year = overdue_transition_notes.year
left join budget_files
    on regions.landschaftsverband = budget_files.landschaftsverband and workshop_side.year = budget_files.year
left join jobcenter_years
    on
        workshop_side.kreisschluessel = jobcenter_years.kreisschluessel
        and workshop_side.year = jobcenter_years.year
left join
    budget
    on workshop_side.kreisschluessel = budget.kreisschluessel and workshop_side.year = budget.year
left join jobcenter_side
    on
        workshop_side.kreisschluessel = jobcenter_side.kreisschluessel
        and workshop_side.year = jobcenter_side.year
left join integration_months
    on
        workshop_side.kreisschluessel = integration_months.kreisschluessel
        and workshop_side.year = integration_months.year
left join {{ ref('int_jobcenter_years') }} as jobcenter_coverage
    on
        workshop_side.kreisschluessel = jobcenter_coverage.jobcenter
        and workshop_side.year = jobcenter_coverage.year
left join overdue_integrations
    on
        workshop_side.kreisschluessel = overdue_integrations.kreisschluessel
        and workshop_side.year = overdue_integrations.year
left join k07_december
    on workshop_side.kreisschluessel = k07_december.kreisschluessel and workshop_side.year = k07_december.year
