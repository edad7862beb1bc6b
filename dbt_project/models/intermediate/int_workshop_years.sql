-- The grain of the workshop KPIs: every registered workshop in every year with workshop data from
-- the year it was recognised ("anerkannt seit"). A workshop recognised in October 2024 has no row
-- for 2023: it had no figures to send, and its missing ones would leave the Landschaftsverband's
-- and NRW's totals of 2023 without a value.
with years as (
    select distinct cast(left(period, 4) as integer) as year
    from {{ ref('stg_ops__deliveries') }}
    where source_system = 'wfbm'
)

select
    workshops.werkstatt_nr,
    workshops.landschaftsverband,
    workshops.kreisschluessel,
    years.year
from {{ ref('dim_workshops') }} as workshops
cross join years
where
    workshops.is_current
    and coalesce(year(workshops.recognised_since), 0) <= years.year
