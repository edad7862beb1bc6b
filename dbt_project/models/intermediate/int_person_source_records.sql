-- Each workshop person and Jobcenter customer summarised over all their monthly snapshots, with
-- what dim_persons takes from them. Grain: source table, local key. Incremental by sender
-- (macros/incremental_senders.sql): a new month extends its sender's records, a correction of an
-- earlier month summarises the sender anew.
{{ config(
    materialized='incremental',
    unique_key=['source_table', 'sender'],
    incremental_strategy='delete+insert',
    post_hook=[
        "{{ delete_unwritten_senders('wfbm', 'sender', \"source_table = 'wfbm_personen'\") }}",
        "{{ delete_unwritten_senders('jc', 'sender', \"source_table = 'jc_kunden'\") }}",
    ],
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

with
{%- if extends_summaries() %}

    workshops as (
        {{ changed_senders('wfbm') }}
    ),

    jobcenters as (
        {{ changed_senders('jc') }}
    ),
{%- endif %}

appearances as (
    select
        'wfbm_personen' as source_table,
        persons.werkstatt_nr as sender,
        persons.person_local_key as local_key,
        persons.birth_year,
        persons.sex,
        persons.disability_type,
        persons.residence_kreisschluessel as residence,
        persons.stichtag as seen_on
    from {{ ref('stg_wfbm__persons') }} as persons
    {{ only_changed_senders('persons', 'werkstatt_nr', 'month', 'workshops') }}
    union all
    select
        'jc_kunden' as source_table,
        customers.jobcenter as sender,
        customers.kunde_key as local_key,
        customers.birth_year,
        customers.sex,
        cast(null as varchar) as disability_type,
        customers.jobcenter as residence,
        customers.stichtag as seen_on
    from {{ ref('stg_jc__customers') }} as customers
    {{ only_changed_senders('customers', 'jobcenter', 'month', 'jobcenters') }}
),

-- A record has one snapshot per month (the sources' unique keys): its latest value is unambiguous.
new_months as (
    select
        source_table,
        sender,
        local_key,
        min(birth_year) as birth_year,
        max_by(sex, seen_on) filter (where sex is not null) as sex,
        max(seen_on) filter (where sex is not null) as sex_seen_on,
        max_by(disability_type, seen_on) filter (where disability_type is not null) as disability_type,
        max(seen_on) filter (where disability_type is not null) as disability_type_seen_on,
        max_by(residence, seen_on) filter (where residence is not null) as residence,
        max(seen_on) filter (where residence is not null) as residence_seen_on,
        min(seen_on) as first_seen_on,
        max(seen_on) as last_seen_on
    from appearances
    group by source_table, sender, local_key
),

summaries as (
    select * from new_months
    {%- if extends_summaries() %}
        union all
        select * exclude (delivered_through) from {{ this }}
        where
            (source_table = 'wfbm_personen' and sender in (select sender from workshops where appends))
            or (source_table = 'jc_kunden' and sender in (select sender from jobcenters where appends))
    {%- endif %}
)

select
    source_table,
    sender,
    local_key,
    min(birth_year) as birth_year,
    arg_max(sex, sex_seen_on) as sex,
    max(sex_seen_on) as sex_seen_on,
    arg_max(disability_type, disability_type_seen_on) as disability_type,
    max(disability_type_seen_on) as disability_type_seen_on,
    arg_max(residence, residence_seen_on) as residence,
    max(residence_seen_on) as residence_seen_on,
    min(first_seen_on) as first_seen_on,
    max(last_seen_on) as last_seen_on,
    {{ delivered_through() }} as delivered_through
from summaries
group by source_table, sender, local_key
