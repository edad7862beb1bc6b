-- The yearly files each Landschaftsverband has delivered (Budget für Arbeit cases,
-- Leistungsdokumentation): a year without its file is missing in the KPIs built on it, never zero.
select distinct
    sender as landschaftsverband,
    part,
    cast(period as integer) as year
from {{ ref('stg_ops__deliveries') }}
where format in ('lv_bfa', 'lv_ld')
