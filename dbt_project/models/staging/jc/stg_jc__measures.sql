-- Measure spells as delivered each month they are active (massnahmen). Grain: Jobcenter, month, row.
select
    delivery_id,
    sender as jobcenter,
    period as month,
    kunde_key,
    case massnahme
        when 'WAK' then 'werkakademie'
        when 'MAG' then 'employer_measure'
        when 'AGH' then 'work_opportunity'
        when 'FBW' then 'further_training'
        when 'REHA' then 'rehabilitation'
    end as measure,
    eintritt as start_date,
    austritt as end_date,
    arbeitgeber as employer_name,
    arbeitgeber_plz as employer_postcode,
    abbruch = 'J' as is_dropout
from {{ source('landing', 'jc_massnahmen') }}
