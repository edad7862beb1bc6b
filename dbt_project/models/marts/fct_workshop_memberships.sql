-- Workshop membership spells built from the monthly snapshots: one row per workshop, person and
-- Eintritt (a return starts a new membership under the same Personennummer). The exit is the last
-- one delivered; a membership still running has none. The snapshots are summarised before the
-- person is looked up: one join per membership, not per snapshot.
with memberships as (
    select
        werkstatt_nr,
        person_local_key,
        any_value(person_key) as person_key,
        entry_date,
        max(exit_date) as exit_date,
        arg_max(exit_reason, stichtag) as exit_reason,
        arg_max(area, stichtag) as last_area,
        min(month) as first_month_seen,
        max(month) as last_month_seen,
        count(*) as snapshots
    from {{ ref('stg_wfbm__persons') }}
    group by werkstatt_nr, person_local_key, entry_date
)

select
    memberships.werkstatt_nr,
    memberships.person_local_key,
    memberships.person_key,
    records.person_id,
    memberships.entry_date,
    memberships.exit_date,
    memberships.exit_reason,
    memberships.last_area,
    memberships.first_month_seen,
    memberships.last_month_seen,
    memberships.snapshots
from memberships
left join {{ ref('dim_person_records') }} as records
    on records.source_table = 'wfbm_personen' and memberships.person_local_key = records.local_key
