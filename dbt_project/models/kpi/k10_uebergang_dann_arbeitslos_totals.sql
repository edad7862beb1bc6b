-- K10 Übergang, dann arbeitslos, NRW total (the grain already is the Landschaftsverband): the rate of the
-- summed transitions, per year; it says in how many Landschaftsverbände the numerator may be higher.
{{ kpi_totals(
    ref('k10_uebergang_dann_arbeitslos'),
    grain='landschaftsverband',
    period='year',
    counts=['numerator', 'denominator'],
    rates={'value': percent('numerator', 'denominator')},
    part_notes=true
) }}
