-- K08 Werkakademie-Integrationsquote, Landschaftsverband and NRW totals: the rate of the summed entrants,
-- per year (macro kpi_totals).
{{ kpi_totals(
    ref('k08_werkakademie_integrationsquote'),
    grain='jobcenter',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')}
) }}
