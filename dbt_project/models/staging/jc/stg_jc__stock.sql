-- Totals of the Jobcenters for denominators (bestand). Grain: Jobcenter, month, sex.
select
    delivery_id,
    sender as jobcenter,
    monat as month,
    case geschlecht when 'M' then 'male' when 'W' then 'female' when 'D' then 'diverse' end as sex,
    elb as benefit_recipients,
    arbeitslose as unemployed
from {{ source('landing', 'jc_bestand') }}
