-- K04 Rückkehrquote, Landschaftsverband and NRW totals: the Rückkehrquote of the summed transitions, per
-- year (macro kpi_totals).
{{ kpi_totals(
    ref('k04_rueckkehrquote'),
    grain='werkstatt',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')},
    part_notes=true
) }}
