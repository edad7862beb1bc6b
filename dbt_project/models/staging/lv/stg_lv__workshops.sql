-- The Landschaftsverbände's registers of recognised workshops, every version received.
select
    delivery_id,
    sender as landschaftsverband,
    cast(period as date) as register_received_on,
    werkstatt_nr,
    name as workshop_name,
    traeger as operator,
    strasse as street,
    plz as postcode,
    ort as town,
    kreisschluessel,
    plaetze as recognised_places,
    anerkannt_seit as recognised_since
from {{ source('landing', 'lv_werkstaetten') }}
