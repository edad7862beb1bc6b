-- One row per NRW Kreis: the regional roll-up target of every workshop and Jobcenter figure.
select
    kreisschluessel,
    kreis_name,
    kreis_type,
    regierungsbezirk,
    landschaftsverband,
    jobcenter_form,
    kreisschluessel as jobcenter  -- in NRW each Jobcenter covers exactly one Kreis
from {{ ref('stg_reference__kreise') }}
