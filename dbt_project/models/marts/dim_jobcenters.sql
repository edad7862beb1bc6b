-- One row per Jobcenter that delivers (in NRW each covers exactly one Kreis; its key is the Kreis').
select
    regions.jobcenter,
    regions.kreisschluessel,
    regions.kreis_name,
    regions.landschaftsverband,
    regions.jobcenter_form,
    min(deliveries.period) as first_month_loaded,
    max(deliveries.period) as last_month_loaded
from {{ ref('dim_regions') }} as regions
inner join {{ ref('stg_ops__deliveries') }} as deliveries
    on regions.jobcenter = deliveries.sender and deliveries.source_system = 'jc'
group by all
