-- One row per person across agencies (person_id, from the linkage stage: spec/linkage.md), with
-- what the sources say about the person. No name, no birth date.
-- Each source record is summarised first (a person recurs in every monthly snapshot: millions of
-- appearances, ~300,000 records at NRW 5 years; the workshops' and Jobcenters' records
-- incrementally in int_person_source_records, the few Budget für Arbeit cases here), then joined
-- to their person. A person's records seen on the same day may disagree: then the larger value is
-- taken, the same on every build. Whether a record pair of the person waits for the operator's
-- review, and against which source: the figures counting the person may change (K10, K11, K14).
with records as (
    select
        source_table,
        local_key,
        birth_year,
        sex,
        sex_seen_on,
        disability_type,
        disability_type_seen_on,
        residence,
        residence_seen_on,
        first_seen_on,
        last_seen_on
    from {{ ref('int_person_source_records') }}
    union all
    select
        'lv_budget_fuer_arbeit' as source_table,
        case_key as local_key,
        min(birth_year) as birth_year,
        cast(null as varchar) as sex,
        cast(null as date) as sex_seen_on,
        cast(null as varchar) as disability_type,
        cast(null as date) as disability_type_seen_on,
        cast(null as varchar) as residence,
        cast(null as date) as residence_seen_on,
        min(start_date) as first_seen_on,
        max(start_date) as last_seen_on
    from {{ ref('stg_lv__budget_fuer_arbeit_cases') }}
    group by case_key
),

in_review as (
    select
        person_id,
        bool_or(source_table_across = 'wfbm_personen') as with_workshops,
        bool_or(source_table_across = 'jc_kunden') as with_jobcenters,
        bool_or(source_table_across = 'lv_budget_fuer_arbeit') as with_landschaftsverband
    from {{ ref('stg_linkage__persons_in_review') }}
    group by person_id
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
    bool_or(records.source_table = 'wfbm_personen') as known_to_workshops,
    bool_or(records.source_table = 'jc_kunden') as known_to_jobcenters,
    bool_or(records.source_table = 'lv_budget_fuer_arbeit') as known_to_landschaftsverband,
    min(records.first_seen_on) as first_seen_on,
    max(records.last_seen_on) as last_seen_on,
    coalesce(any_value(in_review.with_workshops), false) as in_review_with_workshops,
    coalesce(any_value(in_review.with_jobcenters), false) as in_review_with_jobcenters,
    coalesce(any_value(in_review.with_landschaftsverband), false) as in_review_with_landschaftsverband
from records
inner join {{ ref('dim_person_records') }} as person_records
    on
        records.source_table = person_records.source_table
        and records.local_key = person_records.local_key
left join in_review on person_records.person_id = in_review.person_id
group by person_records.person_id
