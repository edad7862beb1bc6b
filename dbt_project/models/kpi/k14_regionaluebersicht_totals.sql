-- K14 Regionalübersicht NRW inklusiv, Landschaftsverband and NRW totals: sums of the Kreise' figures (K07
-- for December has no total), per year (macro kpi_totals); it says in how many Kreise the persons
-- may be fewer (pairs in review).
{{ kpi_totals(
    ref('k14_regionaluebersicht'),
    grain='kreis',
    period='year',
    counts=[
        'ab_persons', 'biap_persons', 'transitions', 'budget_fuer_arbeit_active',
        'sb_gl_customers_december', 'sb_gl_integration_months'
    ],
    part_notes=true
) }}
