-- One row per person across agencies (person_id, from the linkage stage: spec/linkage.md), with
-- what the sources say about the person. No name, no birth date.
with appearances as (
    select
        'wfbm_personen' as source_table,
        person_local_key as local_key,
        birth_year,
        sex,
        disability_type,
        residence_kreisschluessel,
        stichtag as seen_on,
        'wfbm' as source_system
    from {{ ref('stg_wfbm__persons') }}
    union all
    select
        'jc_kunden' as source_table,
        kunde_key as local_key,
        birth_year,
        sex,
        cast(null as varchar) as disability_type,
        jobcenter as residence_kreisschluessel,
        stichtag as seen_on,
        'jc' as source_system
    from {{ ref('stg_jc__customers') }}
    union all
    select
        'lv_budget_fuer_arbeit' as source_table,
        case_key as local_key,
        birth_year,
        cast(null as varchar) as sex,
        cast(null as varchar) as disability_type,
        cast(null as varchar) as residence_kreisschluessel,
        start_date as seen_on,
        'lv' as source_system
    from {{ ref('stg_lv__budget_fuer_arbeit_cases') }}
),

-- Each source record summarised first (a person recurs in every monthly snapshot: millions of
-- appearances, ~300,000 records at NRW 5 years), then the records joined to their person. A
-- workshop's or Jobcenter's record has one row per month (their unique keys), so its latest value
-- is unambiguous (Budget für Arbeit cases carry none of these values); a person's records seen on
-- the same day may disagree: then the larger value is taken, the same on every build.
records as (
    select
        source_table,
        local_key,
        any_value(source_system) as source_system,
        min(birth_year) as birth_year,
        max_by(sex, seen_on) filter (where sex is not null) as sex,
        max(seen_on) filter (where sex is not null) as sex_seen_on,
        max_by(disability_type, seen_on) filter (where disability_type is not null) as disability_type,
        max(seen_on) filter (where disability_type is not null) as disability_type_seen_on,
        max_by(residence_kreisschluessel, seen_on) filter (where residence_kreisschluessel is not null)
            as residence,
        max(seen_on) filter (where residence_kreisschluessel is not null) as residence_seen_on,
        min(seen_on) as first_seen_on,
        max(seen_on) as last_seen_on
    from appearances
    group by source_table, local_key
)

select
    person_records.person_id,
    count(*) as source_records,
    min(records.birth_year) as birth_year,
    arg_max(records.sex, row(records.sex_seen_on, records.sex)) filter (where records.sex is not null) as sex,
    arg_max(records.disability_type, row(records.disability_type_seen_on, records.disability_type))
    filter (where records.disability_type is not null) as disability_type,
    arg_max(records.residence, row(records.residence_seen_on, records.residence))
    filter (where records.residence is not null) as latest_residence_kreisschluessel,
    bool_or(records.source_system = 'wfbm') as known_to_workshops,
    bool_or(records.source_system = 'jc') as known_to_jobcenters,
    bool_or(records.source_system = 'lv') as known_to_landschaftsverband,
    min(records.first_seen_on) as first_seen_on,
    max(records.last_seen_on) as last_seen_on
from records
inner join {{ ref('dim_person_records') }} as person_records
    on
        records.source_table = person_records.source_table
        and records.local_key = person_records.local_key
group by person_records.person_id
