-- The grain of the workshop KPIs: every registered workshop in every year with workshop data.
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
where workshops.is_current
