select
    kreisschluessel,
    name as kreis_name,
    typ as kreis_type,
    regierungsbezirk,
    landschaftsverband,
    jobcenter_form
from {{ ref('nrw_kreise') }}
