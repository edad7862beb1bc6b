-- The Jobcenters' target-group customers on each Stichtag (kunden). Grain: Jobcenter, month, customer.
select
    delivery_id,
    sender as jobcenter,
    period as month,
    last_day(cast(period || '-01' as date)) as stichtag,
    person_key,
    kunde_key,
    birth_year,
    case geschlecht when 'M' then 'male' when 'W' then 'female' when 'D' then 'diverse' end as sex,
    gdb as degree_of_disability,
    gleichstellung = 'J' as has_gleichstellung,
    rehabilitand = 'J' as is_rehabilitand,
    arbeitslos = 'J' as is_unemployed,
    elb_seit as benefit_since,
    coalesce(gdb >= 50, false) as is_severely_disabled,
    coalesce(gdb between 30 and 40 and gleichstellung = 'J', false) as is_gleichgestellt
from {{ source('landing', 'jc_kunden') }}
