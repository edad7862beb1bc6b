-- K06 Zielgruppenbestand, Landschaftsverband and NRW totals: sums of the Jobcenters' stocks, per month
-- (macro kpi_totals).
{{ kpi_totals(
    ref('k06_zielgruppenbestand'),
    grain='jobcenter',
    period='month',
    counts=['sb', 'gl', 'rehabilitanden', 'any_target']
) }}
