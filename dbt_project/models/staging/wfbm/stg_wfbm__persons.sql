-- One row per person and monthly snapshot of a workshop (W-CSV personen / W-XLSX Beschäftigte).
select
    delivery_id,
    sender as werkstatt_nr,
    period as month,
    last_day(cast(period || '-01' as date)) as stichtag,
    person_key,
    person_local_key,
    birth_year,
    case geschlecht when 'm' then 'male' when 'w' then 'female' when 'd' then 'diverse' end as sex,
    wohnort_kreis as residence_kreisschluessel,
    case bereich
        when 'EV' then 'entry_procedure'
        when 'BBB' then 'vocational_training'
        when 'AB' then 'work_area'
    end as area,
    eintritt as entry_date,
    austritt as exit_date,
    case austrittsgrund
        when 'UEB' then 'transition'
        when 'WFB' then 'other_workshop'
        when 'ALA' then 'other_provider'
        when 'REN' then 'retirement'
        when 'TOD' then 'death'
        when 'SON' then 'other'
    end as exit_reason,
    case behinderungsart
        when 'G' then 'intellectual'
        when 'P' then 'mental'
        when 'K' then 'physical'
        when 'S' then 'sensory'
        when 'M' then 'multiple'
        when 'X' then 'not_recorded'
    end as disability_type,
    case kostentraeger
        when 'LWL' then 'lwl'
        when 'LVR' then 'lvr'
        when 'BA' then 'federal_employment_agency'
        when 'DRV' then 'pension_insurance'
        when 'DGUV' then 'accident_insurance'
        when 'SON' then 'other'
    end as cost_bearer,
    arbeitszeit_std as weekly_hours
from {{ source('landing', 'wfbm_personen') }}
