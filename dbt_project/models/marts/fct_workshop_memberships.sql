-- Workshop membership spells built from the monthly snapshots: one row per workshop, person and
-- Eintritt (a return starts a new membership under the same Personennummer). The exit is the last
-- one delivered; a membership still running has none. Summarised by int_workshop_memberships; the
-- person as the linkage stage recognises them today (it may join or split people on any run).
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
from {{ ref('int_workshop_memberships') }} as memberships
left join {{ ref('dim_person_records') }} as records
    on records.source_table = 'wfbm_personen' and memberships.person_local_key = records.local_key
