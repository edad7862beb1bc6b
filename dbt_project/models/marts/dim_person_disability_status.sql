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

-- Most people keep one status throughout: their one spell is a plain aggregate. Only the others
-- need the ordered window (it sorts all their snapshots), which made this the slowest model.
persons as (
    select
        person_key,
        jobcenter,
        count(distinct row(status, degree_of_disability, is_rehabilitand)) = 1 as has_one_spell,
        any_value(status) as status,
        any_value(degree_of_disability) as degree_of_disability,
        any_value(has_gleichstellung) as has_gleichstellung,
        any_value(is_rehabilitand) as is_rehabilitand,
        min(stichtag) as first_stichtag,
        max(stichtag) as last_stichtag
    from monthly
    group by person_key, jobcenter
),

changes as (
    select
        monthly.*,
        coalesce(
            lag(monthly.status) over by_person != monthly.status
            or lag(monthly.degree_of_disability) over by_person is distinct from monthly.degree_of_disability
            or lag(monthly.is_rehabilitand) over by_person != monthly.is_rehabilitand,
            true
        ) as is_change
    from monthly
    semi join persons
        on
            monthly.person_key = persons.person_key
            and monthly.jobcenter = persons.jobcenter
            and not persons.has_one_spell
    window by_person as (partition by monthly.person_key, monthly.jobcenter order by monthly.stichtag)
),

numbered as (
    select
        *,
        cast(sum(case when is_change then 1 else 0 end) over (
            partition by person_key, jobcenter order by stichtag rows unbounded preceding
        ) as bigint) as spell_no
    from changes
)

select
    person_key,
    jobcenter,
    1 as spell_no,
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
    any_value(has_gleichstellung) as has_gleichstellung,
    any_value(is_rehabilitand) as is_rehabilitand,
    min(stichtag) as first_stichtag,
    max(stichtag) as last_stichtag
from numbered
group by person_key, jobcenter, spell_no
