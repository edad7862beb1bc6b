-- Workshop membership spells built from the monthly snapshots: one row per workshop, person and
-- Eintritt (a return starts a new membership under the same Personennummer). The exit is the last
-- one delivered; a membership still running has none.
select
    persons.werkstatt_nr,
    persons.person_local_key,
    any_value(persons.person_key) as person_key,
    any_value(records.person_id) as person_id,
    persons.entry_date,
    max(persons.exit_date) as exit_date,
    arg_max(persons.exit_reason, persons.stichtag) as exit_reason,
    arg_max(persons.area, persons.stichtag) as last_area,
    min(persons.month) as first_month_seen,
    max(persons.month) as last_month_seen,
    count(*) as snapshots
from {{ ref('stg_wfbm__persons') }} as persons
left join {{ ref('dim_person_records') }} as records
    on records.source_table = 'wfbm_personen' and persons.person_local_key = records.local_key
group by persons.werkstatt_nr, persons.person_local_key, persons.entry_date
