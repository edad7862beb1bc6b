-- K09 Übernahmequote Praktikum, Landschaftsverband and NRW totals: the rate of the summed spells, per year
-- (macro kpi_totals).
{{ kpi_totals(
    ref('k09_uebernahmequote_praktikum'),
    grain='jobcenter',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')}
) }}
