-- K10 Übergang, dann arbeitslos, NRW total (the grain already is the Landschaftsverband): the rate of the
-- summed transitions, per year.
{{ kpi_totals(
    ref('k10_uebergang_dann_arbeitslos'),
    grain='landschaftsverband',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')}
) }}
