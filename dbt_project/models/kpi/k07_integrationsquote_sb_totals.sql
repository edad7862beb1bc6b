-- K07 Integrationsquote SB/GL, Landschaftsverband and NRW totals: the rate of the summed integration months
-- over the summed (rounded) mean stocks, per month (macro kpi_totals).
{{ kpi_totals(
    ref('k07_integrationsquote_sb'),
    grain='jobcenter',
    period='month',
    counts=['numerator', 'denominator'],
    count_types={'denominator': 'decimal(18, 2)'},
    rates={'value': percent('numerator * 100', 'cast(denominator * 100 as bigint)')}
) }}
