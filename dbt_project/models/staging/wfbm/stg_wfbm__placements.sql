-- One row per placement in a company and monthly file (Außenarbeitsplätze), active in that month.
select
    delivery_id,
    sender as werkstatt_nr,
    period as month,
    last_day(cast(period || '-01' as date)) as stichtag,
    person_local_key,
    case art
        when 'BIAP' then 'single_placement'
        when 'BIG' then 'group_placement'
        when 'PRA' then 'internship'
    end as placement_kind,
    art in ('BIAP', 'BIG') as is_biap,
    betrieb as employer_name,
    betrieb_plz as employer_postcode,
    branche_wz as industry_wz,
    beginn as start_date,
    ende as end_date,
    std_woche as weekly_hours,
    jobcoach as job_coach
from {{ source('landing', 'wfbm_aussenarbeitsplaetze') }}
