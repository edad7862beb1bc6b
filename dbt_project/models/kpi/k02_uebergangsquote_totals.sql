-- K02 Übergangsquote, Landschaftsverband and NRW totals: the Übergangsquote of the summed transitions and
-- persons, per year (macro kpi_totals).
{{ kpi_totals(
    ref('k02_uebergangsquote'),
    grain='werkstatt',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')},
    part_notes=true
) }}
