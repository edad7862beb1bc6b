-- History of a person's severe-disability status as the Jobcenters report it: one row per status
-- spell (consecutive snapshots with the same gdb, Gleichstellung and Reha status). Incremental by
-- Jobcenter (macros/incremental_senders.sql): a new month continues each person's last spell or
-- opens the next; a correction of an earlier month builds the Jobcenter's spells anew.
{{ config(
    materialized='incremental',
    unique_key=['jobcenter'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_unwritten_senders('jc', 'jobcenter') }}",
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

with
{%- if extends_summaries() %}

    senders as (
        {{ changed_senders('jc') }}
    ),
{%- endif %}

monthly as (
    select
        customers.person_key,
        customers.jobcenter,
        customers.stichtag,
        customers.degree_of_disability,
        customers.has_gleichstellung,
        customers.is_rehabilitand,
        case
            when customers.is_severely_disabled then 'severely_disabled'
            when customers.is_gleichgestellt then 'gleichgestellt'
            else 'other'
        end as status,
        cast(null as date) as first_stichtag,
        0 as spells_before
    from {{ ref('stg_jc__customers') }} as customers
    {{ only_changed_senders('customers', 'jobcenter', 'month') }}
),

{%- if extends_summaries() %}

summarised as (
    select * exclude (delivered_through) from {{ this }}
    where jobcenter in (select sender from senders where appends)
),

-- The last spell of each person a Jobcenter's new months name: it leads their snapshots as one
-- more, which the new months continue (same status) or close.
continued as (
    select summarised.*
    from summarised
    semi join monthly
        on summarised.person_key = monthly.person_key and summarised.jobcenter = monthly.jobcenter
    qualify summarised.spell_no = max(summarised.spell_no) over (
        partition by summarised.person_key, summarised.jobcenter
    )
),
{%- endif %}

snapshots as (
    select * from monthly
    {%- if extends_summaries() %}
        union all
        select
            person_key,
            jobcenter,
            last_stichtag as stichtag,
            degree_of_disability,
            has_gleichstellung,
            is_rehabilitand,
            status,
            first_stichtag,
            spell_no - 1 as spells_before
        from continued
    {%- endif %}
),

-- Most people keep one status throughout: their one spell is a plain aggregate. Only the others
-- need the ordered window (it sorts all their snapshots), which made this the slowest model.
persons as (
    select
        person_key,
        jobcenter,
        count(distinct row(status, degree_of_disability, is_rehabilitand)) = 1 as has_one_spell,
        any_value(status) as status,
        any_value(degree_of_disability) as degree_of_disability,
        arg_max(has_gleichstellung, stichtag) as has_gleichstellung,
        any_value(is_rehabilitand) as is_rehabilitand,
        min(coalesce(first_stichtag, stichtag)) as first_stichtag,
        max(stichtag) as last_stichtag,
        max(spells_before) as spells_before
    from snapshots
    group by person_key, jobcenter
),

changes as (
    select
        snapshots.*,
        persons.spells_before as person_spells_before,
        coalesce(
            lag(snapshots.status) over by_person != snapshots.status
            or lag(snapshots.degree_of_disability) over by_person
            is distinct from snapshots.degree_of_disability
            or lag(snapshots.is_rehabilitand) over by_person != snapshots.is_rehabilitand,
            true
        ) as is_change
    from snapshots
    inner join persons
        on
            snapshots.person_key = persons.person_key
            and snapshots.jobcenter = persons.jobcenter
            and not persons.has_one_spell
    window by_person as (partition by snapshots.person_key, snapshots.jobcenter order by snapshots.stichtag)
),

numbered as (
    select
        *,
        cast(sum(case when is_change then 1 else 0 end) over (
            partition by person_key, jobcenter order by stichtag rows unbounded preceding
        ) as bigint) + person_spells_before as spell_no
    from changes
),

spells as (
    select
        person_key,
        jobcenter,
        cast(1 + spells_before as bigint) as spell_no,
        status,
        degree_of_disability,
        has_gleichstellung,
        is_rehabilitand,
        first_stichtag,
        last_stichtag
    from persons
    where has_one_spell

    union all

    select
        person_key,
        jobcenter,
        spell_no,
        any_value(status) as status,
        any_value(degree_of_disability) as degree_of_disability,
        arg_max(has_gleichstellung, stichtag) as has_gleichstellung,
        any_value(is_rehabilitand) as is_rehabilitand,
        min(coalesce(first_stichtag, stichtag)) as first_stichtag,
        max(stichtag) as last_stichtag
    from numbered
    group by person_key, jobcenter, spell_no
    {%- if extends_summaries() %}

        union all

        select summarised.*
        from summarised
        anti join continued
            on
                summarised.person_key = continued.person_key
                and summarised.jobcenter = continued.jobcenter
                and summarised.spell_no = continued.spell_no
    {%- endif %}
)

select
    *,
    {{ delivered_through() }} as delivered_through
from spells
