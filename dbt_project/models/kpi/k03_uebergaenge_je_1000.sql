-- K03 Übergänge je 1.000: K02 * 10, derived from the unrounded K02 (transitions in Y per 1,000
-- persons in AB on 31.12.(Y-1)). Grain: workshop, year.
select
    werkstatt_nr,
    landschaftsverband,
    kreisschluessel,
    year,
    numerator,
    denominator,
    {{ rounded_ratio('numerator * 1000', 'denominator') }} as value,
    is_provisional,
    missing_reason,
    note
from {{ ref('k02_uebergangsquote') }}
