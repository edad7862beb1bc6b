-- History of a person's severe-disability status as the Jobcenters report it: one row per status
-- spell (consecutive snapshots with the same gdb, Gleichstellung and Reha status).
with monthly as (
    select
        person_key,
        jobcenter,
        stichtag,
        degree_of_disability,
        has_gleichstellung,
        is_rehabilitand,
        case
            when is_severely_disabled then 'severely_disabled'
            when is_gleichgestellt then 'gleichgestellt'
            else 'other'
        end as status
    from {{ ref('stg_jc__customers') }}
),

changes as (
    select
        *,
        coalesce(
            lag(status) over by_person != status
            or lag(degree_of_disability) over by_person is distinct from degree_of_disability
            or lag(is_rehabilitand) over by_person != is_rehabilitand,
            true
        ) as is_change
    from monthly
    window by_person as (partition by person_key, jobcenter order by stichtag)
),

numbered as (
    select
        *,
        sum(case when is_change then 1 else 0 end) over (
            partition by person_key, jobcenter order by stichtag rows unbounded preceding
        ) as spell_no
    from changes
)

select
    person_key,
    jobcenter,
    spell_no,
    any_value(status) as status,
    any_value(degree_of_disability) as degree_of_disability,
    any_value(has_gleichstellung) as has_gleichstellung,
    any_value(is_rehabilitand) as is_rehabilitand,
    min(stichtag) as first_stichtag,
    max(stichtag) as last_stichtag
from numbered
group by person_key, jobcenter, spell_no
