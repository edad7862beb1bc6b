-- One row per NRW Kreis: the regional roll-up target of every workshop and Jobcenter figure.
select
    kreisschluessel,
    kreis_name,
    kreis_type,
    regierungsbezirk,
    landschaftsverband,
    jobcenter_form,
    kreisschluessel as jobcenter,  -- in NRW each Jobcenter covers exactly one Kreis
    -- The Jobcenter's peer group (Vergleichsgruppe): Jobcenters of the same form in Kreise of the
    -- same type, which the Jobcenter reports compare with rather than with a league table.
    'Jobcenter ' || jobcenter_form || ' in '
    || case when kreis_type = 'kreisfreie Stadt' then 'kreisfreien Städten' else 'Kreisen' end
        as vergleichsgruppe
from {{ ref('stg_reference__kreise') }}
