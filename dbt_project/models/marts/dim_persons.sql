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

linked as (
    select
        records.person_id,
        appearances.*
    from appearances
    inner join {{ ref('dim_person_records') }} as records
        on appearances.source_table = records.source_table and appearances.local_key = records.local_key
)

select
    person_id,
    count(distinct source_table || local_key) as source_records,
    min(birth_year) as birth_year,
    arg_max(sex, seen_on) filter (where sex is not null) as sex,
    arg_max(disability_type, seen_on) filter (where disability_type is not null) as disability_type,
    arg_max(residence_kreisschluessel, seen_on) filter (where residence_kreisschluessel is not null)
        as latest_residence_kreisschluessel,
    bool_or(source_system = 'wfbm') as known_to_workshops,
    bool_or(source_system = 'jc') as known_to_jobcenters,
    bool_or(source_system = 'lv') as known_to_landschaftsverband,
    min(seen_on) as first_seen_on,
    max(seen_on) as last_seen_on
from linked
group by person_id
