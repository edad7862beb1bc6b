-- K01 BiAp-Quote, Landschaftsverband and NRW totals: the BiAp-Quote of the summed persons, per year (macro
-- kpi_totals).
{{ kpi_totals(
    ref('k01_biap_quote'),
    grain='werkstatt',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')}
) }}
