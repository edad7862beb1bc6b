-- K03 Übergänge je 1.000, Landschaftsverband and NRW totals: transitions per 1,000 of the summed figures,
-- per year (macro kpi_totals).
{{ kpi_totals(
    ref('k03_uebergaenge_je_1000'),
    grain='werkstatt',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': rounded_ratio('numerator * 1000', 'denominator')},
    part_notes=true
) }}
